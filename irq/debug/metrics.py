"""Similarity between a reference tensor and an approximation of it, in float64 so the metric
itself adds no error at int8-level differences."""

from __future__ import annotations

import numpy as np


def _flat(t) -> np.ndarray:
    a = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
    return a.astype(np.float64).ravel()


def cosine(ref, approx) -> float:
    """Cosine similarity; 1.0 when both are all zeros (identical), 0.0 when only one is."""
    a, b = _flat(ref), _flat(approx)
    if a.shape != b.shape:
        raise ValueError(f"cosine of tensors with different sizes: {a.size} and {b.size}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def max_abs_error(ref, approx) -> float:
    return float(np.max(np.abs(_flat(ref) - _flat(approx)), initial=0.0))


def l1_error(ref, approx) -> float:
    """Mean absolute error (L1 normalised by element count, so layers of any size compare)."""
    d = np.abs(_flat(ref) - _flat(approx))
    return float(d.mean()) if d.size else 0.0
