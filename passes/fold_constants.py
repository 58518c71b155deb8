"""fold-constants: subgraphs computed from constants and static sizes alone become constants (issue 12).

A causal mask is built from the input's size: `torch.triu(torch.ones(T, T), 1).bool()`, `torch.arange(T)[:, None]
>= torch.arange(T)`, `torch.full((T, T), -inf).triu(1)`. The imports keep it as computed — fx as `torch.call`s of
the factories on `torch.size` results (so CALIBRATION, QAT and VALIDATION follow the sequence length the model is
run at), export as ATen calls on the traced sizes (`aten.ones([5, 5])`, `aten.triu`, `aten.to(bool)`) — and no
march runs a factory. The deployed program's types are static, so at convert the whole subgraph has one value:
this pass evaluates it, in program order, and replaces what other ops read by a `torch.constant` of the result's
own element type (i1 for a mask, i64 for an arange). lower-bpu then reads a constant mask as an i8 0/1
bpu.constant (passes/_lower_select.py) and a constant quantized by a qcast as codes, exactly as VALIDATION
computed them from the same values.

What counts as known: `torch.constant`s, the results of `torch.size` of a statically shaped value, and the results
of folded ops. What folds, when every tensor operand is known:

- `torch.call`s of pure, deterministic torch functions, methods and ATen overloads (`_PURE_CALLS`: factories,
  triu / tril, dtype casts, comparisons, logic, masked_fill, views; never random or uninitialized ones), evaluated
  by torch itself (the call only exists in a model torch imported);
- the typed ops on masks and data movement: compare, compare_scalar, logical, logical_not, where_scalar, amax,
  add_scalar / sub_scalar of an integer tensor (an index `arange(S) + offset`), gather of integers (BERT's
  all-zero `token_type_ids` buffer gathered by its `position_ids` buffer; a float constant's gather stays for
  lower-bpu, which quantizes the picked values at the gather's qcast),
  zeros_like / ones_like / full_like (numpy, torch's semantics) and fold-constant-views' movement ops
  (`evaluate`).

A value that depends on the input's data, an unknown callee or a call that raises is left alone (lower-bpu or its
march check then names it). The sequence length is baked in with the mask: the program's argument types fix it,
and both runtimes refuse an input of another length (naming the input and the shape the program expects) rather
than apply a mask of the wrong size.
"""

from __future__ import annotations

from typing import Any

from irq.dialects import torch as tdl
from irq.passes.fold_constant_views import _MOVEMENT, evaluate

from irq._lazy import numpy as np
from irq.diagnostics import SIZES_FIXED_AT, location_prefix
from irq.ir.attributes import (
    ArrayAttr,
    BoolAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TypeAttr,
    UnitAttr,
)
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr, storage_dtype
from irq.ir.operation import Operation
from irq.ir.types import ShapedType, TensorType
from irq.ir.values import Value
from irq.transform.pass_base import Pass, register_pass

#: the callees a `torch.call` may name to be folded: the last name of the function, method or ATen packet
_PURE_CALLS = frozenset(
    {
        "ones",
        "zeros",
        "full",
        "arange",
        "eye",
        "triu",
        "tril",
        "ones_like",
        "zeros_like",
        "full_like",
        "new_ones",
        "new_zeros",
        "new_full",
        "scalar_tensor",
        "to",
        "bool",
        "float",
        "int",
        "long",
        "type_as",
        "_to_copy",
        "logical_not",
        "logical_and",
        "logical_or",
        "logical_xor",
        "bitwise_not",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
        "invert",
        "inv",
        "and_",
        "or_",
        "xor",
        "__and__",
        "__or__",
        "__xor__",
        "__invert__",
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        "isinf",
        "isneginf",
        "masked_fill",
        "where",
        "unsqueeze",
        "squeeze",
        "view",
        "reshape",
        "expand",
        "permute",
        "transpose",
        "t",
        "flip",
        "clone",
        "contiguous",
        "alias",
        "lift_fresh_copy",
        "detach",
        "_assert_tensor_metadata",
        "add",
        "sub",
        "mul",
        "neg",
    }
)

#: numpy's functions by the names the ops carry (numpy's own names; looked up when used: irq-opt's start-up
#: imports every pass module and must not import numpy)
_PREDICATES = {
    "gt": "greater",
    "ge": "greater_equal",
    "lt": "less",
    "le": "less_equal",
    "eq": "equal",
    "ne": "not_equal",
}
_LOGICAL = {"and": "logical_and", "or": "logical_or", "xor": "logical_xor"}


class _NotFoldable(Exception):
    """An operand or attribute whose value is not known at convert time."""


def is_pure_call(op) -> bool:
    """A `torch.call` of a callee `_PURE_CALLS` lists: no side effect, so dce may erase it when nothing reads it
    (a mask's `torch.zeros` the attention import no longer reads had fixed the program's sizes when folded)."""
    return op.name == "torch.call" and _callee(op.get_attr("target").value) in _PURE_CALLS


def _callee(target: str) -> str:
    """The name `_PURE_CALLS` lists for a torch.call target: `torch.ops.aten.triu.default` -> triu,
    `torch.Tensor.bool` -> bool, `_operator.invert` -> invert."""
    parts = target.split(".")
    return parts[-2] if target.startswith("torch.ops.") and len(parts) >= 5 else parts[-1]


def _constant_value(op: Operation) -> np.ndarray | None:
    a = op.get_attr("value")
    if isinstance(a, (DenseResourceElementsAttr, DenseElementsAttr)):
        data = np.asarray(a.to_numpy())
        return np.broadcast_to(data, a.type.shape) if data.shape != tuple(a.type.shape) else data
    return None


def resource_keys(root: Operation) -> set[str]:
    """The resource keys the constants under `root` use (a new constant's key must be another)."""
    return {
        a.key
        for op in root.walk()
        if op.name == "torch.constant" and isinstance(a := op.get_attr("value"), DenseResourceElementsAttr)
    }


def unique_key(stem: str, taken: set[str]) -> str:
    """`stem`, or `stem.1`, `stem.2`... the first not in `taken` (which it joins)."""
    key, n = stem, 0
    while key in taken:
        n += 1
        key = f"{stem}.{n}"
    taken.add(key)
    return key


class _Folder:
    """One walk over a function body, remembering the value of every known result."""

    def __init__(self, excluded: frozenset[str] = frozenset(), taken: set[str] | None = None) -> None:
        self.known: dict[Value, Any] = {}
        self.folded = 0
        self.made: list[Operation] = []
        self.excluded = excluded  # callees and op kinds not to evaluate
        self.taken = taken if taken is not None else set()  # resource keys in use
        self.unknown: set[Value] = set()  # values found to depend on more than constants and sizes
        self.sized: set[Value] = set()  # sizes, and folded results computed from them
        self.first_sized: Operation | None = None  # the first op folded from a size (it fixes the program's sizes)

    # -- reading values ----------------------------------------------------------------------------------------
    def value(self, v: Value) -> Any:
        """The value of `v`, evaluating its producers on demand (without changing the IR); _NotFoldable when it
        depends on anything but constants and static sizes."""
        if v in self.known:
            return self.known[v]
        if v in self.unknown:
            raise _NotFoldable
        try:
            return self._evaluate(v)
        except _NotFoldable:
            self.unknown.add(v)  # asked once: a chain of views on an activation is not walked again
            raise

    def is_known(self, v: Value) -> bool:
        """Whether `v`'s value is known (a constant, or computed from constants and static sizes)."""
        try:
            self.value(v)
        except _NotFoldable:
            return False
        return True

    def _evaluate(self, v: Value) -> Any:
        op = getattr(v, "op", None)
        if op is None:
            raise _NotFoldable
        if op.name == "torch.constant":
            data = _constant_value(op)
            if data is None:
                raise _NotFoldable
            self.known[v] = data
            return data
        try:
            results = self.results(op)
        except (KeyError, TypeError, ValueError) as e:
            raise _NotFoldable from e
        if results is None or len(results) != len(op.results):
            raise _NotFoldable
        self.known.update(zip(op.results, results))
        return self.known[v]

    def results(self, op: Operation) -> list[Any] | None:
        """The values of `op`'s results from known operands (raising _NotFoldable), None for an op not folded."""
        dialect, _, base = op.name.partition(".")
        if op.name == "torch.size":
            t = op.operands[0].type
            if not (isinstance(t, ShapedType) and t.has_static_shape):
                raise _NotFoldable
            dim = op.get_attr("dim")
            return [t.shape[dim.value]] if dim is not None else list(t.shape)
        if op.name == "torch.call":
            return self.call(op)
        if dialect in ("torch", "hl") and op.operands and base in _TYPED and base not in self.excluded:
            return self.typed(op, base)
        return None

    def decode(self, a: Any, operands: tuple, torch: Any) -> Any:
        """A torch.call attribute as the Python value it spelled, operands as torch tensors / ints."""
        from irq.dialects.torch_values import OperandRefAttr, PyRefAttr

        if a is None or isinstance(a, UnitAttr):
            return None
        if isinstance(a, (BoolAttr, IntegerAttr, FloatAttr, StringAttr)):
            return a.value
        if isinstance(a, ArrayAttr):
            return [self.decode(x, operands, torch) for x in a]
        if isinstance(a, DictionaryAttr):
            return {k: self.decode(x, operands, torch) for k, x in a.items()}
        if isinstance(a, OperandRefAttr):
            v = self.value(operands[a.index])
            return torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
        if isinstance(a, PyRefAttr):
            from irq.runtime.torch.resolve import resolve

            return resolve(a.value)
        if isinstance(a, TypeAttr):
            from irq.frontend.propagate import torch_dtype

            return torch_dtype(a.value)
        raise _NotFoldable

    # -- evaluating ops ----------------------------------------------------------------------------------------
    def call(self, op: Operation) -> list[Any]:
        target = op.get_attr("target").value
        if _callee(target) not in _PURE_CALLS or _callee(target) in self.excluded:
            raise _NotFoldable
        import torch
        from irq.runtime.torch.resolve import resolve

        args = [tuple(x) if isinstance(x, list) else x for x in self.decode(op.get_attr("args"), op.operands, torch)]
        kwargs = self.decode(op.get_attr("kwargs"), op.operands, torch) or {}
        try:
            if target.startswith("torch.Tensor."):
                out = getattr(args[0], target[len("torch.Tensor.") :])(*args[1:], **kwargs)
            else:
                out = resolve(target)(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - a call that fails here is left for lowering to name
            raise _NotFoldable from e
        if out is None and not any(r.has_uses() for r in op.results):
            return []  # a check that passed (export's aten._assert_tensor_metadata): nothing reads it
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(outs) != len(op.results) or not all(isinstance(o, torch.Tensor) for o in outs):
            raise _NotFoldable
        return [o.detach().numpy() for o in outs]

    def typed(self, op: Operation, base: str) -> list[Any]:
        tensors = [self.value(v) for v in op.operands]
        attr = {
            k: getattr(op.get_attr(k), "value", None) for k in ("predicate", "other", "kind", "value", "value_first")
        }
        if base == "compare_scalar":
            return [getattr(np, _PREDICATES[attr["predicate"]])(tensors[0], attr["other"])]
        if base == "compare":
            return [getattr(np, _PREDICATES[attr["predicate"]])(tensors[0], tensors[1])]
        if base == "logical":
            return [getattr(np, _LOGICAL[attr["kind"]])(tensors[0], tensors[1])]
        if base == "logical_not":
            return [np.logical_not(tensors[0])]
        if base == "where_scalar":
            cond, x = np.asarray(tensors[0], dtype=bool), tensors[1]
            fill = np.asarray(attr["value"], dtype=x.dtype)
            return [np.where(cond, fill, x) if attr["value_first"] else np.where(cond, x, fill)]
        if base in _LIKE:  # the result's shape and element type, one value
            t = op.results[0].type
            fill = {"zeros_like": 0, "ones_like": 1}.get(
                base, op.get_attr("fill_value") and op.get_attr("fill_value").value
            )
            return [np.full(tuple(t.shape), fill, dtype=storage_dtype(t.element_type))]
        if base == "amax":  # a constant bool attn_mask's "keeps any key" (irq/frontend/attention_mapping.py)
            from irq.passes._lowering import _reduced_dims

            data = np.asarray(tensors[0])
            keep = op.get_attr("keepdim")
            dims = tuple(_reduced_dims(op, data.ndim))
            return [np.amax(data, axis=dims, keepdims=bool(keep is not None and keep.value))]
        if base in ("add_scalar", "sub_scalar"):  # on integers only (exact): an index `arange(S) + offset`
            data, other, alpha = np.asarray(tensors[0]), attr["other"], op.get_attr("alpha")
            if not (np.issubdtype(data.dtype, np.integer) and type(other) is int and alpha in (None,)):
                raise _NotFoldable
            return [data + other if base == "add_scalar" else data - other]
        if base == "gather":
            return [_gather(op, np.asarray(tensors[0]), np.asarray(tensors[1]))]
        if base in _MOVEMENT and not any(v in self.sized for v in op.operands[1:]):
            # sizes read from constants only (fx's `buffer.expand(pos.shape[0], -1)`): one that reads an input's
            # size (the batch) is left, or the program would be pinned to the traced batch
            out = evaluate(op, np.asarray(tensors[0]))
            if out is not None:
                return out
        raise _NotFoldable

    def fold(self, op: Operation) -> bool:
        if op.name == "torch.size":  # read where used; lower-bpu erases unused sizes
            if not self.is_known(op.operands[0]):  # the size of a constant fixes nothing about the inputs
                self.sized.update(op.results)
            return False
        try:
            results = self.results(op)
        except (_NotFoldable, KeyError, TypeError, ValueError):
            return False
        if results is None:
            return False
        if not results and op.name == "torch.call":
            self.folded += 1
            op.erase()
            return True
        if any(
            not isinstance(r.type, TensorType) or tuple(np.shape(d)) != tuple(r.type.shape)
            for r, d in zip(op.results, results)
        ):
            return False
        self.replace(op, results)
        return True

    def replace(self, op: Operation, results: list[Any]) -> None:
        self.folded += 1
        dependent = any(v in self.sized for v in op.operands)
        if dependent:
            if self.first_sized is None:
                self.first_sized = op
                func = op.parent_op
                while func is not None and func.name != "func.func":
                    func = func.parent_op
                if func is not None:
                    what = op.get_attr("target").value if op.name == "torch.call" else op.name
                    func.attributes[SIZES_FIXED_AT] = StringAttr(f"'{what}' at {location_prefix(op.location)}")
        for i, (res, data) in enumerate(zip(op.results, results)):
            t = res.type
            stem = f"{(op.get_attr('owner') or StringAttr(op.name.split('.', 1)[1])).value}.fold{self.folded}"
            key = unique_key(f"{stem}.{i}" if len(results) > 1 else stem, self.taken)
            array = np.ascontiguousarray(np.asarray(data).astype(storage_dtype(t.element_type)))
            c = tdl.ConstantOp(
                DenseResourceElementsAttr.from_array(key, t, array), kind="constant", location=op.location
            )
            c.results[0].name_hint = key
            op.parent.insert_before(op, c)
            self.known[c.results[0]] = array
            self.made.append(c)
            res.replace_all_uses_with(c.results[0])
            if dependent:
                self.sized.add(c.results[0])
        op.erase()


def _gather(op: Operation, data: np.ndarray, index: np.ndarray) -> np.ndarray:
    """torch.gather: ``out[i][j] = data[i][index[i][j]]`` along `dim` (torch's definition), where `index` may be
    smaller than `data` in the other dims; an index torch would refuse (out of range, another rank, a float
    index) is not folded, so lowering names the op."""
    if not (np.issubdtype(data.dtype, np.integer) or data.dtype == np.bool_):
        raise _NotFoldable  # float data: lower-bpu's gather (passes/_lower_gather.py)
    if data.ndim != index.ndim or not np.issubdtype(index.dtype, np.integer) or data.ndim == 0:
        raise _NotFoldable
    dim = op.get_attr("dim").value % data.ndim
    if any(index.shape[d] > data.shape[d] for d in range(data.ndim) if d != dim):
        raise _NotFoldable
    if index.size and (index.min() < 0 or index.max() >= data.shape[dim]):
        raise _NotFoldable  # numpy would wrap a negative index; torch refuses it
    cut = data[tuple(slice(None) if d == dim else slice(0, index.shape[d]) for d in range(data.ndim))]
    return np.take_along_axis(cut, index, axis=dim)


_LIKE = frozenset({"zeros_like", "ones_like", "full_like"})
_TYPED = (
    frozenset({"compare", "compare_scalar", "logical", "logical_not", "where_scalar", "amax", "gather"})
    | {"add_scalar", "sub_scalar"}
    | _LIKE
    | _MOVEMENT
)


def fold_constants(root: Operation) -> int:
    """Fold every constant-only subgraph under `root` (see the module docstring); returns how many ops folded."""
    folder = _Folder(taken=resource_keys(root))
    for op in list(root.walk()):  # program order: a folded result is known to the ops after it
        if op.parent is not None:
            folder.fold(op)
    for c in reversed(folder.made):  # intermediate results only other folded ops read
        if not c.results[0].has_uses():
            c.erase()
    return folder.folded


@register_pass("fold-constants")
class FoldConstants(Pass):
    """Evaluate ops computed from constants and static sizes only (a causal mask from the input's size)."""

    def run(self, op: Operation) -> None:
        self.statistics["folded"] += fold_constants(op)
