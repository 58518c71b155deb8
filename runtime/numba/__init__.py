"""The Numba runtime: executes bpu programs with exact fixed-point integers, fast (docs/design.md)."""
