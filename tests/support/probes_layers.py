"""Frontend probes of weighted layers, normalization, data-movement modules, attention, and in-place
mutation read afterwards (refused where the frontend cannot express it exactly).
Registered into probe_harness.PROBES; run by tests/test_frontend_probes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from support.probe_harness import X2, X3, X4, ints, pos, probe


# -- weighted layers ------------------------------------------------------------------------------
def _w(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(shape) * 0.3)


probe(
    "F.conv2d",
    lambda m, x: F.conv2d(x, m.w, m.b, stride=2, padding=1),
    X4,
    mods=lambda: {"w": _w(6, 4, 3, 3), "b": _w(6)},
)
probe(
    "F.conv2d same groups",
    lambda m, x: F.conv2d(x, m.w, None, padding="same", groups=2),
    X4,
    mods=lambda: {"w": _w(6, 2, 3, 3)},
)
probe(
    "F.conv2d valid dilation",
    lambda m, x: F.conv2d(x, m.w, padding="valid", dilation=2),
    X4,
    mods=lambda: {"w": _w(3, 4, 3, 3)},
)
probe("torch.conv2d", lambda m, x: torch.conv2d(x, m.w, m.b, 1, 1), X4, mods=lambda: {"w": _w(5, 4, 3, 3), "b": _w(5)})
probe("nn.Conv2d", lambda m, x: m.c(x), X4, mods=lambda: {"c": nn.Conv2d(4, 6, 3, 2, 1)})
probe(
    "nn.Conv2d reflect",
    lambda m, x: m.c(x),
    X4,
    mods=lambda: {"c": nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect")},
)
probe(
    "nn.Conv2d circular",
    lambda m, x: m.c(x),
    X4,
    mods=lambda: {"c": nn.Conv2d(4, 4, 3, padding=2, dilation=2, padding_mode="circular", groups=4)},
)
probe("F.conv1d", lambda m, x: F.conv1d(x, m.w, m.b, padding=1), X3, mods=lambda: {"w": _w(4, 5, 3), "b": _w(4)})
probe("torch.conv1d", lambda m, x: torch.conv1d(x, m.w, stride=2), X3, mods=lambda: {"w": _w(4, 5, 2)})
probe("F.conv1d same", lambda m, x: F.conv1d(x, m.w, padding="same"), X3, mods=lambda: {"w": _w(4, 5, 3)})
probe("nn.Conv1d", lambda m, x: m.c(x), X3, mods=lambda: {"c": nn.Conv1d(5, 3, 3, padding=1)})
probe(
    "F.conv_transpose2d",
    lambda m, x: F.conv_transpose2d(x, m.w, m.b, stride=2, padding=1, output_padding=1),
    X4,
    mods=lambda: {"w": _w(4, 3, 3, 3), "b": _w(3)},
)
probe(
    "torch.conv_transpose2d",
    lambda m, x: torch.conv_transpose2d(x, m.w, None, 2),
    X4,
    mods=lambda: {"w": _w(4, 2, 2, 2)},
)
probe(
    "nn.ConvTranspose2d",
    lambda m, x: m.c(x),
    X4,
    mods=lambda: {"c": nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)},
)
probe("F.linear", lambda m, x: F.linear(x, m.w, m.b), X3, mods=lambda: {"w": _w(3, 6), "b": _w(3)})
probe("nn.Linear", lambda m, x: m.fc(x), X3, mods=lambda: {"fc": nn.Linear(6, 4)})
probe("nn.Linear no bias", lambda m, x: m.fc(x), X2, mods=lambda: {"fc": nn.Linear(4, 2, bias=False)})
probe("nn.Embedding", lambda m, i: m.e(i), ints(2, 5), mods=lambda: {"e": nn.Embedding(10, 4)})
probe(
    "nn.Embedding padding_idx", lambda m, i: m.e(i), ints(2, 5), mods=lambda: {"e": nn.Embedding(10, 4, padding_idx=0)}
)
probe("F.embedding", lambda m, i: F.embedding(i, m.w), ints(7), mods=lambda: {"w": _w(10, 3)})

# -- normalization --------------------------------------------------------------------------------
probe("nn.BatchNorm2d", lambda m, x: m.bn(x), X4, mods=lambda: {"bn": nn.BatchNorm2d(4)})
probe("nn.BatchNorm1d", lambda m, x: m.bn(x), X2, mods=lambda: {"bn": nn.BatchNorm1d(4)})
probe("nn.BatchNorm1d 3d", lambda m, x: m.bn(x), X3, mods=lambda: {"bn": nn.BatchNorm1d(5, affine=False)})
# what `SyncBatchNorm.convert_sync_batchnorm` leaves in a model; in eval it is a plain batch norm
probe("nn.SyncBatchNorm", lambda m, x: m.bn(x), X4, mods=lambda: {"bn": nn.SyncBatchNorm(4)})
probe(
    "F.batch_norm",
    lambda m, x: F.batch_norm(x, m.rm, m.rv, m.w, m.b, False, 0.1, 1e-3),
    X4,
    mods=lambda: {"rm": torch.randn(4) * 0.1, "rv": torch.rand(4) + 0.5, "w": _w(4), "b": _w(4)},
)
probe(
    "conv bn relu fused",
    lambda m, x: F.relu(m.bn(m.c(x))) + x,
    X4,
    mods=lambda: {"c": nn.Conv2d(4, 4, 3, padding=1), "bn": nn.BatchNorm2d(4)},
)
probe("nn.LayerNorm", lambda m, x: m.ln(x), X3, mods=lambda: {"ln": nn.LayerNorm(6)})
probe("nn.LayerNorm 2 dims", lambda m, x: m.ln(x), X3, mods=lambda: {"ln": nn.LayerNorm((5, 6), eps=1e-3)})
probe("F.layer_norm", lambda m, x: F.layer_norm(x, (6,), m.w), X3, mods=lambda: {"w": _w(6)})
probe("nn.GroupNorm", lambda m, x: m.gn(x), X4, mods=lambda: {"gn": nn.GroupNorm(2, 4)})
probe("F.group_norm", lambda m, x: F.group_norm(x, 4, eps=1e-3), X4)
probe("nn.InstanceNorm2d", lambda m, x: m.n(x), X4, mods=lambda: {"n": nn.InstanceNorm2d(4)})
probe("nn.InstanceNorm2d affine", lambda m, x: m.n(x), X4, mods=lambda: {"n": nn.InstanceNorm2d(4, affine=True)})
probe(
    "nn.InstanceNorm2d running",
    lambda m, x: m.n(x),
    X4,
    mods=lambda: {"n": nn.InstanceNorm2d(4, track_running_stats=True)},
)
probe("nn.InstanceNorm1d", lambda m, x: m.n(x), X3, mods=lambda: {"n": nn.InstanceNorm1d(5)})
probe("nn.InstanceNorm3d", lambda m, x: m.n(x), (1, 2, 3, 4, 5), mods=lambda: {"n": nn.InstanceNorm3d(2)})
probe("F.instance_norm", lambda m, x: F.instance_norm(x, eps=1e-3), X4)
probe("nn.PReLU", lambda m, x: m.p(x), X4, mods=lambda: {"p": nn.PReLU()})
probe("nn.PReLU channels", lambda m, x: m.p(x), X4, mods=lambda: {"p": nn.PReLU(4, init=0.1)})
probe("F.prelu", lambda m, x: F.prelu(x, m.w), X4, mods=lambda: {"w": _w(4)})

probe("0-d parameter", lambda m, x: x * m.s + m.b, X3, mods=lambda: {"s": _w(), "b": torch.tensor(0.25)})

# -- data movement modules ----------------------------------------------------------------------
probe("nn.PixelShuffle", lambda m, x: m.ps(x), X4, mods=lambda: {"ps": nn.PixelShuffle(2)})
probe("F.pixel_shuffle", lambda m, x: F.pixel_shuffle(x, 2), X4)
probe("nn.PixelUnshuffle", lambda m, x: m.ps(x), X4, mods=lambda: {"ps": nn.PixelUnshuffle(2)})
probe("F.pixel_unshuffle", lambda m, x: F.pixel_unshuffle(x, 4), X4)
probe("nn.Dropout", lambda m, x: m.d(x), X4, mods=lambda: {"d": nn.Dropout(0.3)})
probe("F.dropout eval", lambda m, x: F.dropout(x, 0.5, training=False), X4)
for _cls in (nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.FeatureAlphaDropout):  # eval: the identity
    probe(
        f"nn.{_cls.__name__}",
        lambda m, x: m.d(x),
        X3 if _cls is nn.Dropout1d else X4,
        mods=lambda c=_cls: {"d": c(0.3)},
    )
probe("nn.Dropout3d", lambda m, x: m.d(x.unsqueeze(2)).squeeze(2), X4, mods=lambda: {"d": nn.Dropout3d(0.3)})
probe("F.dropout1d eval", lambda m, x: F.dropout1d(x, 0.5, training=False), X3)
probe("F.dropout2d eval", lambda m, x: F.dropout2d(x, 0.5, False), X4)
probe("F.dropout3d eval", lambda m, x: F.dropout3d(x.unsqueeze(2), 0.5, False).squeeze(2), X4)
probe("F.alpha_dropout", lambda m, x: F.alpha_dropout(x, 0.5), X4)  # training=False by default
probe("F.feature_alpha_dropout", lambda m, x: F.feature_alpha_dropout(x, 0.5), X4)
for _name in ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"):
    probe(f"torch.{_name} eval", lambda m, x, n=_name: getattr(torch, n)(x, 0.4, False), X4)
probe("nn.Identity", lambda m, x: m.i(x) * 2, X4, mods=lambda: {"i": nn.Identity()})


# -- attention ----------------------------------------------------------------------------------
def _mha(**kw: Any) -> Callable[[], dict]:
    return lambda: {"a": nn.MultiheadAttention(8, 2, **kw)}


probe("nn.MultiheadAttention self", lambda m, x: m.a(x, x, x), (2, 5, 8), mods=_mha(batch_first=True))
probe("nn.MultiheadAttention seq-first", lambda m, x: m.a(x, x, x), (5, 2, 8), mods=_mha())
probe(
    "nn.MultiheadAttention cross",
    lambda m, x, y: m.a(x, y, y, average_attn_weights=False),
    (2, 3, 8),
    (2, 6, 8),
    mods=_mha(batch_first=True),
)
probe(
    "nn.MultiheadAttention no weights",
    lambda m, x, y, z: m.a(x, y, z, need_weights=False)[0],
    (3, 2, 8),
    (4, 2, 8),
    (4, 2, 8),
    mods=_mha(bias=False),
)
probe(
    "nn.MultiheadAttention kdim vdim",
    lambda m, x, y, z: m.a(x, y, z)[0],
    (2, 3, 8),
    (2, 4, 6),
    (2, 4, 5),
    mods=_mha(kdim=6, vdim=5, batch_first=True),
)
probe(
    "nn.MultiheadAttention attention dropout",  # module_mode_dropout: follows the module's mode (eval here)
    lambda m, x: m.a(x, x, x, need_weights=False)[0],
    (2, 5, 8),
    mods=_mha(batch_first=True, dropout=0.2),
)


probe(
    "nn.MultiheadAttention bool masks",
    lambda m, x, am, kpm: m.a(x, x, x, attn_mask=am, key_padding_mask=kpm),
    (2, 4, 8),
    lambda: torch.ones(4, 4, dtype=torch.bool).triu(1),
    lambda: torch.tensor([[False] * 3 + [True], [False] * 4]),
    mods=_mha(batch_first=True),
    opaque_ok=True,
)
probe(
    "nn.MultiheadAttention float masks",
    lambda m, x, am, kpm: m.a(x, x, x, attn_mask=am, key_padding_mask=kpm)[0],
    (4, 2, 8),
    (4, 4, 4),
    (2, 4),
    mods=_mha(),
    opaque_ok=True,
)
probe(
    "nn.MultiheadAttention causal hint",
    lambda m, x, am: m.a(x, x, x, attn_mask=am, need_weights=False, is_causal=True)[0],
    (2, 4, 8),
    lambda: torch.ones(4, 4, dtype=torch.bool).triu(1),
    mods=_mha(batch_first=True),
    opaque_ok=True,
)
probe(
    "F.scaled_dot_product_attention",
    lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v),
    (2, 2, 5, 4),
    (2, 2, 6, 4),
    (2, 2, 6, 3),
)
probe(
    "F.scaled_dot_product_attention scale",
    lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
    (2, 5, 4),
    (2, 6, 4),
    (2, 6, 4),
)


# -- in-place mutation read afterwards ------------------------------------------------------------
def _add_(m, x, y):
    a = x * 2
    b = a.add_(y)
    return a + b, a


def _relu_then_read(m, x):
    y = x - 0.5
    z = m.act(y)
    return y * 2 + z


def _iadd_alias(m, x, y):
    a = x * 1
    alias = a
    a += y
    return alias * 3 + a


def _chain(m, x):
    a = x + 0
    a.add_(1).mul_(2)
    return a


def _out_kwarg(m, x, y):
    c = x * 0
    torch.add(x, y, out=c)
    return c * 2


def _input_mutation(m, x):
    x.mul_(2)
    return x + 1


def _setitem(m, x):
    a = x * 1
    a[:, 0] = 0.0
    return a * 2


def _setitem_tensor(m, x, y):
    a = x + 1
    a[..., 1] = y[..., 0]
    return a.sum(-1)


def _view_then_mutate_view(m, x):
    a = x * 2
    v = a.view(-1)
    v.add_(1)
    return v


def _base_read_after_view_mutation(m, x):
    a = x * 2
    v = a.view(-1)
    v.add_(1)
    return a * 3


def _view_read_after_base_mutation(m, x):
    a = x * 2
    v = a[0]
    a.mul_(3)
    return v + 1


def _buffer_mutation(m, x):
    m.count.add_(1)
    return x * m.count


probe("Tensor.add_ read after", _add_, X3, X3)
probe("Tensor.mul_ read after", lambda m, x: (lambda a: (a.mul_(2), a + x)[1])(x * 1), X3)
probe("Tensor.sub_ read after", lambda m, x, y: (lambda a: (a.sub_(y), a * a)[1])(x + 0), X3, X3)
probe("Tensor.div_ read after", lambda m, x: (lambda a: (a.div_(4), a - x)[1])(x + 0), X3)
probe("Tensor.relu_ read after", lambda m, x: (lambda a: (a.relu_(), a + x)[1])(x - 0.2), X3)
probe("Tensor.sigmoid_ read after", lambda m, x: (lambda a: (a.sigmoid_(), a * x)[1])(x * 3), X3)
probe("Tensor.clamp_ read after", lambda m, x: (lambda a: (a.clamp_(-0.1, 0.1), a + x)[1])(x * 1), X3, opaque_ok=True)
probe("torch.relu_ read after", lambda m, x: (lambda a: (torch.relu_(a), a * 2)[1])(x + 0.1), X3)
probe("F.relu inplace read after", lambda m, x: (lambda a: (F.relu(a, inplace=True), a - x)[1])(x * 2), X3)
probe("F.hardtanh inplace read after", lambda m, x: (lambda a: (F.hardtanh(a, -0.2, 0.2, True), a - x)[1])(x * 2), X3)
probe("nn.ReLU(inplace) read after", _relu_then_read, X3, mods=lambda: {"act": nn.ReLU(inplace=True)})
probe("nn.ReLU6(inplace) read after", _relu_then_read, X3, mods=lambda: {"act": nn.ReLU6(inplace=True)})
probe("y += x through an alias", _iadd_alias, X3, X3)


def _floor_augmented(m, x, y):
    a = x * 4
    b = a
    a //= y
    return a + b


def _augmented(m, x, y):
    a = x * 1
    b = a
    a -= y
    a *= 2
    a /= 3
    return a + b


probe("isub imul itruediv", _augmented, X3, X3)
probe("ifloordiv through an alias", _floor_augmented, X3, pos(*X3))
probe("chained in-place", _chain, X3)
probe("in-place on an input", _input_mutation, X3)
probe("out= read after", _out_kwarg, X3, X3, opaque_ok=True)
# torch.export records an indexed assignment as a view plus an in-place fill/copy: refused there
probe("setitem read after", _setitem, X3, opaque_ok=True, refuse=("export",))
probe("setitem tensor value", _setitem_tensor, X3, X3, opaque_ok=True, refuse=("export",))
probe("in-place on a view, view read", _view_then_mutate_view, X3)
probe("in-place on a view, base read", _base_read_after_view_mutation, X3, refuse=("fx", "export"))
probe("in-place on a base, view read", _view_read_after_base_mutation, X3, refuse=("fx", "export"))
probe("in-place on a buffer", _buffer_mutation, X3, mods=lambda: {"count": torch.zeros(())}, refuse=("fx", "export"))
