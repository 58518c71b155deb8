"""torch.argmax / argmin over a dim, traced (fx) or exported, as the indices of torch.max / min over that dim.

torch documents both as the index of the first extreme value along `dim` (torch.argmax, torch.max), so the
indices output of `max(x, dim, keepdim)` is `argmax(x, dim, keepdim)`: rewritten so before typing, argmax
becomes the typed `torch.max_dim` every level already carries, and lower-bpu turns its used indices into
`bpu.argmax` (an i64 result the program returns as it is). Without a dim (the argmax of the flattened tensor)
the call is left as it is: an opaque op convert refuses by name.
"""

from __future__ import annotations

import operator

import torch
from torch import fx

aten = torch.ops.aten
_FX = {torch.argmax: torch.max, torch.argmin: torch.min}
_METHODS = {"argmax": torch.max, "argmin": torch.min}
_ATEN = {aten.argmax.default: aten.max.dim, aten.argmin.default: aten.min.dim}


def _bound(node: fx.Node) -> tuple[fx.Node, int, bool] | None:
    """(input, dim, keepdim) of an argmax / argmin call with an integer dim, else None."""
    names = ("input", "dim", "keepdim")
    if len(node.args) > 3 or any(k not in names for k in node.kwargs):
        return None
    b = {"dim": None, "keepdim": False, **dict(zip(names, node.args)), **node.kwargs}
    x, dim, keep = b.get("input"), b["dim"], b["keepdim"]
    if not isinstance(x, fx.Node) or not isinstance(dim, int) or isinstance(dim, bool) or not isinstance(keep, bool):
        return None
    return x, dim, keep


def _target(node: fx.Node):
    if node.op == "call_function":
        return _FX.get(node.target) or _ATEN.get(node.target)
    if node.op == "call_method":
        return _METHODS.get(node.target)
    return None


def arg_reduce_as_indices(graph: fx.Graph) -> None:
    """Replace each argmax / argmin over a dim by `getitem(max / min(x, dim, keepdim), 1)`, keeping its meta
    (source line, module scope); an exported node's `val` pair is computed by the fake mode of its input."""
    for node in list(graph.nodes):
        reduce = _target(node)
        bound = _bound(node) if reduce is not None else None
        if bound is None:
            continue
        x, dim, keep = bound
        with graph.inserting_before(node):
            pair = graph.call_function(reduce, (x, dim, keep))
            index = graph.call_function(operator.getitem, (pair, 1))
        for new in (pair, index):
            new.meta.update({k: v for k, v in node.meta.items() if k != "val"})
        val = x.meta.get("val")
        if isinstance(val, torch.Tensor):  # torch.export: the pair's fake values, symbolic sizes kept
            mode = getattr(val, "fake_mode", None)
            if mode is not None:
                with mode:
                    pair.meta["val"] = tuple(reduce(val, dim, keep))
            else:
                pair.meta["val"] = tuple(reduce(val, dim, keep))
            index.meta["val"] = node.meta.get("val")
        node.replace_all_uses_with(index)
        graph.erase_node(node)
