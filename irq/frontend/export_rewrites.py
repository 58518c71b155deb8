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
- `bool_attention_masks`: nn.MultiheadAttention (and nn.TransformerEncoderLayer) turn a bool mask into a float
  one before SDPA (`zeros_like(m, float).masked_fill_(m, -inf)`, an attn_mask and a key_padding_mask added),
  then view / expand / reshape it. Computed from an input (a padding mask), its -inf reached an observer
  (calibration refused it) and a query whose keys are all padding got a NaN or uniform row where torch's SDPA
  gives probability 0 (`_safe_softmax`). A float mask made only that way holds only 0 and -inf, so SDPA computes
  exactly the same with the bool keep-mask `m == 0`: `logical_not(m)` for each fill, `logical_and` for the sum,
  the same views; SDPA's bool mask then takes irq/frontend/attention_mapping.py's exact path. With need_weights=True
  MHA adds the mask in a baddbmm before a plain softmax: that pair becomes `sdpa_masked_softmax(bmm, keep)`.
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


_MASK_VIEWS = _RESHAPES | {aten.expand.default, aten.unsqueeze.default}
_FILLS = frozenset({aten.masked_fill.Scalar, aten.masked_fill_.Scalar})


def _is_bool(node: object) -> bool:
    val = node.meta.get("val") if isinstance(node, fx.Node) else None
    return isinstance(val, torch.Tensor) and val.dtype == torch.bool


def _keep_mask(graph: fx.Graph, node: object, memo: dict[fx.Node, fx.Node | None]) -> fx.Node | None:
    """The bool node that is True where the float attention mask `node` is 0, when `node` is made only of -inf
    fills of zeros at bool masks, sums of such masks and views of them (see the module docstring); else None."""
    if not isinstance(node, fx.Node) or node.op != "call_function":
        return None
    if node in memo:
        return memo[node]
    memo[node] = None
    args: tuple | None = None
    target = node.target
    if target in _FILLS and len(node.args) == 3 and not node.kwargs:
        base, cond, value = node.args
        # zeros shaped as the condition itself (`zeros_like(m)`): the keep-mask has the fill's shape
        zeros = isinstance(base, fx.Node) and base.target is aten.zeros_like.default and base.args[:1] == (cond,)
        if zeros and _is_bool(cond) and value == float("-inf"):
            target, args = aten.logical_not.default, (cond,)
    elif target in _MASK_VIEWS and node.args:
        inner = _keep_mask(graph, node.args[0], memo)
        args = None if inner is None else (inner, *node.args[1:])
    elif target is aten.add.Tensor and len(node.args) == 2 and not node.kwargs:
        a, b = (_keep_mask(graph, x, memo) for x in node.args)
        if a is not None and b is not None:
            target, args = aten.logical_and.default, (a, b)
    if args is None:
        return None
    with graph.inserting_after(node):
        keep = graph.call_function(target, args, dict(node.kwargs) if target is node.target else {})
    keep.meta.update(node.meta)
    keep.meta["val"] = torch.empty_like(node.meta["val"], dtype=torch.bool)
    memo[node] = keep
    return keep


def _masked_softmax_of_baddbmm(graph: fx.Graph, node: fx.Node, memo: dict[fx.Node, fx.Node | None]) -> bool:
    """`softmax(baddbmm(mask, q, k), -1)` (nn.MultiheadAttention with need_weights=True) with such a float mask as
    `sdpa_masked_softmax(bmm(q, k), keep)`: the same probabilities, and 0 for a query that keeps no key where torch's
    plain softmax gives NaN (irq/frontend/decompose.py gives the same 0 under fx)."""
    from irq.runtime.torch.functions import sdpa_masked_softmax

    if len(node.args) != 3 or node.kwargs or len(node.users) != 1:
        return False
    softmax = next(iter(node.users))
    if softmax.target is not aten.softmax.int or softmax.args[1:] not in ((-1,), (2,)) or softmax.kwargs:
        return False
    keep = _keep_mask(graph, node.args[0], memo)
    if keep is None:
        return False
    with graph.inserting_before(softmax):
        scores = graph.call_function(aten.bmm.default, tuple(node.args[1:]))
        probs = graph.call_function(sdpa_masked_softmax.__irq_wrapped__, (scores, keep))
    scores.meta.update(node.meta)
    probs.meta.update(softmax.meta)
    softmax.replace_all_uses_with(probs)
    graph.erase_node(softmax)
    graph.erase_node(node)
    return True


def bool_attention_masks(graph: fx.Graph) -> int:
    """Give each `aten.scaled_dot_product_attention` whose float attn_mask is a bool mask's 0 / -inf the bool
    keep-mask instead (and `softmax(baddbmm(mask, q, k))` the masked softmax of that keep-mask); the float mask's
    ops left without users are erased. Returns how many were rewritten."""
    memo: dict[fx.Node, fx.Node | None] = {}
    rewritten = 0
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is aten.baddbmm.default:
            rewritten += _masked_softmax_of_baddbmm(graph, node, memo)
            continue
        if node.op != "call_function" or node.target is not aten.scaled_dot_product_attention.default:
            continue
        positional = len(node.args) > 3
        mask = node.args[3] if positional else node.kwargs.get("attn_mask")
        val = mask.meta.get("val") if isinstance(mask, fx.Node) else None
        if not (isinstance(val, torch.Tensor) and val.is_floating_point()):
            continue
        keep = _keep_mask(graph, mask, memo)
        if keep is None:
            continue
        if positional:
            node.args = (*node.args[:3], keep, *node.args[4:])
        else:
            node.kwargs = {**node.kwargs, "attn_mask": keep}
        rewritten += 1
    if rewritten:
        # an in-place fill whose zeros another op also reads stays (that op reads the filled tensor)
        fills = {n: n.args[0] for n in memo if n.target in _FILLS}
        kept = {f for f, zeros in fills.items() if set(zeros.users) != {f}}
        float_masks = (set(memo) | set(fills.values())) - kept - {fills[f] for f in kept}
        for node in reversed(list(graph.nodes)):
            if node in float_masks and not node.users:
                graph.erase_node(node)
    return rewritten
