"""Tests written to kill the mutants of passes/lower_bpu.py that bench/mutation.py found surviving."""
