"""Which torch callables become which typed torch-dialect ops, with normalized arguments.

A handler receives the node's (args, kwargs), binds them to the callable's
parameter names with torch's defaults, and returns an `Emit`: the spec name, the
tensor operands and the attribute values. Returning None (or an attribute that
still contains a traced value) makes the importer keep the call as `torch.call`; so does
a number the model receives as an option (`keepdim=flag`, `p`: emit.bind refuses it).
Defaults are the ones documented for each torch function.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from irq.frontend import attention_mapping, cast_mapping, compare_mapping, dropout_mapping, logic_mapping
from irq.frontend.emit import _MISSING, PREV, Emit, ParamRef, _n, bind, is_node  # noqa: F401  (re-exported)
from irq.frontend.indexing import (  # noqa: F401  (re-exported)
    _getitem,
    _tensor_value,
    basic_indexing_chain,
    fold_static_scalars,
    static_value,
)
from irq.frontend.module_mapping import (  # noqa: F401  (re-exported)
    MODULES,
    adaptive_max_as_pool,
    module_emits,
    pool1d_as_2d,
)
from irq.frontend.product_mapping import PRODUCT_FUNCTIONS, PRODUCT_METHODS
from irq.frontend.select_mapping import METHODS as _SELECT_METHODS
from irq.frontend.select_mapping import _normalize
from irq.frontend.view_mapping import (
    _chunk,
    _dims,
    _flatten,
    _keeps_sizes,
    _narrow,
    _reshape,
    _shape_list,
    _size_attr,
    _split,
    _squeeze,
    _swap,
    _t,
    _transpose,
    _unbind,
    _unflatten,
    _unsqueeze,
)


# -- call_function / call_method handlers --------------------------------------------------------------
def _conv(nd: int, spec: str):
    params = (("input", _MISSING), ("weight", _MISSING), ("bias", None), ("stride", 1), ("padding", 0),
              ("dilation", 1), ("groups", 1))

    def h(args, kwargs):
        b = bind(params, args, kwargs)
        if b is None:
            return None
        pad = b["padding"] if isinstance(b["padding"], str) else _n(b["padding"], nd)
        return Emit(spec, {"input": b["input"], "weight": b["weight"], "bias": b["bias"]},
                    {"stride": _n(b["stride"], nd), "padding": pad, "dilation": _n(b["dilation"], nd),
                     "groups": b["groups"]})
    return h


def _conv_transpose2d(args, kwargs):
    b = bind((("input", _MISSING), ("weight", _MISSING), ("bias", None), ("stride", 1), ("padding", 0),
              ("output_padding", 0), ("groups", 1), ("dilation", 1)), args, kwargs)
    if b is None:
        return None
    return Emit("conv_transpose2d", {"input": b["input"], "weight": b["weight"], "bias": b["bias"]},
                {"stride": _n(b["stride"], 2), "padding": _n(b["padding"], 2),
                 "output_padding": _n(b["output_padding"], 2), "groups": b["groups"],
                 "dilation": _n(b["dilation"], 2)})


def _simple(spec: str, params: tuple, operands: tuple = ("input",), rename: dict | None = None,
            drop: tuple = ("inplace",), fixed: dict | None = None):
    """Handler for functions whose parameters map 1:1 to operands and attributes.

    `rename` maps a torch parameter name to the op's operand or attribute name
    (torch.bmm's `mat2` is the op's `other`)."""
    rename = rename or {}

    def h(args, kwargs):
        b = bind(params, args, kwargs)
        if b is None:
            return None
        ops = {rename.get(o, o): b[o] for o in operands}
        attrs = {rename.get(k, k): v for k, v in b.items() if k not in operands and k not in drop}
        attrs.update(fixed or {})
        return Emit(spec, ops, attrs)
    return h


_UNARY_P = (("input", _MISSING), ("inplace", False))
_X = (("input", _MISSING),)


def _binary(name: str):
    commutative = name in ("add", "mul")

    def h(args, kwargs):
        extra = (("alpha", 1),) if name in ("add", "sub") else (("rounding_mode", None),) if name == "div" else ()
        b = bind((("input", _MISSING), ("other", _MISSING), *extra), args, kwargs)
        if b is None:
            return None
        x, y = b["input"], b["other"]
        attrs = {k: b[k] for k, _ in extra if b[k] is not None and not (k == "alpha" and b[k] == 1)}
        if _tensor_value(x) and _tensor_value(y):
            return Emit(name, {"input": x, "other": y}, attrs)
        if _tensor_value(x) and isinstance(y, (int, float)) and not isinstance(y, bool):
            return Emit(f"{name}_scalar", {"input": x}, {"other": y, **attrs})
        if _tensor_value(y) and isinstance(x, (int, float)) and not isinstance(x, bool) and not attrs:
            if commutative:
                return Emit(f"{name}_scalar", {"input": y}, {"other": x})
            return Emit(f"r{name}_scalar", {"input": y}, {"other": x})
        return None
    return h


def _floor_divide(args, kwargs):
    """`x // y`, torch.floor_divide and Tensor.floor_divide: torch rounds the quotient toward -inf (since torch
    1.13; the deprecated trunc behaviour is gone), which is torch.div(x, y, rounding_mode="floor") exactly, so the
    op is that div and takes its lowering (bpu.int_div, floor). `2 // x` (a scalar dividend) stays opaque."""
    b = bind((("input", _MISSING), ("other", _MISSING)), args, kwargs)
    if b is None or not _tensor_value(b["input"]):
        return None
    return _binary("div")((b["input"], b["other"]), {"rounding_mode": "floor"})


#: F.softmax / F.log_softmax's parameters; torch.softmax, Tensor.softmax and aten.softmax.int take `dtype` third
#: (bound in F's order, `torch.softmax(x, 1, torch.float64)` read its dtype as `_stacklevel` and imported an f32
#: softmax where eager returns f64; under torch.export the op then failed verification)
_F_SOFTMAX_PARAMS = (("input", _MISSING), ("dim", None), ("_stacklevel", 3), ("dtype", None))
_SOFTMAX_PARAMS = (("input", _MISSING), ("dim", _MISSING), ("dtype", None))


def _softmax(spec: str, params: tuple = _SOFTMAX_PARAMS):
    def h(args, kwargs):
        b = bind(params, args, kwargs)
        if b is None or b["dim"] is None:
            return None
        if b["dtype"] is not None:
            # `dtype` casts the input first: the typed op when that is the identity, else an opaque call that
            # computes in that dtype (casts between float types have no typed op: irq.frontend.cast_mapping)
            cast = cast_mapping.cast(b["input"], b["dtype"])
            if cast is None or cast.spec != "identity":
                return None
        return Emit(spec, {"input": b["input"]}, {"dim": b["dim"]})
    return h


def _tensor_tuple(x: Any) -> bool:
    """A node holding a tuple of tensors (`x.chunk(2, 1)` passed whole to torch.cat)."""
    if not is_node(x) or x.meta.get("irq_kind") != "multi":
        return False
    from irq.ir.types import ShapedType
    return all(isinstance(t, ShapedType) for t in x.meta["irq_type"])


def _cat(spec: str):
    def h(args, kwargs):
        b = bind((("tensors", _MISSING), ("dim", 0)), args, kwargs) or bind((("tensors", _MISSING), ("axis", 0)),
                                                                            args, kwargs)
        if b is None:
            return None
        tensors = b["tensors"]
        if _tensor_tuple(tensors):
            tensors = [tensors]
        elif not isinstance(tensors, (list, tuple)) or not all(map(_tensor_value, tensors)):
            return None
        return Emit(spec, {"tensors": list(tensors)}, {"dim": b.get("dim", b.get("axis"))})
    return h


@_keeps_sizes
def _interpolate(args, kwargs):
    b = bind((("input", _MISSING), ("size", None), ("scale_factor", None), ("mode", "nearest"),
              ("align_corners", None), ("recompute_scale_factor", None), ("antialias", False)), args, kwargs)
    if b is None or b["antialias"] or b["mode"] not in ("nearest", "bilinear", "linear", "bicubic", "nearest-exact"):
        return None
    nd = (b["input"].meta.get("irq_rank") or 4) - 2 if is_node(b["input"]) else 2
    attrs: dict[str, Any] = {"mode": b["mode"]}
    sizes: list = []
    if b["size"] is not None:
        size = b["size"]
        if isinstance(size, int) or (is_node(size) and size.meta.get("irq_kind") == "int"):
            size = [size] * nd
        r = _shape_list(size)
        if r is None:
            return None
        entries, sizes = r
        attrs["size"] = _size_attr(entries)
    if b["scale_factor"] is not None:
        factors = [static_value(s) for s in _n(b["scale_factor"], nd)]
        if not all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in factors):
            return None  # computed from tensor data: keep the call as it is
        attrs["scale_factor"] = [float(f) for f in factors]
    if is_node(b["align_corners"]):
        return None  # a flag the model receives (see emit.bind): only the run knows its truth
    if b["align_corners"] is not None:
        attrs["align_corners"] = bool(b["align_corners"])
    if b["recompute_scale_factor"]:
        return None
    return Emit("interpolate", {"input": b["input"], "sizes": sizes}, attrs)


def _pool(spec: str):
    def h(args, kwargs):
        if spec == "max_pool2d":
            b = bind((("input", _MISSING), ("kernel_size", _MISSING), ("stride", None), ("padding", 0),
                      ("dilation", 1), ("ceil_mode", False), ("return_indices", False)), args, kwargs)
            if b is None or b["return_indices"]:
                return None
        else:
            b = bind((("input", _MISSING), ("kernel_size", _MISSING), ("stride", None), ("padding", 0),
                      ("ceil_mode", False), ("count_include_pad", True), ("divisor_override", None)), args, kwargs)
            if b is None:
                return None
        k = _n(b["kernel_size"], 2)
        attrs = {"kernel_size": k, "stride": _n(b["stride"], 2) if b["stride"] not in (None, [], ()) else k,
                 "padding": _n(b["padding"], 2), "ceil_mode": bool(b["ceil_mode"])}
        if spec == "max_pool2d":
            attrs["dilation"] = _n(b["dilation"], 2)
        else:
            attrs["count_include_pad"] = bool(b["count_include_pad"])
            if b["divisor_override"] is not None:
                attrs["divisor_override"] = b["divisor_override"]
        return Emit(spec, {"input": b["input"]}, attrs)
    return h


def _adaptive_max(args, kwargs):
    b = bind((("input", _MISSING), ("output_size", _MISSING), ("return_indices", False)), args, kwargs)
    return None if b is None or b["return_indices"] else adaptive_max_as_pool(b["input"], b["output_size"])


def _adaptive(args, kwargs):
    b = bind((("input", _MISSING), ("output_size", _MISSING)), args, kwargs)
    if b is None:
        return None
    return Emit("adaptive_avg_pool2d", {"input": b["input"]}, {"output_size": _n(b["output_size"], 2)})


def _pool1d(spec: str):
    """F.max_pool1d / F.avg_pool1d / F.adaptive_avg_pool1d: the 2-D pool over [N, C, 1, L] (pool1d_as_2d)."""
    params = {"max_pool2d": (("input", _MISSING), ("kernel_size", _MISSING), ("stride", None), ("padding", 0),
                             ("dilation", 1), ("ceil_mode", False), ("return_indices", False)),
              "avg_pool2d": (("input", _MISSING), ("kernel_size", _MISSING), ("stride", None), ("padding", 0),
                             ("ceil_mode", False), ("count_include_pad", True)),
              "adaptive_avg_pool2d": (("input", _MISSING), ("output_size", _MISSING))}[spec]

    def h(args, kwargs):
        b = bind(params, args, kwargs)
        if b is None:
            return None
        x = b.pop("input")
        if "stride" in b and b["stride"] in (None, [], ()):
            b["stride"] = b["kernel_size"]
        if "ceil_mode" in b:
            b["ceil_mode"] = bool(b["ceil_mode"])
        if "count_include_pad" in b:
            b["count_include_pad"] = bool(b["count_include_pad"])
        return pool1d_as_2d(spec, x, b)
    return h


def _reduce(spec: str):
    def h(args, kwargs):
        b = bind((("input", _MISSING), ("dim", None), ("keepdim", False), ("dtype", None)), args, kwargs)
        if b is None or b["dtype"] is not None:
            return None
        attrs: dict[str, Any] = {"keepdim": bool(b["keepdim"])}
        if b["dim"] is not None:
            attrs["dim"] = _n(b["dim"], 1) if not isinstance(b["dim"], (list, tuple)) else list(b["dim"])
        return Emit(spec, {"input": b["input"]}, attrs)
    return h


def _clamp(args, kwargs):
    b = bind((("input", _MISSING), ("min", None), ("max", None)), args, kwargs)
    if b is None or any(is_node(b[k]) for k in ("min", "max")):
        return None
    return Emit("clamp", {"input": b["input"]}, {k: b[k] for k in ("min", "max") if b[k] is not None})


def _clamp_one(bound: str):
    """torch.clamp_min / clamp_max and their Tensor methods: hl.clamp with one bound."""
    def h(args, kwargs):
        b = bind((("input", _MISSING), (bound, _MISSING)), args, kwargs)
        if b is None or is_node(b[bound]) or not isinstance(b[bound], (int, float)):
            return None
        return Emit("clamp", {"input": b["input"]}, {bound: b[bound]})
    return h


def _batch_norm(args, kwargs):
    b = bind((("input", _MISSING), ("running_mean", _MISSING), ("running_var", _MISSING), ("weight", None),
              ("bias", None), ("training", False), ("momentum", 0.1), ("eps", 1e-5)), args, kwargs)
    return None if b is None else batch_norm_emit(b)


def batch_norm_emit(b: dict[str, Any]) -> Emit:
    """The torch.batch_norm op for bound arguments (F.batch_norm's and aten's orders differ)."""
    attrs = {"eps": float(b["eps"]), "training": bool(b["training"])}
    if b["momentum"] is not None:
        attrs["momentum"] = float(b["momentum"])
    return Emit("batch_norm", {k: b[k] for k in ("input", "running_mean", "running_var", "weight", "bias")}, attrs)


def _pad(args, kwargs):
    b = bind((("input", _MISSING), ("pad", _MISSING), ("mode", "constant"), ("value", None)), args, kwargs)
    if b is None or is_node(b["value"]):  # a value the model receives: float(node) cannot hold it
        return None
    attrs = {"pad": list(b["pad"]), "mode": b["mode"]}
    if b["value"] is not None:
        attrs["value"] = float(b["value"])
    return Emit("pad", {"input": b["input"]}, attrs)


def _like(spec: str, fill: bool):
    params = (("input", _MISSING), *((("fill_value", _MISSING),) if fill else ()), ("dtype", None), ("layout", None),
              ("device", None), ("requires_grad", False), ("memory_format", None), ("pin_memory", None))

    def h(args, kwargs):
        b = bind(params, args, kwargs)
        if b is None or b["layout"] is not None or b["device"] is not None or b["requires_grad"] or \
                b["pin_memory"] or b["memory_format"] not in (None, torch.preserve_format):
            return None
        attrs: dict[str, Any] = {}
        if fill:
            v = b["fill_value"]
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                return None
            attrs["fill_value"] = v
        if b["dtype"] is not None:
            from irq.frontend.propagate import element_type
            try:
                attrs["dtype"] = element_type(b["dtype"])
            except TypeError:
                return None
        return Emit(spec, {"input": b["input"]}, attrs)
    return h


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _where(args, kwargs):
    b = bind((("condition", _MISSING), ("input", _MISSING), ("other", _MISSING)), args, kwargs)
    if b is None or not _tensor_value(b["condition"]):
        return None
    c, x, y = b["condition"], b["input"], b["other"]
    if _tensor_value(x) and _tensor_value(y):
        return Emit("where", dict(b))
    if _tensor_value(x) and _number(y):
        return Emit("where_scalar", {"condition": c, "input": x}, {"value": y, "value_first": False})
    if _number(x) and _tensor_value(y):
        return Emit("where_scalar", {"condition": c, "input": y}, {"value": x, "value_first": True})
    return None


def _masked_fill(args, kwargs):
    """x.masked_fill(mask, value) = where(mask, value, x)."""
    b = bind((("input", _MISSING), ("mask", _MISSING), ("value", _MISSING)), args, kwargs)
    if b is None or not (_tensor_value(b["input"]) and _tensor_value(b["mask"]) and _number(b["value"])):
        return None
    return Emit("where_scalar", {"condition": b["mask"], "input": b["input"]}, {"value": b["value"],
                                                                               "value_first": True})


def _elementwise2(spec: str):
    def h(args, kwargs):
        b = bind((("input", _MISSING), ("other", _MISSING)), args, kwargs)
        if b is None or not (_tensor_value(b["input"]) and _tensor_value(b["other"])):
            return None
        return Emit(spec, dict(b))
    return h


def _roll(args, kwargs):
    b = bind((("input", _MISSING), ("shifts", _MISSING), ("dims", None)), args, kwargs)
    if b is None:
        return None
    shifts, dims = b["shifts"], b["dims"]
    shifts = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    attrs: dict[str, Any] = {"shifts": shifts}
    if dims is not None:
        attrs["dims"] = list(dims) if isinstance(dims, (list, tuple)) else [dims]
        if len(attrs["dims"]) != len(shifts):
            return None
    elif len(shifts) != 1:
        return None
    if not all(isinstance(v, int) for v in (*shifts, *attrs.get("dims", ()))):
        return None
    return Emit("roll", {"input": b["input"]}, attrs)


def _cumsum(args, kwargs):
    b = bind((("input", _MISSING), ("dim", _MISSING), ("dtype", None)), args, kwargs)
    if b is None or b["dtype"] is not None or not isinstance(b["dim"], int):
        return None
    return Emit("cumsum", {"input": b["input"]}, {"dim": b["dim"]})


def _topk(args, kwargs):
    b = bind((("input", _MISSING), ("k", _MISSING), ("dim", -1), ("largest", True), ("sorted", True)), args, kwargs)
    if b is None or not all(isinstance(b[k], int) for k in ("k", "dim")):
        return None
    return Emit("topk", {"input": b["input"]}, {"k": b["k"], "dim": b["dim"], "largest": bool(b["largest"]),
                                                "sorted": bool(b["sorted"])})


def _embedding(args, kwargs):
    b = bind((("input", _MISSING), ("weight", _MISSING), ("padding_idx", None), ("max_norm", None),
              ("norm_type", 2.0), ("scale_grad_by_freq", False), ("sparse", False)), args, kwargs)
    if b is None or b["max_norm"] is not None or b["scale_grad_by_freq"] or b["sparse"]:
        return None  # max_norm renormalizes the weight in place; keep it opaque
    return Emit("embedding", {"input": b["input"], "weight": b["weight"]},
                {} if b["padding_idx"] is None else {"padding_idx": b["padding_idx"]})


def _instance_norm(args, kwargs):
    b = bind((("input", _MISSING), ("running_mean", None), ("running_var", None), ("weight", None), ("bias", None),
              ("use_input_stats", True), ("momentum", 0.1), ("eps", 1e-5)), args, kwargs)
    if b is None:
        return None
    return Emit("instance_norm", {k: b[k] for k in ("input", "running_mean", "running_var", "weight", "bias")},
                {"use_input_stats": bool(b["use_input_stats"]), "momentum": float(b["momentum"]),
                 "eps": float(b["eps"])})


def _pow(args, kwargs):
    """x.pow(n), torch.pow, `x ** n` and torch.square (n = 2) with a whole, non-negative Python exponent:
    hl.pow_scalar, one lookup table. A fractional exponent is nan for every negative x and a negative one is
    infinite at 0: no finite table holds those, so such calls (and tensor exponents, `2 ** x`) stay opaque
    `torch.call`s, which convert refuses by name."""
    b = bind((("input", _MISSING), ("exponent", _MISSING)), args, kwargs)
    if b is None or not _tensor_value(b["input"]):
        return None
    n = b["exponent"]
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not float(n).is_integer() or n < 0:
        return None
    return Emit("pow_scalar", {"input": b["input"]}, {"exponent": int(n)})


def _square(args, kwargs):
    b = bind((("input", _MISSING),), args, kwargs)
    return None if b is None else _pow((b["input"], 2), {})


_ACT = {
    "relu": _simple("relu", _UNARY_P), "relu6": _simple("relu6", _UNARY_P),
    "hardswish": _simple("hardswish", _UNARY_P), "hardsigmoid": _simple("hardsigmoid", _UNARY_P),
    "silu": _simple("silu", _UNARY_P), "sigmoid": _simple("sigmoid", _X), "tanh": _simple("tanh", _X),
    "exp": _simple("exp", _X), "neg": _simple("neg", _X), "sqrt": _simple("sqrt", _X), "rsqrt": _simple("rsqrt", _X),
    "abs": _simple("abs", _X),
}

#: issue 12's element-wise functions (one bpu.lut each): parameters as torch.nn.functional names them
_LUT_FNS = {
    "elu": _simple("elu", (("input", _MISSING), ("alpha", 1.0), ("inplace", False))),
    "celu": _simple("celu", (("input", _MISSING), ("alpha", 1.0), ("inplace", False))),
    "selu": _simple("selu", _UNARY_P), "mish": _simple("mish", _UNARY_P),
    "softplus": _simple("softplus", (("input", _MISSING), ("beta", 1.0), ("threshold", 20.0))),
    "logsigmoid": _simple("logsigmoid", _X), "softsign": _simple("softsign", _X),
    "tanhshrink": _simple("tanhshrink", _X),
    "hardshrink": _simple("hardshrink", (("input", _MISSING), ("lambd", 0.5))),
    "softshrink": _simple("softshrink", (("input", _MISSING), ("lambd", 0.5))),
    "erf": _simple("erf", _X), "sin": _simple("sin", _X), "cos": _simple("cos", _X),
}

def _linear(args, kwargs):
    """F.linear with a 2-D weight. torch also takes a 1-D weight (a dot product over the last dim, which drops
    it); torch.linear's rule and everything after it expect [out, in], so that form stays an opaque call."""
    b = bind((("input", _MISSING), ("weight", _MISSING), ("bias", None)), args, kwargs)
    w = None if b is None else b["weight"]
    if not is_node(w) or w.meta.get("irq_rank") != 2:  # parameters and constants reach here as nodes
        return None
    return Emit("linear", {"input": b["input"], "weight": w, "bias": b["bias"]}, {})


FUNCTIONS: dict[Callable, Callable] = {
    F.conv1d: _conv(1, "conv1d"), torch.conv1d: _conv(1, "conv1d"),
    F.conv2d: _conv(2, "conv2d"), torch.conv2d: _conv(2, "conv2d"),
    F.conv_transpose2d: _conv_transpose2d, torch.conv_transpose2d: _conv_transpose2d,
    F.linear: _linear,
    F.batch_norm: _batch_norm,
    F.layer_norm: _simple("layer_norm", (("input", _MISSING), ("normalized_shape", _MISSING), ("weight", None),
                                         ("bias", None), ("eps", 1e-5)), ("input", "weight", "bias")),
    F.group_norm: _simple("group_norm", (("input", _MISSING), ("num_groups", _MISSING), ("weight", None),
                                         ("bias", None), ("eps", 1e-5)), ("input", "weight", "bias")),
    F.relu: _ACT["relu"], torch.relu: _ACT["relu"], F.relu_: _ACT["relu"], torch.relu_: _ACT["relu"],
    F.relu6: _ACT["relu6"], F.hardswish: _ACT["hardswish"], F.hardsigmoid: _ACT["hardsigmoid"],
    F.silu: _ACT["silu"], torch.sigmoid: _ACT["sigmoid"], F.sigmoid: _ACT["sigmoid"], torch.tanh: _ACT["tanh"],
    F.tanh: _ACT["tanh"], torch.exp: _ACT["exp"], torch.neg: _ACT["neg"], operator.neg: _ACT["neg"],
    torch.sqrt: _ACT["sqrt"], torch.rsqrt: _ACT["rsqrt"], torch.abs: _ACT["abs"],
    F.hardtanh: _simple("hardtanh", (("input", _MISSING), ("min_val", -1.0), ("max_val", 1.0), ("inplace", False))),
    F.leaky_relu: _simple("leaky_relu", (("input", _MISSING), ("negative_slope", 0.01), ("inplace", False))),
    F.gelu: _simple("gelu", (("input", _MISSING), ("approximate", "none"))),
    F.softmax: _softmax("softmax", _F_SOFTMAX_PARAMS), torch.softmax: _softmax("softmax"),
    F.log_softmax: _softmax("log_softmax", _F_SOFTMAX_PARAMS), torch.log_softmax: _softmax("log_softmax"),
    operator.add: _binary("add"), operator.iadd: _binary("add"), torch.add: _binary("add"),
    operator.sub: _binary("sub"), operator.isub: _binary("sub"), torch.sub: _binary("sub"),
    operator.mul: _binary("mul"), operator.imul: _binary("mul"), torch.mul: _binary("mul"),
    operator.truediv: _binary("div"), operator.itruediv: _binary("div"), torch.div: _binary("div"),
    operator.floordiv: _floor_divide, operator.ifloordiv: _floor_divide, torch.floor_divide: _floor_divide,
    torch.matmul: _simple("matmul", (("input", _MISSING), ("other", _MISSING)), ("input", "other")),
    operator.matmul: _simple("matmul", (("input", _MISSING), ("other", _MISSING)), ("input", "other")),
    torch.bmm: _simple("bmm", (("input", _MISSING), ("mat2", _MISSING)), ("input", "mat2"), {"mat2": "other"}),
    torch.cat: _cat("cat"), torch.concat: _cat("cat"), torch.stack: _cat("stack"),
    torch.flatten: _flatten, torch.reshape: _reshape("reshape", False),
    torch.permute: _dims("permute", False), torch.transpose: _transpose,
    torch.unsqueeze: _unsqueeze, torch.squeeze: _squeeze,
    operator.getitem: _getitem, torch.chunk: _chunk, torch.split: _split,
    F.interpolate: _interpolate, F.pad: _pad,
    F.max_pool2d: _pool("max_pool2d"), torch.max_pool2d: _pool("max_pool2d"),
    F.avg_pool2d: _pool("avg_pool2d"), torch._C._nn.avg_pool2d: _pool("avg_pool2d"),
    F.adaptive_avg_pool2d: _adaptive, F.adaptive_max_pool2d: _adaptive_max,
    F.max_pool1d: _pool1d("max_pool2d"), torch.max_pool1d: _pool1d("max_pool2d"),
    F.avg_pool1d: _pool1d("avg_pool2d"), torch.avg_pool1d: _pool1d("avg_pool2d"),
    F.adaptive_avg_pool1d: _pool1d("adaptive_avg_pool2d"), torch.adaptive_avg_pool1d: _pool1d("adaptive_avg_pool2d"),
    torch.mean: _reduce("mean"), torch.sum: _reduce("sum"), torch.clamp: _clamp, torch.clip: _clamp,
    torch.clamp_: _clamp, torch.clamp_min: _clamp_one("min"), torch.clamp_max: _clamp_one("max"),
    torch.zeros_like: _like("zeros_like", False), torch.ones_like: _like("ones_like", False),
    torch.full_like: _like("full_like", True), torch.where: _where,
    torch.maximum: _elementwise2("maximum"), torch.minimum: _elementwise2("minimum"), torch.roll: _roll,
    torch.cumsum: _cumsum, torch.topk: _topk, torch.masked_fill: _masked_fill,
    F.pixel_shuffle: _simple("pixel_shuffle", (("input", _MISSING), ("upscale_factor", _MISSING))),
    F.pixel_unshuffle: _simple("pixel_unshuffle", (("input", _MISSING), ("downscale_factor", _MISSING))),
    F.instance_norm: _instance_norm,
    F.prelu: _simple("prelu", (("input", _MISSING), ("weight", _MISSING)), ("input", "weight")),
    F.embedding: _embedding,
    F.elu: _LUT_FNS["elu"], F.celu: _LUT_FNS["celu"], torch.celu: _LUT_FNS["celu"], F.selu: _LUT_FNS["selu"],
    torch.selu: _LUT_FNS["selu"], F.softplus: _LUT_FNS["softplus"], F.mish: _LUT_FNS["mish"],
    F.logsigmoid: _LUT_FNS["logsigmoid"], F.softsign: _LUT_FNS["softsign"], F.tanhshrink: _LUT_FNS["tanhshrink"],
    F.hardshrink: _LUT_FNS["hardshrink"], F.softshrink: _LUT_FNS["softshrink"], torch.erf: _LUT_FNS["erf"],
    torch.sin: _LUT_FNS["sin"], torch.cos: _LUT_FNS["cos"], torch.pow: _pow, operator.pow: _pow,
    operator.ipow: _pow, torch.square: _square,
    torch.t: _t, torch.swapaxes: _swap(("axis0", "axis1")), torch.swapdims: _swap(("dim0", "dim1")),
    torch.narrow: _narrow, torch.unbind: _unbind,
    **{getattr(torch, name): h for name, h in _SELECT_METHODS.items() if hasattr(torch, name) and
       name not in ("expand", "expand_as", "repeat")},
    F.normalize: _normalize,
}

#: Tensor methods (call_method target) -> handler over (self, *args).
METHODS: dict[str, Callable] = {
    **{k: v for k, v in _ACT.items()}, "relu_": _ACT["relu"], "sigmoid_": _ACT["sigmoid"],
    "contiguous": lambda a, k: Emit("contiguous", {"input": a[0]}) if len(a) == 1 and not k else None,
    "softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"),
    "add": _binary("add"), "add_": _binary("add"), "sub": _binary("sub"), "sub_": _binary("sub"),
    "mul": _binary("mul"), "mul_": _binary("mul"), "div": _binary("div"), "div_": _binary("div"),
    "floor_divide": _floor_divide, "floor_divide_": _floor_divide,
    "matmul": FUNCTIONS[torch.matmul], "bmm": FUNCTIONS[torch.bmm],
    "view": _reshape("view", True), "reshape": _reshape("reshape", True), "flatten": _flatten,
    "permute": _dims("permute", True), "transpose": _transpose, "unsqueeze": _unsqueeze, "squeeze": _squeeze,
    "chunk": _chunk, "split": _split, "mean": _reduce("mean"), "sum": _reduce("sum"), "clamp": _clamp,
    "clip": _clamp, "clamp_": _clamp, "clip_": _clamp, "clamp_min": _clamp_one("min"),
    "clamp_max": _clamp_one("max"), "clamp_min_": _clamp_one("min"), "clamp_max_": _clamp_one("max"),
    "maximum": _elementwise2("maximum"), "minimum": _elementwise2("minimum"), "roll": _roll,
    "cumsum": _cumsum, "topk": _topk, "masked_fill": _masked_fill, "masked_fill_": _masked_fill,
    "erf": _LUT_FNS["erf"], "sin": _LUT_FNS["sin"], "cos": _LUT_FNS["cos"], "hardshrink": _LUT_FNS["hardshrink"],
    "pow": _pow, "square": _square,
    "t": _t, "swapaxes": _swap(("axis0", "axis1")), "swapdims": _swap(("dim0", "dim1")), "narrow": _narrow,
    "unbind": _unbind, "unflatten": _unflatten, **_SELECT_METHODS,
}
FUNCTIONS[torch.unflatten] = _unflatten
FUNCTIONS.update(PRODUCT_FUNCTIONS)
METHODS.update(PRODUCT_METHODS)
compare_mapping.install(FUNCTIONS, METHODS)  # issue 12: comparisons, clamps by a tensor
logic_mapping.install(FUNCTIONS, METHODS)  # issue 12: ~m, m1 & m2, torch.logical_* on masks
cast_mapping.install(METHODS)  # x.to(its own dtype), x.bool() / x.to(torch.bool) as != 0
attention_mapping.install(FUNCTIONS)  # issue 12: SDPA with is_causal / attn_mask, attention-mask helpers
dropout_mapping.install(FUNCTIONS)  # element-wise, channel-wise and alpha dropouts


#: Typed ops whose result may share memory with an operand (views, identity, eval-mode dropout):
#: the mutation analysis treats them as aliases. Every other typed op allocates its result.
MAY_ALIAS = frozenset({"contiguous", "identity", "dropout", "flatten", "reshape", "view", "permute", "transpose",
                       "unsqueeze", "squeeze", "getitem", "slice", "select", "chunk", "split", "quant_stub",
                       "dequant_stub", "expand", "unbind"})


def allocates(emits: list[Emit] | None) -> bool:
    """Whether a node's typed ops certainly produce fresh memory (opaque calls: not known)."""
    return bool(emits) and emits[-1].spec not in MAY_ALIAS
