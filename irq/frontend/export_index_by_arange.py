"""Indexing by aranges, as torch.export records Hugging Face's padding mask: views of the indexed tensor.

transformers' mask builders (masking_utils, e.g. BERT's `sdpa_mask`) read the tokenizer's [B, S] attention_mask as
``mask[arange(B)[:, None, None, None], arange(S)[None, None, None, :]]``: an advanced index whose every index is
an arange over the whole of its dimension, unsqueezed into its own position of a [B, 1, 1, S] result. That is
the mask itself with size-1 dimensions inserted, but exported as `aten.index.Tensor` fed by `aten.arange(B)` it
was an opaque call no march runs, and an arange of the batch made irq export static shapes (every batch but the
example's refused). `index_by_arange` rewrites each such index into `aten.unsqueeze`s of the indexed tensor
before the batch check (irq/frontend/export.py), so the aranges fall dead and the batch stays dynamic.

Exact: ``x[i_0, ..., i_{n-1}]`` with ``i_d = arange(x.size(d))`` placed at position ``p_d`` (size 1 elsewhere),
``p_0 < ... < p_{n-1}``, is ``x[b_0, ..., b_{n-1}]`` at result index ``(..., b_d at p_d, ...)``, i.e. x with
size-1 dimensions at the other positions. A batch arange counts when its length is the batch of any input (the
model's inputs share dimension 0, as irq assumes everywhere): HF indexes the mask by the ids' batch size.
Also erased: `aten._assert_tensor_metadata` (a dtype/device check of the trace, no value).
"""

from __future__ import annotations

import torch
from torch import fx

aten = torch.ops.aten
_PASS_THROUGH = frozenset({aten.unsqueeze.default, aten.slice.Tensor, aten.add.Tensor, aten.add.Scalar})
_FULL = 2**63 - 1


def _shape(node: object) -> tuple | None:
    val = node.meta.get("val") if isinstance(node, fx.Node) else None
    return tuple(val.shape) if isinstance(val, torch.Tensor) else None


def _is_one(d: object) -> bool:
    return not isinstance(d, torch.SymInt) and d == 1


def _arange_length(node: fx.Node) -> object | None:
    """The length of the arange `node` is made of (through unsqueezes, whole slices and `+ 0`), else None."""
    while node.op == "call_function" and node.target in _PASS_THROUGH:
        if node.target is aten.slice.Tensor and tuple(node.args[2:4]) not in ((0, _FULL), (None, None), ()):
            return None
        if node.target in (aten.add.Tensor, aten.add.Scalar) and node.args[1:] != (0,):
            return None
        node = node.args[0]
    if node.op != "call_function" or node.target is not aten.arange.default or len(node.args) != 1:
        return None
    if any(node.kwargs.get(k) not in (None, torch.int64) for k in ("dtype",)):
        return None
    return node.args[0]


def _batch_sizes(graph: fx.Graph) -> set[fx.Node]:
    """`sym_size(input, 0)` nodes of the graph's user inputs: the batch."""
    inputs = {n for n in graph.nodes if n.op == "placeholder"}
    return {
        n
        for n in graph.nodes
        if n.op == "call_function" and n.target is aten.sym_size.int and n.args[0] in inputs and n.args[1] == 0
    }


def _positions(node: fx.Node, batch: set[fx.Node]) -> list[int] | None:
    """Where each index of `node` (aten.index.Tensor) places its dimension, when each is a whole arange."""
    x, indices = node.args[0], node.args[1]
    shape = _shape(x)
    if shape is None or len(indices) != len(shape) or any(i is None for i in indices):
        return None
    positions = []
    for d, index in enumerate(indices):
        index_shape = _shape(index)
        length = _arange_length(index) if isinstance(index, fx.Node) else None
        if index_shape is None or length is None:
            return None
        if isinstance(length, fx.Node):
            if d != 0 or length not in batch:
                return None
        elif isinstance(shape[d], torch.SymInt) or length != shape[d]:
            return None
        placed = [p for p, s in enumerate(index_shape) if not _is_one(s)]
        if len(placed) != 1 and not (length == 1 and not placed):
            return None
        positions.append(placed[0] if placed else None)
    ranks = {len(_shape(i)) for i in indices}
    if len(ranks) != 1 or None in positions or positions != sorted(set(positions)):
        return None
    return [ranks.pop(), *positions]


def index_by_arange(graph: fx.Graph) -> int:
    """Rewrite every index-by-whole-aranges into unsqueezes; erase trace assertions; the count rewritten."""
    batch = _batch_sizes(graph)
    rewritten = 0
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is aten._assert_tensor_metadata.default and not node.users:
            graph.erase_node(node)
            continue
        if node.op != "call_function" or node.target is not aten.index.Tensor:
            continue
        placed = _positions(node, batch)
        if placed is None:
            continue
        rank, positions = placed[0], placed[1:]
        y, indices = node.args[0], list(node.args[1])
        with graph.inserting_before(node):
            for p in range(rank):
                if p not in positions:
                    val = y.meta["val"].unsqueeze(p)
                    y = graph.call_function(aten.unsqueeze.default, (y, p))
                    y.meta.update({k: v for k, v in node.meta.items() if k in ("nn_module_stack", "stack_trace")})
                    y.meta["val"] = val
        node.replace_all_uses_with(y)
        graph.erase_node(node)
        _erase_unused(graph, indices)
        rewritten += 1
    return rewritten


def _erase_unused(graph: fx.Graph, nodes: list) -> None:
    """Erase `nodes` and, transitively, the computations only they read (the aranges of a rewritten index)."""
    work = [n for n in nodes if isinstance(n, fx.Node)]
    while work:
        n = work.pop()
        if n.users or n.op != "call_function" or n.target is aten.sym_size.int:
            continue
        inputs = list(n.all_input_nodes)
        graph.erase_node(n)
        work.extend(inputs)
