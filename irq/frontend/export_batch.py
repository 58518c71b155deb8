"""How an exported graph uses the batch: what irq can follow at any batch, and where it must refuse another.

method="export" exports dimension 0 of every tensor input as `Dim.AUTO` (irq/frontend/export.py). The
symbolic batch may reach the graph only as reshape / expand sizes (`view(x.size(0), ...)`, recorded as
`torch.size` operands): anything else that reads it (`x * x.shape[0]`, `zeros(x.shape[0], k)`, `arange(n)`)
computes with the batch in a way the typed import cannot record, so the model is exported again with static
shapes, and that static program computes the example's batch into those ops. `batch_use_not_followed`
names the first such op (read from the dynamic graph, whose symbols say exactly which ops the batch
reaches), and the prepared model refuses any other batch naming it: before, the static program was refused
only when a view or a creation op held the batch's value as a literal, so `y * x.shape[0]` ran at batch 3
multiplied by 2, without an error, and a constant `zeros(2, k)` was refused at other batches when traced at
batch 2 though nothing in it derives from the batch.

When the dynamic export itself fails there is no symbolic graph to read, and `batch_in_literal_shapes`
refuses cautiously: any view / reshape / expand of the inputs' data, or tensor made from a literal size,
whose literal shape holds the traced batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx

aten = torch.ops.aten
RESHAPES = frozenset({aten.view.default, aten.reshape.default, aten._unsafe_view.default})
#: ops that record traced sizes as operands: reshapes, and expand (a ViT's `cls.expand(x.shape[0], -1, -1)`)
SIZED = RESHAPES | {aten.expand.default}
_SYMBOLIC = (torch.SymInt, torch.SymFloat, torch.SymBool)


def _symbolic(node: fx.Node) -> bool:
    return isinstance(node.meta.get("val"), _SYMBOLIC)


def batch_use_not_followed(graph: fx.Graph) -> fx.Node | None:
    """The first op reading the symbolic batch other than as a plain reshape / expand size, else None.

    Those sizes become `torch.size` operands every level handles. Arithmetic on it (`x * x.shape[0]`,
    a computed reshape size `infer_computed_sizes` could not turn into -1) or other ops taking it (zeros,
    arange, an assertion export adds) would be opaque calls, so such a model is exported with static
    shapes, which compute this op with the example's batch."""
    for node in graph.nodes:
        if node.op == "output":
            if any(_symbolic(a) for a in node.all_input_nodes):
                return node  # a size returned as an output
            continue
        if node.op != "call_function" or _symbolic(node):
            continue
        sizes = [a for a in node.all_input_nodes if _symbolic(a)]
        if not sizes:
            continue
        if node.target in SIZED and all(a.op == "call_function" and a.target is aten.sym_size.int for a in sizes):
            continue
        return node
    return None


def size_at_example(d: torch.SymInt, batch_one: bool) -> int:
    """A symbolic size's value on the example: its hint, or (`batch_one`: the export traced two copies of a
    batch-1 example, and its only symbols are the inputs' batch sizes) its expression at batch 1."""
    if not batch_one:
        return int(d.node.hint)
    expr = d.node.expr
    return int(expr.subs({sym: 1 for sym in expr.free_symbols}))


#: ops that become bpu.reshape: where a batch of 1 leaves the batch's axis to `irq.batch_axis.reshape_axis`
_RESHAPE_LIKE = RESHAPES | {
    aten.flatten.using_ints,
    aten.unflatten.int,
    aten.squeeze.dim,
    aten.squeeze.dims,
    aten.unsqueeze.default,
}


def symbolic_dims(val: torch.Tensor) -> list[int]:
    """The dimensions of an exported value whose size is an expression of the batch."""
    return [i for i, d in enumerate(val.shape) if isinstance(d, torch.SymInt) and d.node.expr.free_symbols]


def reshape_not_following_the_batch(graph: fx.Graph) -> fx.Node | None:
    """The first reshape of a batch-1 export that puts the batch elsewhere than the IR's batch-1 shapes say.

    A program typed at batch 1 only shows `(1, 8) -> (1, 2, 4)`; the numba runtime reads the batch as
    the outermost factor of the first destination dimension at its offset (`reshape_axis`). The
    symbolic shapes of the doubled export say where it really went: `view(1, -1, 4)` puts it in dimension 1,
    and attention's `(5, 16) -> (5, 1, 16)` in dimension 1 where the rule prefers 0. Such an export is typed at
    the doubled batch instead when its results lead with the batch (`outputs_lead_with_the_batch`), else kept
    static, never deployed wrong."""
    from irq.batch_axis import Axis, reshape_axis

    for node in graph.nodes:
        if node.op != "call_function" or node.target not in _RESHAPE_LIKE or not node.args:
            continue
        src, dst = getattr(node.args[0], "meta", {}).get("val"), node.meta.get("val")
        if not isinstance(src, torch.Tensor) or not isinstance(dst, torch.Tensor):
            continue
        src_dims, dst_dims = symbolic_dims(src), symbolic_dims(dst)
        if not src_dims and not dst_dims:
            continue
        if len(src_dims) != 1 or len(dst_dims) != 1:
            return node
        src1 = tuple(size_at_example(d, True) if isinstance(d, torch.SymInt) else int(d) for d in src.shape)
        dst1 = tuple(size_at_example(d, True) if isinstance(d, torch.SymInt) else int(d) for d in dst.shape)
        found = reshape_axis(src1, dst1, Axis(src_dims[0], src1[src_dims[0]]), 1)
        if found is None or found.axis != dst_dims[0]:
            return node
    return None


def outputs_lead_with_the_batch(graph: fx.Graph) -> bool:
    """Whether every tensor the graph returns has exactly the batch (one input's batch symbol) as dimension 0.

    A batch-1 export whose reshape the batch-1 rule would misread is typed at the doubled example's batch 2
    instead (irq/frontend/export.py), where `irq.batch_axis.reshape_axes` has one reading. That is the
    model's own arithmetic at every batch only if its results are per sample: `view(1, -1, 4)` returns
    (1, 8 * B), a batch the model's code fixes, which stays static and refused at other batches."""
    out = next(n for n in graph.nodes if n.op == "output")
    vals = [a.meta.get("val") for a in out.all_input_nodes]
    tensors = [v for v in vals if isinstance(v, torch.Tensor)]
    return bool(tensors) and all(
        v.dim() > 0 and isinstance(v.shape[0], torch.SymInt) and v.shape[0].node.expr.is_Symbol for v in tensors
    )


_LITERAL_SHAPE_OPS = SIZED
#: Ops that make a tensor from a literal size (args[0]): one holding the traced batch is a per-sample buffer the
#: export fixed at that batch (or a constant that happens to match it: refusing other batches is then merely cautious).
_CREATION_OPS = frozenset(
    {
        aten.zeros.default,
        aten.ones.default,
        aten.full.default,
        aten.empty.memory_format,
        aten.randn.default,
        aten.rand.default,
    }
)


def _static_size(d: Any) -> Any:
    """`d` as the int it is when its expression is a number: torch.export (Dim.AUTO) leaves a batch some guard
    specialised (a sequence-first RNN's unrolled reshape to the example's [N, L, E]) a SymInt without a symbol."""
    return int(d.node.expr) if isinstance(d, torch.SymInt) and not d.node.expr.free_symbols else d


def traced_batch(user: list[fx.Node]) -> int | None:
    """The batch (dimension 0) all tensor inputs of a static export share, else None (a dynamic export, or
    inputs of different leading sizes). A batch the dynamic export specialised counts as static: taken for dynamic,
    the prepared model ran a sequence-first GRU's [6, 1, 4] input as its traced [3, 2, 4] without an error."""
    leading = [
        _static_size(n.meta["val"].shape[0])
        for n in user
        if isinstance(n.meta.get("val"), torch.Tensor) and n.meta["val"].dim() > 0
    ]
    if not all(type(d) is int for d in leading):
        return None  # exported with a dynamic batch (a SymInt): the sizes it feeds are traced, nothing is baked
    batches = set(leading)
    return batches.pop() if len(batches) == 1 else None


def batch_in_literal_shapes(graph: fx.Graph, user: list[fx.Node], batch: int) -> fx.Node | None:
    """The first view/reshape/expand of data derived from the inputs, or tensor made from a literal size
    (zeros, full...), whose literal shape holds the traced `batch`, else None.

    torch.export specialises every size: `y.view(x.shape[0], -1, 4)` is recorded as view([1, -1, 4]), which
    at batch 4 silently mixes the samples (a [1, 32] output instead of [4, 8]). Without a symbolic graph the
    batch cannot be told from a literal, so the prepared model refuses other batch sizes instead
    (irq.quant.prepare)."""
    derived = set(user)
    for node in graph.nodes:
        size = node.args[0] if node.args else None
        if (
            node.op == "call_function"
            and node.target in _CREATION_OPS
            and isinstance(size, (list, tuple))
            and batch in size
            and all(isinstance(d, int) for d in size)
        ):
            return node  # an RNN's `zeros(layers, x.size(0), hidden)` state
        if node.op != "call_function" or not any(a in derived for a in node.all_input_nodes):
            continue
        derived.add(node)
        shape = node.args[1] if len(node.args) > 1 else None
        if (
            node.target in _LITERAL_SHAPE_OPS
            and isinstance(shape, (list, tuple))
            and batch in shape
            and all(isinstance(d, int) for d in shape)
        ):
            return node
    return None


def describe(node: fx.Node, location: Callable[[fx.Node], tuple | None]) -> str:
    """The op and the user's line for a refusal message: "aten.mul.Tensor at model.py:12" (or the output)."""
    if node.op == "output":
        return "the model's output (a size returned)"
    loc = location(node)
    return f"{node.target}" + (f" at {loc[0]}:{loc[1]}" if loc else "")
