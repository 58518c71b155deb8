"""The fixed MobileNetV2 crop sets (bench/imagenet_crops.py) that the bench and the demo both measure.

What users rely on: a figure quoted from the demo and one from the bench are measured on the same
pixels, a larger count only adds crops, and no evaluation crop was seen in calibration (an overlap
would flatter every PTQ figure: the calibrated ranges would have seen the test windows).
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("skimage")

from bench import imagenet_crops  # noqa: E402


def test_calibration_and_evaluation_windows_are_disjoint():
    images = imagenet_crops.photos()
    calib = imagenet_crops.crop_boxes(images, 256, imagenet_crops.CALIBRATION_SEED)
    evals = imagenet_crops.crop_boxes(images, 256, imagenet_crops.EVALUATION_SEED)
    assert len(set(calib)) == 256 and len(set(evals)) == 256
    assert not set(calib) & set(evals)
    x, y = imagenet_crops.calibration_crops(8), imagenet_crops.evaluation_crops(8)
    # no evaluation image equals (or nearly equals) a calibration image
    assert torch.cdist(x.flatten(1), y.flatten(1)).min() > 1.0


def test_a_larger_set_extends_a_smaller_one_and_is_reproducible():
    small, large = imagenet_crops.evaluation_crops(6), imagenet_crops.evaluation_crops(12)
    assert small.shape == (6, 3, 224, 224) and torch.equal(large[:6], small)
    assert torch.equal(imagenet_crops.calibration_crops(4), imagenet_crops.calibration_crops(4))


def test_the_overlap_check_refuses_overlapping_seeds(monkeypatch):
    monkeypatch.setattr(imagenet_crops, "EVALUATION_SEED", imagenet_crops.CALIBRATION_SEED)
    imagenet_crops._check_disjoint.cache_clear()
    try:
        with pytest.raises(AssertionError, match="share windows"):
            imagenet_crops.evaluation_crops(2)
    finally:
        imagenet_crops._check_disjoint.cache_clear()

