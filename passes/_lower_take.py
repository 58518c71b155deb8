"""lower-bpu's rewrites of issue 12's selections, broadcasts and constant fills: codes picked, never computed.

quant-annotate shares the input's quantizer with flip / expand / repeat / index_select / amax / amin / max and min
over a dim (hl.DATA_MOVEMENT), so the codes and the scale pass through and VALIDATION's torch op on the
fake-quantized values picks the same codes (quantization is monotonic, so the max of the codes is the code of
the max):

- flip, index_select (a constant index), repeat, and the expand of a size-1 dim to a static size: `bpu.take`
  along each dim (reversed indices, the index, ``tile(arange(n), r)``, ``[0] * n``);
- amax / amin and the values of max / min over a dim: `bpu.reduce_max` / `bpu.reduce_min`; topk's values (sorted):
  `bpu.topk`. The indices of max / min over a dim are `bpu.argmax` / `bpu.argmin` (i64, returned as they are);
  topk's indices are refused naming the op;
- the expand of a size-1 dim to a traced size (``cls.expand(x.shape[0], -1, -1)``: a ViT's class token, a
  constant expanded to the batch) is ``bpu.add(value, t, M_a = 2**30, M_b = 0, S = 30)`` with t the measured
  tensor's codes cut to that one dim: exactly `value` broadcast to t's size (the identity multiplier is exact
  on integers, and t contributes 0), so the batch follows t at any batch size (irq/batch_axis.py broadcasts);
- zeros_like / ones_like / full_like(x, v): the code ``rint(v / s_out)`` (half to even, clipped: VALIDATION's
  fake quantization of the constant) broadcast to x's shape the same way, with x as t.

Taking along the batch dim (a flip or repeat of the samples) is legal and pins the program to its traced batch
(bpu.take loses the batch there: another batch size is a clear error, as for roll).
"""

from __future__ import annotations

from irq.dialects import bpu
from irq.dialects.torch_values import OperandRefAttr
from irq.passes._lowering import (
    LoweringError,
    QValue,
    _constant_data,
    _int_type,
    _ints,
    _reduced_dims,
    _shape,
    _str,
    fp,
    np,
)

from irq.ir.attributes import ArrayAttr, BoolAttr, DenseArrayAttr, IntegerAttr, StringAttr
from irq.ir.operation import Operation
from irq.ir.types import FloatType, TensorType, i64


class TakeLowerings:
    """`lower_flip`, `lower_expand`, `lower_repeat`, `lower_index_select`, `lower_amax` / `lower_amin`,
    `lower_max_dim` / `lower_min_dim`, `lower_topk` and `lower_zeros_like` / `ones_like` / `full_like` (see the
    module docstring)."""

    # -- helpers ------------------------------------------------------------------------------------------
    def _take(self, value, shape: tuple[int, ...], dtype: str, dim: int, indices: list[int]):
        out_shape = shape[:dim] + (len(indices),) + shape[dim + 1 :]
        out = self.emit(
            bpu.TakeOp(
                value,
                dim=IntegerAttr(dim, i64),
                indices=DenseArrayAttr(i64, indices),
                result_types=[TensorType(out_shape, _int_type(dtype))],
            )
        ).out
        return out, out_shape

    def _reshape(self, value, shape: tuple[int, ...], dtype: str):
        return self.emit(bpu.ReshapeOp(value, result_types=[TensorType(shape, _int_type(dtype))])).out

    def _source(self, op: Operation) -> QValue:
        """The input's codes; a float constant (a class token nothing quantized before its expand) is quantized
        as the qcast after the op says: VALIDATION fake-quantizes the selected copies of the same values."""
        v = op.operands[0]
        ints = self.integer_constant(v)
        if ints is not None:  # indices (a buffer of token types): moved as they are, never quantized
            return ints
        data = _constant_data(v) if v not in self.q and v not in self.weights else None
        if data is None:
            return self.act(v)
        qc = self.single_qcast_user(op)
        if qc is None:
            raise LoweringError("selects from a float constant whose result is not quantized")
        scale, dtype, lo, hi = self.out_spec(qc)
        codes = np.clip(fp.quantize_to_codes(data, scale, dtype), lo, hi)
        return QValue(self.constant(codes, dtype, f"{_str(qc, 'owner') or 'constant'}.data"), scale, dtype)

    def _keep_codes(self, op: Operation, x: QValue, value) -> None:
        self.lowered.append(op)
        self.q[op.results[0]] = QValue(value, x.scale, x.dtype, raw=x.raw)
        if x.raw:
            return  # integers are never quantized (a qcast after them is refused where it is lowered)
        qc = self.single_qcast_user(op)
        if qc is not None and op.operands[0] not in self.q and op.operands[0] not in self.weights:
            self.q[qc.results[0]] = self.q[op.results[0]]  # the constant was quantized at that qcast's scale

    def _broadcast_like(self, value, dtype: str, like: QValue, out_shape: tuple[int, ...]):
        """`value` broadcast to `out_shape` by an add of `like` (that shape or broadcasting to it) times 0."""
        m = IntegerAttr(fp.IDENTITY_MULTIPLIER, i64)
        return self.emit(
            bpu.AddOp(
                value,
                like.value,
                lhs_multiplier=m,
                rhs_multiplier=IntegerAttr(0, i64),
                shift=IntegerAttr(fp.IDENTITY_SHIFT, i64),
                result_types=[TensorType(out_shape, _int_type(dtype))],
            )
        ).out

    def _measured(self, size_value) -> tuple[QValue, tuple[int, ...], int] | None:
        """(codes, shape, dim) of the quantized tensor whose traced size `size_value` is (a torch.size result)."""
        src = getattr(size_value, "op", None)
        if src is None or src.name != "torch.size":
            return None
        t = src.operands[0]
        dims = src.get_attr("dim")
        dim = dims.value if isinstance(dims, IntegerAttr) else size_value.index
        qv = self.q.get(t)
        if qv is None:  # a model input: its quantized form is its qcast's
            qv = next(
                (self.q[u.results[0]] for u in t.users if u.name == "quant.qcast" and u.results[0] in self.q), None
            )
        if qv is None or not qv.per_tensor:
            return None
        return qv, _shape(t), dim % len(_shape(t))

    # -- selections ---------------------------------------------------------------------------------------
    def lower_flip(self, op: Operation) -> None:
        x = self._source(op)
        shape, value = _shape(op.operands[0]), x.value
        for d in sorted({d % len(shape) for d in _ints(op, "dims", 1, 0, empty=[])}):
            if shape[d] > 1:
                value, _ = self._take(value, shape, x.dtype, d, list(range(shape[d] - 1, -1, -1)))
        self._keep_codes(op, x, value)

    def lower_index_select(self, op: Operation) -> None:
        x = self._source(op)
        data = _constant_data(op.operands[1])
        if data is None:
            raise LoweringError(
                "selects by a computed index tensor: a bpu program takes entries by constant "
                "indices only (make the index a constant, or gather in float before quantizing)"
            )
        shape = _shape(op.operands[0])
        dim = op.get_attr("dim").value % len(shape)
        idx = [int(i) for i in np.asarray(data).reshape(-1)]
        if any(not 0 <= i < shape[dim] for i in idx):
            raise LoweringError(f"index {idx} leaves [0, {shape[dim]}) along dim {dim}")
        value, _ = self._take(x.value, shape, x.dtype, dim, idx)
        if _shape(op.results[0]) != _shape(value):
            value = self._reshape(value, _shape(op.results[0]), x.dtype)  # a 0-D index drops nothing in torch
        self._keep_codes(op, x, value)

    def lower_repeat(self, op: Operation) -> None:
        x = self._source(op)
        shape = _shape(op.operands[0])
        reps = _ints(op, "repeats", 1, 1, empty=[])
        if any(r <= 0 for r in reps):
            raise LoweringError(f"repeats {reps}: a repeat by 0 makes an empty tensor, which no bpu op holds")
        shape = (1,) * (len(reps) - len(shape)) + shape
        value = self._reshape(x.value, shape, x.dtype) if shape != _shape(op.operands[0]) else x.value
        for d, r in enumerate(reps):
            if r > 1:
                value, shape = self._take(value, shape, x.dtype, d, list(range(shape[d])) * r)
        self._keep_codes(op, x, value)

    def lower_expand(self, op: Operation) -> None:
        x = self._source(op)
        if x.raw and self._broadcasts_by_measure(op, x):
            return self._defer_to_embeddings(op, x)
        self._keep_codes(op, x, self._expand_codes(op, x, x.value, _shape(op.operands[0]), _shape(op.results[0])))

    def _broadcasts_by_measure(self, op: Operation, x: QValue) -> bool:
        """Whether expand `op` lays a size-1 dim to another tensor's traced size (the batch: a bpu.add then)."""
        entries = list(op.get_attr("shape"))
        out_shape = _shape(op.results[0])
        shape = (1,) * (len(out_shape) - len(_shape(op.operands[0]))) + _shape(op.operands[0])
        for d, (have, want) in enumerate(zip(shape, out_shape)):
            e = entries[d]
            if have != want and isinstance(e, OperandRefAttr):
                measured = self._measured(op.operands[e.index])
                if measured is not None and measured[0].value is not x.value:
                    return True
        return False

    def _defer_to_embeddings(self, op: Operation, x: QValue) -> None:
        """Integers expanded to the batch (BERT's token types `buffer.expand(batch, S)`): the bpu.add that
        broadcasts codes takes no integers, so each embedding reading them looks up the unexpanded indices and
        expands its own codes the same way (`lower_embedding`): the rows picked are the same, since an expand
        copies indices and an embedding copies rows."""
        users = list(op.results[0].users)
        if not users or any(u.name != "hl.embedding" or u.operands[0] is not op.results[0] for u in users):
            raise LoweringError(
                "expands integers to another tensor's traced size (its batch): a bpu program broadcasts codes by "
                "an add, which takes no integers; only an embedding's indices may be expanded so (its codes are "
                "expanded instead)"
            )
        self.lowered.append(op)
        self.expanded_ids[op.results[0]] = (op, x)

    def _expand_codes(self, op: Operation, x: QValue, value, in_shape: tuple[int, ...], out_shape: tuple[int, ...]):
        """`value` (codes of shape `in_shape`, x's dtype) expanded to `out_shape` as expand `op` says: a size-1 dim
        laid to another tensor's traced size by a bpu.add of that tensor's codes times 0 (at any batch), to a
        static size by a bpu.take."""
        shape = (1,) * (len(out_shape) - len(in_shape)) + in_shape
        value = self._reshape(value, shape, x.dtype) if shape != in_shape else value
        entries = list(op.get_attr("shape"))
        for d, (have, want) in enumerate(zip(shape, out_shape)):
            if have == want:
                continue
            e = entries[d]
            measured = self._measured(op.operands[e.index]) if isinstance(e, OperandRefAttr) else None
            if measured is not None and measured[0].value is not x.value:
                t, t_shape, t_dim = measured
                like = t.value
                for k, n in enumerate(t_shape):  # t cut to its measured dim, then laid on dim d
                    if k != t_dim and n != 1:
                        cut = t_shape[:k] + (1,) + t_shape[k + 1 :]
                        like = self.emit(
                            bpu.SliceOp(
                                like,
                                dim=IntegerAttr(k, i64),
                                start=IntegerAttr(0, i64),
                                end=IntegerAttr(1, i64),
                                result_types=[TensorType(cut, _int_type(t.dtype))],
                            )
                        ).out
                        t_shape = cut
                line = tuple(want if k == d else 1 for k in range(len(shape)))
                like = QValue(self._reshape(like, line, t.dtype), t.scale, t.dtype)
                if t.raw:  # integer ids measure the batch: an i8 mask of them (the add reads it times 0)
                    mask = bpu.CompareOp(
                        like.value,
                        predicate=StringAttr("eq"),
                        threshold=IntegerAttr(0, i64),
                        result_types=[TensorType(line, _int_type("i8"))],
                    )
                    like = QValue(self.emit(mask).out, 1.0, "i8")
                shape = shape[:d] + (want,) + shape[d + 1 :]
                value = self._broadcast_like(value, x.dtype, like, shape)
            else:
                value, shape = self._take(value, shape, x.dtype, d, [0] * want)
        return value

    def lower_expand_as(self, op: Operation) -> None:
        """Broadcast by an add of `other`'s codes times 0 (its batch, at any batch size) when other is quantized;
        else by takes to its static shape."""
        x = self._source(op)
        out_shape = _shape(op.results[0])
        shape = (1,) * (len(out_shape) - len(_shape(op.operands[0]))) + _shape(op.operands[0])
        value = self._reshape(x.value, shape, x.dtype) if shape != _shape(op.operands[0]) else x.value
        other = self.q.get(op.operands[1])
        if other is not None and other.per_tensor and shape != out_shape:
            value = self._broadcast_like(value, x.dtype, other, out_shape)
        else:
            for d, want in enumerate(out_shape):
                if shape[d] != want:
                    value, shape = self._take(value, shape, x.dtype, d, [0] * want)
        self._keep_codes(op, x, value)

    # -- reductions that select -----------------------------------------------------------------------------
    def _reduce(self, op: Operation, dims: list[int], keepdim: bool, larger: bool) -> None:
        x = self.act(op.operands[0])
        if any(_shape(op.operands[0])[d] == 0 for d in dims):
            raise LoweringError("reduces an empty dim (torch refuses it)")
        cls = bpu.ReduceMaxOp if larger else bpu.ReduceMinOp
        value = self.emit(
            cls(
                x.value,
                dims=ArrayAttr(IntegerAttr(d, i64) for d in dims),
                keepdim=BoolAttr(keepdim),
                result_types=[TensorType(_shape(op.results[0]), _int_type(x.dtype))],
            )
        ).out
        self._keep_codes(op, x, value)

    def _reduce_all(self, op: Operation, larger: bool) -> None:
        rank = len(_shape(op.operands[0]))
        keep = op.get_attr("keepdim")
        self._reduce(op, _reduced_dims(op, rank), bool(keep.value) if keep is not None else False, larger)

    def lower_amax(self, op: Operation) -> None:
        self._reduce_all(op, True)

    def lower_amin(self, op: Operation) -> None:
        self._reduce_all(op, False)

    def _reduce_dim(self, op: Operation, larger: bool) -> None:
        """max / min over a dim: the values' codes by bpu.reduce_max / min when used, the indices (i64, returned
        or used as they are, never dequantized) by bpu.argmax / argmin: the codes of one per-tensor scale keep the
        values' order and ties, so the first index of the largest code is VALIDATION's index."""
        if not op.results[1].has_uses():
            return self._reduce_all(op, larger)
        x = self.act(op.operands[0])
        rank, keep = len(_shape(op.operands[0])), op.get_attr("keepdim")
        dim = op.get_attr("dim").value % rank
        if _shape(op.operands[0])[dim] == 0:
            raise LoweringError("reduces an empty dim (torch refuses it)")
        cls = bpu.ArgmaxOp if larger else bpu.ArgminOp
        keepdim = bool(keep.value) if keep is not None else False
        out_t = TensorType(_shape(op.results[1]), i64)
        index = self.emit(cls(x.value, dim=IntegerAttr(dim, i64), keepdim=BoolAttr(keepdim), result_types=[out_t]))
        op.results[1].replace_all_uses_with(index.out)
        if op.results[0].has_uses():
            self._reduce_all(op, larger)
        else:
            self.lowered.append(op)

    def lower_max_dim(self, op: Operation) -> None:
        self._reduce_dim(op, True)

    def lower_min_dim(self, op: Operation) -> None:
        self._reduce_dim(op, False)

    def lower_topk(self, op: Operation) -> None:
        """bpu.topk: the sorted k largest / smallest codes (values only; sorted = False is torch's own order,
        which no program reproduces, and the indices are i64)."""
        if op.results[1].has_uses():
            raise LoweringError("its indices are an i64 result, which a bpu program does not return: use the values")
        if not op.get_attr("sorted").value:
            raise LoweringError(
                "sorted = False leaves the order to torch's kernel, which the program cannot match: pass sorted=True"
            )
        x = self.act(op.operands[0])
        shape = _shape(op.operands[0])
        dim, k = op.get_attr("dim").value % len(shape), op.get_attr("k").value
        if k == 0:
            raise LoweringError("k = 0 makes an empty tensor, which no bpu op holds")
        value = self.emit(
            bpu.TopkOp(
                x.value,
                k=IntegerAttr(k, i64),
                dim=IntegerAttr(dim, i64),
                largest=op.get_attr("largest"),
                result_types=[TensorType(_shape(op.results[0]), _int_type(x.dtype))],
            )
        ).out
        self._keep_codes(op, x, value)

    # -- constant fills -----------------------------------------------------------------------------------
    def _fill(self, op: Operation, v: float) -> None:
        if not isinstance(op.results[0].type.element_type, FloatType):
            raise LoweringError("fills an integer tensor, which a bpu program does not compute")
        x = self.act(op.operands[0])
        qc, s_out, dtype, lo, hi = self._output(op)
        code = np.clip(fp.quantize_to_codes(np.full((1,) * len(_shape(op.operands[0])), v), s_out, dtype), lo, hi)
        c = self.constant(code, dtype, f"{op.get_attr('owner').value}.fill")
        self.q[qc.results[0]] = QValue(self._broadcast_like(c, dtype, x, _shape(op.results[0])), s_out, dtype)

    def lower_zeros_like(self, op: Operation) -> None:
        self._fill(op, 0.0)

    def lower_ones_like(self, op: Operation) -> None:
        self._fill(op, 1.0)

    def lower_full_like(self, op: Operation) -> None:
        self._fill(op, float(op.get_attr("fill_value").value))
