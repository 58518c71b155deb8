"""An FPN + RetinaNet-style head; the box decoding post-process runs under irq.wrap.

The head's conv towers are shared across pyramid levels (one module called once per
level), which the model check must report as shared modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import irq


@irq.wrap
def decode(cls_logits: list[Tensor], box_deltas: list[Tensor], score_thresh: float = 0.05) -> tuple[Tensor, Tensor]:
    """Score and box per anchor above a threshold: data-dependent, so it must stay opaque to tracing."""
    scores = torch.cat([c.flatten(2) for c in cls_logits], dim=2).sigmoid()
    boxes = torch.cat([b.flatten(2) for b in box_deltas], dim=2)
    best, _ = scores.max(dim=1)
    if bool((best > score_thresh).any()):
        keep = best > score_thresh
        best = torch.where(keep, best, torch.zeros_like(best))
    return best, boxes.tanh() * 4.0


class Backbone(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        chans = [3, width, width * 2, width * 4]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1, bias=False),
                          nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True)) for i in range(3))

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class FPN(nn.Module):
    def __init__(self, in_channels: list[int], out: int = 16) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, out, 1) for c in in_channels)
        self.output = nn.ModuleList(nn.Conv2d(out, out, 3, padding=1) for _ in in_channels)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        laterals = [lat(f) for lat, f in zip(self.lateral, feats)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], scale_factor=2.0, mode="nearest")
        return [conv(x) for conv, x in zip(self.output, laterals)]


class Head(nn.Module):
    def __init__(self, channels: int = 16, num_anchors: int = 3, num_classes: int = 4) -> None:
        super().__init__()
        self.cls_tower = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.box_tower = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.cls_logits = nn.Conv2d(channels, num_anchors * num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(channels, num_anchors * 4, 3, padding=1)

    def forward(self, feats: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        cls = [self.cls_logits(self.cls_tower(f)) for f in feats]
        box = [self.bbox_pred(self.box_tower(f)) for f in feats]
        return cls, box


class RetinaNetLite(nn.Module):
    def __init__(self, width: int = 8, post_process: bool = True) -> None:
        super().__init__()
        self.backbone = Backbone(width)
        self.neck = FPN([width, width * 2, width * 4])
        self.head = Head()
        self.post_process = post_process

    def forward(self, x: Tensor):
        cls, box = self.head(self.neck(self.backbone(x)))
        if not self.post_process:
            return cls, box
        return decode(cls, box)
