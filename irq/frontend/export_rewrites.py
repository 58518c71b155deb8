"""Rewrites of a torch.export graph before irq reads it, each keeping exactly what the graph computes.

- `infer_computed_sizes`: nn.MultiheadAttention (and any model splitting its batch into heads) reshapes
  with sizes computed from the symbolic batch, `view(q, [L, bsz * heads, d])`. That arithmetic would be
  an opaque `torch.call` neither typed shape inference nor lower-bpu reads, so the importer used to fall
  back to a static export that baked the example's batch into every such view. A shape with exactly one
  entry that is neither a literal nor a plain traced size holds one unknown: torch's -1 recovers it from
  the input's element count, the value export proved the expression equals (it checks the reshape
  symbolically for every batch), so the rewrite is exact at every batch the original accepts. The
  arithmetic left without users is dropped.
- `values_of_adaptive_max`: `aten.adaptive_max_pool2d` returns (values, indices); with only the values
  used it becomes `F.adaptive_max_pool2d` (one result) which the fx mapping lowers to a max pool; a used
  indices output is refused naming the op and the user's line (an i64 result no bpu program returns).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import fx

from irq.frontend.errors import FrontendError

aten = torch.ops.aten
_RESHAPES = frozenset({aten.view.default, aten.reshape.default, aten._unsafe_view.default})


def _traced_size(node: fx.Node) -> bool:
    """A plain `x.size(d)` read: the importer records it as a `torch.size` operand."""
    return node.op == "call_function" and node.target is aten.sym_size.int


def infer_computed_sizes(graph: fx.Graph) -> int:
    """Give each reshape whose shape has one computed size (`bsz * heads`) a -1 there; the count rewritten."""
    rewritten = 0
    for node in graph.nodes:
        if node.op != "call_function" or node.target not in _RESHAPES or len(node.args) < 2:
            continue
        shape = node.args[1]
        if not isinstance(shape, (list, tuple)):
            continue
        computed = [i for i, d in enumerate(shape) if isinstance(d, fx.Node) and not _traced_size(d)]
        inferred = [d for d in shape if isinstance(d, int) and d == -1]
        if len(computed) != 1 or inferred or not isinstance(shape[computed[0]].meta.get("val"), torch.SymInt):
            continue
        new = list(shape)
        new[computed[0]] = -1
        node.args = (node.args[0], new, *node.args[2:])
        rewritten += 1
    if rewritten:
        drop_unused_size_arithmetic(graph)
    return rewritten


def drop_unused_size_arithmetic(graph: fx.Graph) -> None:
    """Erase size reads and Python arithmetic on sizes nothing uses, last to first so chains go in one sweep."""
    for node in reversed(list(graph.nodes)):
        if node.op != "call_function" or node.users:
            continue
        if _traced_size(node) or (
            getattr(node.target, "__module__", None) in (operator.__name__, "_operator")
            and isinstance(node.meta.get("val"), torch.SymInt)
        ):
            graph.erase_node(node)


def values_of_adaptive_max(graph: fx.Graph, location: Callable[[fx.Node], tuple | None]) -> None:
    """Replace each `aten.adaptive_max_pool2d` whose indices are unused by `F.adaptive_max_pool2d`'s values.
    `location`: a node's (file, line, column) in the user's code, for the refusal."""
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not aten.adaptive_max_pool2d.default:
            continue
        picks = list(node.users)
        if any(u.op != "call_function" or u.target is not operator.getitem for u in picks):
            continue  # the pair used whole (returned): left opaque, computed by torch
        if any(u.args[1] != 0 and u.users for u in picks):
            loc = location(node)
            where = f"{loc[0]}:{loc[1]}: " if loc else ""
            raise FrontendError(
                f"{where}aten.adaptive_max_pool2d: its indices output is used; irq maps only "
                "the values (the indices are an i64 result no bpu program returns)"
            )
        x, output_size = node.args[0], node.args[1]
        val = node.meta.get("val")
        with graph.inserting_before(node):
            values = graph.call_function(F.adaptive_max_pool2d, (x, list(output_size)))
        values.meta.update(node.meta)
        values.meta["val"] = val[0] if isinstance(val, (tuple, list)) else val
        for u in picks:
            if u.args[1] == 0:
                u.replace_all_uses_with(values)
            graph.erase_node(u)
        graph.erase_node(node)
