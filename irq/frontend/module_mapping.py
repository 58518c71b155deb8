"""Which torch.nn modules become which typed torch-dialect ops: a module call is mapped from the
module's configuration (its attributes) and its parameters (state_dict keys), not from its forward.

Split from irq.frontend.mapping (functions and Tensor methods), which re-exports MODULES and
module_emits under their old import path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from irq.frontend.emit import PREV, Emit, ParamRef, _n, is_node
from irq.frontend.view_mapping import unflatten_emit


# -- handlers -------------------------------------------------------------------------------------------
def _p(path: str, name: str, m: nn.Module) -> ParamRef | None:
    return ParamRef(f"{path}.{name}" if path else name) if getattr(m, name, None) is not None else None


def _mod_conv(m: nn.Module, path: str, x: Any) -> list[Emit]:
    nd = len(m.kernel_size)
    spec = {1: "conv1d", 2: "conv2d"}.get(nd)
    if isinstance(m, nn.ConvTranspose2d):
        return [Emit("conv_transpose2d", {"input": x, "weight": _p(path, "weight", m), "bias": _p(path, "bias", m)},
                     {"stride": list(m.stride), "padding": list(m.padding), "output_padding": list(m.output_padding),
                      "groups": m.groups, "dilation": list(m.dilation)})]
    if spec is None:
        return []
    out = []
    padding = m.padding if isinstance(m.padding, str) else list(m.padding)
    if m.padding_mode != "zeros":  # nn.Conv2d pads explicitly, then convolves without padding
        rp = m._reversed_padding_repeated_twice
        out.append(Emit("pad", {"input": x}, {"pad": list(rp), "mode": m.padding_mode}))
        x = None
        padding = [0] * nd
    out.append(Emit(spec, {"input": x, "weight": _p(path, "weight", m), "bias": _p(path, "bias", m)},
                    {"stride": list(m.stride), "padding": padding, "dilation": list(m.dilation),
                     "groups": m.groups}))
    return out


def _mod_bn(m: nn.Module, path: str, x: Any) -> list[Emit]:
    tracked = m.track_running_stats and m.running_mean is not None
    attrs: dict[str, Any] = {"eps": float(m.eps)}
    if m.momentum is not None:
        attrs["momentum"] = float(m.momentum)
    if not tracked:
        attrs["training"] = True  # batch statistics in every mode, as nn.BatchNorm does without running stats
    if isinstance(m, nn.SyncBatchNorm):
        attrs["sync"] = True  # statistics all-reduced across ranks when training under DDP
    ops = {"input": x, "weight": _p(path, "weight", m), "bias": _p(path, "bias", m)}
    if tracked:
        ops.update(running_mean=_p(path, "running_mean", m), running_var=_p(path, "running_var", m),
                   num_batches_tracked=_p(path, "num_batches_tracked", m))
    return [Emit("batch_norm", ops, attrs)]


def _mod_upsample(m: nn.Module, path: str, x: Any) -> list[Emit]:
    from irq.frontend.mapping import _interpolate  # F.interpolate's handler; mapping imports this module

    e = _interpolate((x,), {"size": m.size, "scale_factor": m.scale_factor, "mode": m.mode,
                            "align_corners": m.align_corners})
    if e is None:
        return []
    if isinstance(m, nn.UpsamplingBilinear2d):
        e.attrs["align_corners"] = True
    return [e]


def _mod_simple(spec: str, attrs: Callable[[nn.Module], dict] = lambda m: {}, params: tuple = ()):
    def h(m: nn.Module, path: str, x: Any) -> list[Emit]:
        ops = {"input": x}
        for p in params:
            ops[p] = _p(path, p, m)
        return [Emit(spec, ops, attrs(m))]
    return h


def _pool_attrs(m: nn.Module) -> dict:
    k = _n(m.kernel_size, 2)
    d = {"kernel_size": k, "stride": _n(m.stride, 2) if m.stride not in (None, [], ()) else k,
         "padding": _n(m.padding, 2), "ceil_mode": bool(m.ceil_mode)}
    if isinstance(m, nn.MaxPool2d):
        if m.return_indices:
            raise _Unsupported
        d["dilation"] = _n(m.dilation, 2)
    else:
        d["count_include_pad"] = bool(m.count_include_pad)
        if m.divisor_override is not None:
            d["divisor_override"] = m.divisor_override
    return d


class _Unsupported(Exception):
    pass


def pool1d_as_2d(spec: str, x: Any, attrs: dict) -> list[Emit] | None:
    """A 1-D pool over [N, C, L] as the 2-D pool `spec` over [N, C, 1, L]: a kernel one row high with no
    vertical padding or stride visits exactly torch's 1-D windows, so every march that pools in 2-D runs
    it (unsqueeze and squeeze move no data). `attrs` holds the 1-D values; None (the call stays opaque)
    for an unbatched [C, L] input or `return_indices`."""
    if not is_node(x) or x.meta.get("irq_rank") != 3 or attrs.pop("return_indices", False):
        return None
    lifted: dict[str, Any] = {}
    for name, v in attrs.items():
        if name in ("kernel_size", "stride", "dilation", "output_size"):
            lifted[name] = [1, _n(v, 1)[0]]
        elif name == "padding":
            lifted[name] = [0, _n(v, 1)[0]]
        else:
            lifted[name] = v
    return [Emit("unsqueeze", {"input": x}, {"dim": 2}), Emit(spec, {"input": PREV}, lifted),
            Emit("squeeze", {"input": PREV}, {"dim": 2})]


def adaptive_max_as_pool(x: Any, output_size: Any) -> list[Emit] | None:
    """An adaptive max pool to `output_size` over a 4-D input whose height and width it divides, as the
    max pool with kernel = stride = input / output: torch's adaptive windows are then exactly those
    (start floor(i * H / h), end ceil((i + 1) * H / h)); the op keeps the output size, so an input of another
    size computes torch's adaptive pool (the deployed program, whose windows are the traced ones, refuses it).
    None (an opaque call) for sizes it does not divide, a `None` entry, an unknown input shape or `return_indices`."""
    t = x.meta.get("irq_type") if is_node(x) else None
    shape = getattr(t, "shape", None)
    out = _n(output_size, 2)
    if shape is None or len(shape) != 4 or any(not isinstance(o, int) for o in out):
        return None
    h, w = shape[2], shape[3]
    if not all(isinstance(d, int) and d > 0 for d in (h, w)) or h % out[0] or w % out[1]:
        return None
    k = [h // out[0], w // out[1]]
    # adaptive_output_size: the executors compute the adaptive pool itself, torch's result at another input size
    # (the max pool alone returned (2, 3, 4, 4) at 16x16 where torch returns (2, 3, 2, 2), without an error)
    return [Emit("max_pool2d", {"input": x}, {"kernel_size": k, "stride": k, "padding": [0, 0], "dilation": [1, 1],
                                               "ceil_mode": False, "adaptive_output_size": list(out)})]


def _mod_pool1d(m: nn.Module, path: str, x: Any) -> list[Emit]:
    if isinstance(m, nn.AdaptiveAvgPool1d):
        out = pool1d_as_2d("adaptive_avg_pool2d", x, {"output_size": m.output_size})
    else:
        k = _n(m.kernel_size, 1)[0]
        attrs = {"kernel_size": k, "stride": k if m.stride in (None, [], ()) else m.stride,
                 "padding": m.padding, "ceil_mode": bool(m.ceil_mode)}
        if isinstance(m, nn.MaxPool1d):
            attrs.update(dilation=m.dilation, return_indices=m.return_indices)
            out = pool1d_as_2d("max_pool2d", x, attrs)
        else:
            attrs["count_include_pad"] = bool(m.count_include_pad)
            out = pool1d_as_2d("avg_pool2d", x, attrs)
    if out is None:
        raise _Unsupported
    return out


def _mod_instance_norm(m: nn.Module, path: str, x: Any) -> list[Emit]:
    """nn.InstanceNorm*d with a batch dim; statistics as its forward picks them in the traced mode."""
    if not is_node(x) or x.meta.get("irq_rank") != m._get_no_batch_dim() + 1:
        raise _Unsupported  # unbatched input: the module unsqueezes first; keep it opaque
    ops = {"input": x, "weight": _p(path, "weight", m), "bias": _p(path, "bias", m),
           "running_mean": _p(path, "running_mean", m), "running_var": _p(path, "running_var", m)}
    return [Emit("instance_norm", ops, {"use_input_stats": m.training or not m.track_running_stats,
                                        "momentum": float(m.momentum if m.momentum is not None else 0.0),
                                        "eps": float(m.eps)})]


MODULES: list[tuple[type, Callable]] = [
    (nn.Conv1d, _mod_conv), (nn.Conv2d, _mod_conv), (nn.ConvTranspose2d, _mod_conv),
    (nn.Linear, _mod_simple("linear", params=("weight", "bias"))),
    (nn.BatchNorm1d, _mod_bn), (nn.BatchNorm2d, _mod_bn), (nn.SyncBatchNorm, _mod_bn),
    (nn.LayerNorm, _mod_simple("layer_norm", lambda m: {"normalized_shape": list(m.normalized_shape),
                                                        "eps": float(m.eps)}, ("weight", "bias"))),
    (nn.GroupNorm, _mod_simple("group_norm", lambda m: {"num_groups": m.num_groups, "eps": float(m.eps)},
                               ("weight", "bias"))),
    (nn.ReLU6, _mod_simple("relu6")), (nn.ReLU, _mod_simple("relu")),
    (nn.Hardtanh, _mod_simple("hardtanh", lambda m: {"min_val": float(m.min_val), "max_val": float(m.max_val)})),
    (nn.LeakyReLU, _mod_simple("leaky_relu", lambda m: {"negative_slope": float(m.negative_slope)})),
    (nn.Hardswish, _mod_simple("hardswish")), (nn.Hardsigmoid, _mod_simple("hardsigmoid")),
    (nn.Sigmoid, _mod_simple("sigmoid")), (nn.Tanh, _mod_simple("tanh")), (nn.SiLU, _mod_simple("silu")),
    (nn.GELU, _mod_simple("gelu", lambda m: {"approximate": m.approximate})),
    (nn.ELU, _mod_simple("elu", lambda m: {"alpha": float(m.alpha)})),
    (nn.CELU, _mod_simple("celu", lambda m: {"alpha": float(m.alpha)})), (nn.SELU, _mod_simple("selu")),
    (nn.Softplus, _mod_simple("softplus", lambda m: {"beta": float(m.beta), "threshold": float(m.threshold)})),
    (nn.Mish, _mod_simple("mish")), (nn.LogSigmoid, _mod_simple("logsigmoid")),
    (nn.Softsign, _mod_simple("softsign")), (nn.Tanhshrink, _mod_simple("tanhshrink")),
    (nn.Hardshrink, _mod_simple("hardshrink", lambda m: {"lambd": float(m.lambd)})),
    (nn.Softshrink, _mod_simple("softshrink", lambda m: {"lambd": float(m.lambd)})),
    (nn.Softmax, _mod_simple("softmax", lambda m: {"dim": m.dim} if m.dim is not None else _raise())),
    (nn.Flatten, _mod_simple("flatten", lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim})),
    (nn.Unflatten, lambda m, path, x: [unflatten_emit(x, m.dim, list(m.unflattened_size)) or _raise()]),
    (nn.Upsample, _mod_upsample),
    (nn.MaxPool2d, _mod_simple("max_pool2d", _pool_attrs)), (nn.AvgPool2d, _mod_simple("avg_pool2d", _pool_attrs)),
    (nn.AdaptiveAvgPool2d, _mod_simple("adaptive_avg_pool2d", lambda m: {"output_size": _n(m.output_size, 2)})),
    (nn.AdaptiveMaxPool2d, lambda m, path, x: (adaptive_max_as_pool(x, m.output_size) if not m.return_indices
                                               else None) or _raise()),
    (nn.MaxPool1d, _mod_pool1d), (nn.AvgPool1d, _mod_pool1d), (nn.AdaptiveAvgPool1d, _mod_pool1d),
    (nn.Dropout, _mod_simple("dropout", lambda m: {"p": float(m.p)})),
    *((cls, _mod_simple("dropout", lambda m, k=kind: {"p": float(m.p), "kind": k}))
      for cls, kind in ((nn.Dropout1d, "dropout1d"), (nn.Dropout2d, "dropout2d"), (nn.Dropout3d, "dropout3d"),
                        (nn.AlphaDropout, "alpha_dropout"), (nn.FeatureAlphaDropout, "feature_alpha_dropout"))),
    (nn.Identity, _mod_simple("identity")),
    (nn.PixelShuffle, _mod_simple("pixel_shuffle", lambda m: {"upscale_factor": m.upscale_factor})),
    (nn.PixelUnshuffle, _mod_simple("pixel_unshuffle", lambda m: {"downscale_factor": m.downscale_factor})),
    (nn.PReLU, _mod_simple("prelu", params=("weight",))),
    (nn.InstanceNorm1d, _mod_instance_norm), (nn.InstanceNorm2d, _mod_instance_norm),
    (nn.InstanceNorm3d, _mod_instance_norm),
    (nn.Embedding, lambda m, path, x: [Emit("embedding", {"input": x, "weight": _p(path, "weight", m)},
                                            {} if m.padding_idx is None else {"padding_idx": m.padding_idx})]),
]


def _raise():
    raise _Unsupported


def module_emits(m: nn.Module, path: str, args: tuple, kwargs: dict) -> list[Emit] | None:
    """Typed ops for a call of a known torch.nn module, else None."""
    from irq.frontend.tracer import is_stub
    stub = is_stub(m)
    if len(args) != 1 or kwargs:
        return None
    x = args[0]
    if stub:
        scale = getattr(m, "scale", None)
        return [Emit(stub, {"input": x}, {"scale": float(scale)} if isinstance(scale, float) else {})]
    for cls, handler in MODULES:
        if type(m) is cls or (isinstance(m, cls) and type(m).__module__.startswith("torch.nn")):
            try:
                return handler(m, path, x) or None
            except _Unsupported:
                return None
    return None
