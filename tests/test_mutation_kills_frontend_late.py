"""What a torch model imports as, on the cases mutation testing (bench/mutation.py, target frontend-late, tenth
round) found unexercised: dropout kinds and their flags (irq/frontend/dropout_mapping.py), casts
(irq/frontend/cast_mapping.py) and an index by whole aranges re-expressed as unsqueezes
(irq/frontend/export_index_by_arange.py).

Every case is checked against eager torch, the independent oracle: the import verifies, every IR result type (shape
and dtype) is what eager returns, and the module rebuilt by the torch executor computes eager's values exactly. A case
that must import as a typed op also asserts that op and no opaque `torch.call` (which computes eager's numbers too,
so numbers alone never catch a handler that gave up). Each case names the planted bug it catches (file:line as of
the round, and the mutation).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from irq.passes.fold_constants import is_pure_call
from irq.runtime.torch import to_module
from support.frontend_oracle import randn
from support.frontend_oracle import torch_ops as _torch_ops
from torch import Tensor, nn

import irq
from irq.frontend.propagate import torch_dtype


class _Fn(nn.Module):
    """A module whose forward is `fn(x)`."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor):
        return self.fn(x)


def _result_types(module: irq.Operation) -> list[tuple[tuple[int, ...], torch.dtype]]:
    ret = next(op for op in module.walk() if op.name == "func.return")
    return [(tuple(v.type.shape), torch_dtype(v.type.element_type)) for v in ret.operands]


def _opaque(module: irq.Operation) -> list[str]:
    """The targets of the opaque calls left, but the factories fold-constants evaluates (arange, ones)."""
    return [op.get_attr("target").value for op in module.walk() if op.name == "torch.call" and not is_pure_call(op)]


def _as_eager(model: nn.Module, inputs: tuple, method: str, typed: tuple[str, ...] | None) -> irq.Operation:
    """Import `model` on `inputs`; result types and values as eager's. typed: the typed ops it must become (no
    opaque call left), or None: any form (an opaque call, or typed ops that compute the same)."""
    model.eval()
    module = irq.import_torch(model, inputs, method=method)
    irq.verify(module)
    names = _torch_ops(module)
    if typed is not None:
        assert not _opaque(module), _opaque(module)
        for op in typed:
            assert f"torch.{op}" in names, (op, names)
    with torch.no_grad():
        want = model(*inputs)
    want = tuple(want) if isinstance(want, (tuple, list)) else (want,)
    assert _result_types(module) == [(tuple(w.shape), w.dtype) for w in want]
    got = to_module(module)(*inputs)
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)
    return module


# ----------------------------------------------------------------------------------------------------------- casts

_FLOAT = torch.tensor([[0.0, 1.5, -2.0, 0.0], [3.0, 0.0, -0.25, 7.0]])  # zeros and non-zeros: != 0 decides
_INT = torch.tensor([[0, 1, -3, 0], [5, 0, 0, 2]])

#: name -> (function, input, the typed op it must be, or None: any form that computes eager's result)
CASTS = {
    # cast_mapping.py:33-34 (`dtype == torch.bool` as `!=`; the predicate / other changed): != 0 of a float
    "x.bool()": (lambda x: x.bool(), _FLOAT, "compare_scalar"),
    "x.to(torch.bool)": (lambda x: x.to(torch.bool), _FLOAT, "compare_scalar"),
    "int x.bool()": (lambda x: x.bool(), _INT, "compare_scalar"),
    # _method_to:49-57: the device spellings and the flags a cast may carry (`isinstance(a, bool)`, the kwargs set)
    "x.to('cpu', torch.bool)": (lambda x: x.to("cpu", torch.bool), _FLOAT, "compare_scalar"),
    "x.to(device, dtype=)": (lambda x: x.to(torch.device("cpu"), dtype=torch.bool), _FLOAT, "compare_scalar"),
    "x.to(dtype=torch.bool)": (lambda x: x.to(dtype=torch.bool), _INT, "compare_scalar"),
    "x.to(torch.bool, False)": (lambda x: x.to(torch.bool, False), _FLOAT, "compare_scalar"),
    "x.to(torch.bool, copy=True)": (lambda x: x.to(torch.bool, copy=True), _FLOAT, "compare_scalar"),
    # _method_to with no dtype: a device-only `to` on the CPU is the identity under fx as under export (before
    # 2026-12-02 fx left it an opaque call, so such a model could not convert)
    "x.to('cpu')": (lambda x: x.to("cpu") * 2, _FLOAT, "identity"),
    "x.to(device=cpu)": (lambda x: x.to(device=torch.device("cpu")) + 1, _INT, "identity"),
    # cast:31 (`have == dtype` as `!=`): a cast to the value's own dtype is the identity
    "x.to(own dtype)": (lambda x: x.to(torch.float32) * 2, _FLOAT, "identity"),
    "int x.to(own dtype)": (lambda x: x.to(torch.int64) + 1, _INT, "identity"),
    # cast:35: any other cast is not a mask nor the identity (a mutant typing it as compare_scalar or identity
    # gives the wrong dtype or values); it stays an opaque call
    "x.to(torch.int32)": (lambda x: x.to(torch.int32), _FLOAT, None),
    "int x.to(torch.float32)": (lambda x: x.to(torch.float32), _INT, None),
    # _method_to:49: an option outside the cast's (memory_format); _method_to:53-57: a tensor as the target of
    # `to` is no dtype
    "x.to(bool, memory_format=)": (lambda x: x.to(torch.bool, memory_format=torch.preserve_format), _FLOAT, None),
    "x.to(other tensor)": (lambda x: x.to(torch.zeros((), dtype=torch.int32) + x.shape[0]), _FLOAT, None),
}


@pytest.mark.parametrize("method", ["fx", "export"])
@pytest.mark.parametrize("name", sorted(CASTS))
def test_cast_imports_as_eager_computes_it(name, method):
    """Casts by their fx spellings (_method_to, _method_bool) and torch.export's ATen forms (_aten_to: to.dtype,
    to.device, to.dtype_layout). Bugs caught: a cast to bool typed as the identity or as == 0, a cast to another dtype
    typed as a mask, a cast with an option irq does not model read as a plain cast."""
    fn, x, op = CASTS[name]
    module = _as_eager(_Fn(fn), (x.clone(),), method, None if op is None else (op,))
    if op is not None:  # index_by_arange:94 (`node.op == "call_function"` as `is not`): the export's dtype checks
        assert "torch.call" not in _torch_ops(module)  # (_assert_tensor_metadata) left as opaque calls


@pytest.mark.parametrize(
    "fn",
    [lambda x: torch.ops.aten._to_copy.default(x) + 1, lambda x: torch.ops.aten.to.dtype_layout(x, device="cpu") + 1],
    ids=["aten._to_copy", "aten.to.dtype_layout device"],
)
def test_an_aten_cast_without_a_dtype_on_the_cpu_is_the_identity(fn):
    """cast_mapping.py _aten_to:83 (`if _on_cpu(device)` as `if not`; the input `args[0]`): an ATen copy with no dtype
    (torch.export records a model's own torch.ops.aten call as written; its `x.to(...)` always with a dtype) is the
    identity."""
    module = _as_eager(_Fn(fn), (_FLOAT.clone(),), "export", ("identity",))
    assert "torch.call" not in _torch_ops(module)


# --------------------------------------------------------------------------------------------------------- dropout


def _dropout_attrs(module: irq.Operation) -> list[dict]:
    out = []
    for op in module.walk():
        if op.name == "torch.dropout":
            out.append({k: op.get_attr(k).value for k in ("p", "training", "kind") if op.get_attr(k) is not None})
    return out


#: torch.<kind>(x, p, train), ATen's signature, as a user may call it: the attributes it must import with
TORCH_FORMS = {
    "torch.dropout": (lambda x: torch.dropout(x, 0.25, True), {"p": 0.25, "training": True}),
    "torch.alpha_dropout": (
        lambda x: torch.alpha_dropout(x, 0.5, True),
        {"p": 0.5, "training": True, "kind": "alpha_dropout"},
    ),
    "torch.feature_alpha_dropout": (
        lambda x: torch.feature_alpha_dropout(x, 0.5, False),
        {"p": 0.5, "training": False, "kind": "feature_alpha_dropout"},
    ),
    # _attrs:36 (`float(p)`): an int rate is a float attribute
    "F.dropout int p": (lambda x: F.dropout(x, 1, False), {"p": 1.0, "training": False}),
}


@pytest.mark.parametrize("name", sorted(TORCH_FORMS))
def test_torch_dropout_forms_keep_kind_rate_and_flag_and_drop_as_eager(name):
    """dropout_mapping.py torch_form:59-63 and _attrs:35-41. Bugs caught: a kind read as plain dropout (alpha
    dropout then trains another network), the `training` flag lost or inverted. Oracle: eager from the same RNG
    state, in training mode (where the flag decides) and eval."""
    fn, attrs = TORCH_FORMS[name]
    x = randn(2, 4, 3, 3)
    model = _Fn(fn)
    module = irq.import_torch(model, (x,))
    assert _dropout_attrs(module) == [attrs]
    rebuilt = to_module(irq.parse_module(irq.print_module(module)))
    for mode in (True, False):
        model.train(mode)
        rebuilt.train(mode)
        for seed in range(2):
            torch.manual_seed(seed)
            want = model(x)
            torch.manual_seed(seed)
            torch.testing.assert_close(rebuilt(x), want, rtol=0, atol=0)


class _DropoutByInputs(nn.Module):
    """Dropouts whose rate or flag the model receives: no typed op can hold them, so they stay opaque calls."""

    def forward(self, x: Tensor, p: float, train: bool) -> tuple:
        return torch.dropout(x, 0.5, train), torch.dropout(x, p, False), F.dropout(x, 0.5, train)


def test_a_dropout_rate_or_flag_the_model_receives_follows_it():
    """dropout_mapping.py:61 (torch_form) and :49 (functional), `or` as `and`: a flag the model receives was read as
    `bool(node)`, always True (an eval-time call with train=False dropped units), and a rate it receives failed the
    import with a bare TypeError (float(node)). Oracle: eager at both flag values, same RNG state."""
    x = randn(2, 8, 4)
    module = irq.import_torch(_DropoutByInputs(), (x, 0.3, False))
    assert not _dropout_attrs(module)
    rebuilt = to_module(module)
    for p, train in ((0.3, False), (0.6, True)):
        torch.manual_seed(0)
        want = _DropoutByInputs()(x, p, train)
        torch.manual_seed(0)
        for g, w in zip(rebuilt(x, p, train), want, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------- index by aranges


def _ix(m: Tensor, *indices: Tensor) -> Tensor:
    return m[indices]


#: name -> function of the int mask m [B, S] (S = 6): indexes by aranges that are the whole of their dimensions
#: (rewritten into unsqueezes: no aten.index left, the batch stays dynamic)
WHOLE = {
    # index_by_arange:102 (`placed[0]` as `placed[1]`: the rank read as a position, no unsqueeze inserted), :106
    # (`p not in positions` inverted)
    "HF [B,1,1,S]": lambda m: _ix(
        m, torch.arange(m.shape[0])[:, None, None, None], torch.arange(6)[None, None, None, :]
    ),
    # :102 (`placed[0]` as `placed[-1]`, the last position read as the rank): a trailing unit dimension
    "[B,S,1]": lambda m: _ix(m, torch.arange(m.shape[0])[:, None, None], torch.arange(6)[None, :, None]),
    "[B,1,S]": lambda m: _ix(m, torch.arange(m.shape[0])[:, None, None], torch.arange(6)[None, None, :]),
    "[B,S] through + 0 and [0:]": lambda m: _ix(m, torch.arange(m.shape[0])[0:, None], (torch.arange(6) + 0)[None, :]),
}

#: index by aranges that are not the identity of their dimension: they must stay an index (eager's values)
NOT_WHOLE = {
    # _arange_length:40 (`is aten.slice.Tensor` as `is not`: a slice's bounds never checked): arange(S)[1:]
    "a partial slice": lambda m: _ix(m, torch.arange(m.shape[0])[:, None], torch.arange(6)[1:][None, :]),
    # _arange_length:42 (`!= (0,)` as `==`): arange(S) - 3 indexes a rotation
    "a shifted arange": lambda m: _ix(m, torch.arange(m.shape[0])[:, None], (torch.arange(6) + (-3))[None, :]),
    # _positions:76-77 (the length check): arange(4) takes the first 4 of 6
    "a shorter arange": lambda m: _ix(m, torch.arange(m.shape[0])[:, None], torch.arange(4)[None, :]),
    # _positions:84 (`positions != sorted(...)`): the aranges placed the other way round transpose the mask
    "transposed positions": lambda m: _ix(m, torch.arange(m.shape[0])[None, :], torch.arange(6)[:, None]),
    # _positions:84 (the ranks): an arange of rank 1 broadcast against one of rank 2
    "indices of two ranks": lambda m: _ix(m, torch.arange(m.shape[0])[:, None], torch.arange(6)),
    # _positions:70 (`any(i is None ...)`): m[:, arange(1, 6)]
    "a slice and an index": lambda m: m[:, torch.arange(1, 6)],
    # _positions:75 (`d != 0 or length not in batch` as `and`): an arange of a traced length that is not the batch
    "a batch arange one short": lambda m: _ix(m, torch.arange(m.shape[0] - 1)[:, None], torch.arange(6)[None, :]),
    # _arange_length:46 (`len(node.args) != 1`): an arange with a start
    "an arange with a start": lambda m: _ix(m, torch.arange(m.shape[0])[:, None], torch.arange(1, 6)[None, :]),
}


def _mask(batch: int) -> Tensor:
    return (torch.arange(batch * 6).reshape(batch, 6) * 7) % 5  # distinct rows and columns: a permutation shows


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_an_index_by_whole_aranges_is_the_mask_with_unit_dims_at_any_batch(name):
    """index_by_arange: the rewritten index is eager's shape and values at the example batch and at others, with no
    aten.index left and the batch dynamic (a mutant that raised inside the rewrite made the export static)."""
    model = _Fn(WHOLE[name])
    module = _as_eager(model, (_mask(2),), "export", ())
    assert "torch.batch_fixed" not in module.attributes
    assert not [op for op in module.walk() if op.name == "torch.call"], _torch_ops(module)  # the aranges erased
    rebuilt = to_module(irq.parse_module(irq.print_module(module)))
    for batch in (3, 5):
        torch.testing.assert_close(rebuilt(_mask(batch)), model(_mask(batch)), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(NOT_WHOLE))
def test_an_index_by_other_aranges_computes_eagers_values(name):
    """Bugs caught: an index that is not the identity of its dimensions rewritten into unsqueezes (a wrong shape
    and wrong values, no error)."""
    _as_eager(_Fn(NOT_WHOLE[name]), (_mask(3),), "export", None)  # batch 3: at 2, export fixes `B - 1` to 1


def test_a_bool_cast_with_a_memory_format_keeps_it():
    """cast_mapping.py _method_bool:62 (`len(args) == 1 and not kwargs` as `or`): `x.bool(memory_format=...)` typed
    as `!= 0`, whose result is contiguous where eager's is channels-last. Oracle: eager's values and strides."""
    x = randn(1, 3, 2, 2)
    x[0, 1] = 0.0
    model = _Fn(lambda x: x.bool(memory_format=torch.channels_last))
    module = _as_eager(model, (x,), "fx", None)
    assert to_module(module)(x).stride() == model(x).stride()


def test_a_bool_cast_eager_refuses_is_refused():
    """cast_mapping.py _method_bool:62 (`len(args) == 1` as `>=`): `x.bool(torch.channels_last)`, which eager refuses
    (bool() takes no positional argument), imported as `!= 0` by static inference without an error."""
    with pytest.raises(irq.FrontendError, match=r"bool\(\) takes 0 positional arguments"):
        irq.import_torch(_Fn(lambda x: x.bool(torch.channels_last)), (randn(1, 2, 2, 2),))


class _ToMeta(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.to("meta", torch.bool)


@pytest.mark.parametrize("method", ["fx", "export"])
def test_a_cast_to_another_device_stays_on_that_device(method):
    """cast_mapping.py _on_cpu:39 (`str(device) == "cpu"` as `is not`: every device read as the CPU): a cast to
    another device imported as `!= 0`, computed on the CPU. The meta device stands for any non-CPU device here.
    Oracle: eager's result type and device."""
    x = _FLOAT.clone()
    module = irq.import_torch(_ToMeta(), (x,), method=method)
    irq.verify(module)
    assert "torch.compare_scalar" not in _torch_ops(module)
    want = _ToMeta()(x)
    assert _result_types(module) == [(tuple(want.shape), want.dtype)]
    assert to_module(module)(x).device == want.device


class _SharedArange(nn.Module):
    """An index by whole aranges whose column arange is also used as data: it outlives the rewrite."""

    def forward(self, m: Tensor) -> Tensor:
        a = torch.arange(6)
        return m[torch.arange(m.shape[0])[:, None], a[None, :]] * 2 + a


def test_an_arange_used_elsewhere_does_not_keep_the_batch_arange_alive():
    """export_index_by_arange.py _erase_unused:124 (`continue` as `break`): the column arange, still used, stopped
    the erasing before the batch's arange, whose dead `arange(B)` then made the export static (batch 2 only).
    Oracle: eager at the example batch and at batches 3 and 5."""
    model = _SharedArange()
    module = _as_eager(model, (_mask(2),), "export", ("mul_scalar", "add"))
    assert "torch.batch_fixed" not in module.attributes
    rebuilt = to_module(irq.parse_module(irq.print_module(module)))
    for batch in (3, 5):
        torch.testing.assert_close(rebuilt(_mask(batch)), model(_mask(batch)), rtol=0, atol=0)


def test_an_index_over_an_empty_dimension_is_still_the_view():
    """export_index_by_arange.py _is_one:34 (`d == 1` as `<=`): an index's size-0 dimension read as a unit one,
    so an arange over an empty dimension placed nowhere, and the index (the identity) kept as an opaque call.
    Oracle: eager's result type and values at the example batch and at batch 3."""
    model = _Fn(lambda m: _ix(m, torch.arange(m.shape[0])[:, None], torch.arange(0)[None, :]))
    empty = torch.ones(2, 0, dtype=torch.int64)
    module = _as_eager(model, (empty,), "export", ())
    assert "torch.call" not in _torch_ops(module)
    three = torch.ones(3, 0, dtype=torch.int64)
    assert to_module(module)(three).shape == model(three).shape


def test_an_index_past_the_end_raises_as_eager():
    """export_index_by_arange.py _arange_length:42 (`node.args[1:] != (0,)` as `<`: `arange(S) + 1` read as a whole
    arange): the index past the end rewritten into the mask itself, which runs where eager raises. Oracle: eager's
    IndexError, raised by the imported module too."""
    model = _Fn(lambda m: _ix(m, torch.arange(m.shape[0])[:, None], (torch.arange(6) + 1)[None, :]))
    module = irq.import_torch(model, (_mask(3),), method="export")
    for run in (model, to_module(module)):
        with pytest.raises(IndexError, match="out of bounds"):
            run(_mask(3))


class _TwoIndexes(nn.Module):
    """An index irq keeps (a slice beside an index) before one it rewrites (HF's mask idiom)."""

    def forward(self, m: Tensor) -> tuple:
        kept = m[:, torch.arange(1, 6)]
        return kept, _ix(m, torch.arange(m.shape[0])[:, None, None], torch.arange(6)[None, None, :])


def test_an_index_left_as_is_does_not_stop_the_rewrite_of_the_next():
    """export_index_by_arange.py index_by_arange:101 (`continue` as `break`): the first index that is not by whole
    aranges ended the walk, so the next (HF's mask) kept the batch's arange and the export fell back to static
    shapes. Oracle: eager at the example batch and at batch 5."""
    model = _TwoIndexes()
    module = _as_eager(model, (_mask(2),), "export", None)
    assert "torch.batch_fixed" not in module.attributes
    rebuilt = to_module(module)
    for g, w in zip(rebuilt(_mask(5)), model(_mask(5)), strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)
