"""The fixed MobileNetV2 crop sets: one calibration set and one evaluation set, shared by the bench and the demo.

    calib = calibration_crops(32)     # [32, 3, 224, 224], normalized for ImageNet
    evals = evaluation_crops(128)     # the first 128 of evaluation_crops(256): a larger count extends the set

Square windows (25-90% of the short side, half of them flipped) of scikit-image's bundled photos, resized
to 224 with antialiasing and normalized with ImageNet's mean/std. Calibration windows are drawn with seed 0,
evaluation windows with seed 1, crop i from photo i mod 9, so a set of n crops is always the first n of a
larger one and bench/ptq_accuracy.py, bench/ptq_levers.py and examples/demo.py measure the same pixels.

The two sets share no window: `crop_boxes` checks it (and `calibration_crops`/`evaluation_crops` refuse to
return a set that overlaps the other's first `DISJOINT_CHECK` windows). They are different windows of the
same 9 photos, not pixel-disjoint images: agreement measured here is "other views of photos seen in
calibration", the setting of the recorded figures since 2026-11-30.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
CALIBRATION_SEED = 0
EVALUATION_SEED = 1
#: how many windows of each set the disjointness check covers (more than any run uses)
DISJOINT_CHECK = 512

#: (photo index, top, left, side, flipped)
Box = tuple[int, int, int, int, bool]


@lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    from skimage import data
    out = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "cat", "hubble_deep_field", "immunohistochemistry",
                 "colorwheel", "logo", "stereo_motorcycle"):
        try:
            img = getattr(data, name)()
        except Exception:  # noqa: BLE001 - a photo that needs the network is simply not used
            continue
        img = img[0] if isinstance(img, tuple) else img
        if img.ndim == 3 and img.shape[2] >= 3:
            out.append(np.ascontiguousarray(img[..., :3]))
    return tuple(out)


def photos() -> list[np.ndarray]:
    """The RGB photos scikit-image ships (those that need a download are skipped)."""
    return list(_photos())


def crop_boxes(images: list[np.ndarray], n: int, seed: int) -> list[Box]:
    """The first n windows drawn with `seed`: the same draw order whatever n is (a prefix of any larger n)."""
    rng = np.random.default_rng(seed)
    boxes = []
    for i in range(n):
        h, w = images[i % len(images)].shape[:2]
        side = int(min(h, w) * rng.uniform(0.25, 0.9))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        boxes.append((i % len(images), y, x, side, bool(rng.random() < 0.5)))
    return boxes


def render(images: list[np.ndarray], boxes: list[Box]) -> torch.Tensor:
    """The windows as one normalized [n, 3, 224, 224] float32 batch."""
    batch = []
    for p, y, x, side, flipped in boxes:
        t = torch.from_numpy(images[p][y:y + side, x:x + side]).permute(2, 0, 1).float().unsqueeze(0) / 255.0
        if flipped:
            t = t.flip(-1)
        batch.append(F.interpolate(t, size=(224, 224), mode="bilinear", align_corners=False, antialias=True))
    return (torch.cat(batch) - MEAN) / STD


def crops(images: list[np.ndarray], n: int, seed: int) -> torch.Tensor:
    """n windows drawn with `seed` (bench/ptq_accuracy.py's historical helper; the fixed sets use it)."""
    return render(images, crop_boxes(images, n, seed))


@lru_cache(maxsize=1)
def _check_disjoint() -> None:
    images = photos()
    shared = set(crop_boxes(images, DISJOINT_CHECK, CALIBRATION_SEED)) & set(
        crop_boxes(images, DISJOINT_CHECK, EVALUATION_SEED))
    if shared:
        raise AssertionError(f"calibration and evaluation crops share windows {sorted(shared)[:3]}")


def calibration_crops(n: int = 32) -> torch.Tensor:
    """The first n calibration windows (seed 0), disjoint from every evaluation window."""
    if n > DISJOINT_CHECK:
        raise ValueError(f"at most {DISJOINT_CHECK} calibration crops (the disjointness check's range)")
    _check_disjoint()
    return crops(photos(), n, CALIBRATION_SEED)


def evaluation_crops(n: int = 128) -> torch.Tensor:
    """The first n evaluation windows (seed 1), disjoint from every calibration window."""
    if n > DISJOINT_CHECK:
        raise ValueError(f"at most {DISJOINT_CHECK} evaluation crops (the disjointness check's range)")
    _check_disjoint()
    return crops(photos(), n, EVALUATION_SEED)
