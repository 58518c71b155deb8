"""The torch dialect: the imported level, one op per torch.fx node, nothing lost.

    %conv1.weight = torch.constant dense_resource<conv1.weight> : tensor<64x3x7x7xf32>
    %0 = torch.conv2d %x, %conv1.weight {stride = [2, 2], padding = [3, 3], dilation = [1, 1],
                                         groups = 1 : i64, module = "conv1"} : (...) -> tensor<1x64x112x112xf32>
    %1 = torch.relu %0 {scope = "layer1.0"} : (tensor<...>) -> tensor<...>
    %2 = torch.call "tests.models.fpn.post_process"(%1) {args = [#torch.operand<0>]} : (...) -> ...

Known torch callables map to typed ops generated from the shared spec table
(dialects/_tensor_specs.py); each carries `module` (the nn.Module path) when it came
from a module call, and `scope` (the enclosing module's path) otherwise. Anything
else is a `torch.call` of its qualified name, kept and printed; `torch.constant`
holds parameters and buffers as `dense_resource` blobs named by state_dict key.
Non-tensor intermediate values (sizes) are `i64`/`f64`/`i1` values or `!torch.obj`.
"""

from __future__ import annotations

from irq.dialects._opspec import INT, STR, build_op
from irq.dialects._tensor_specs import SPECS
from irq.dialects.torch_values import ATTRIBUTES, PyObjectType

from irq.ir.attributes import ArrayAttr, DictionaryAttr, IntegerAttr, StringAttr
from irq.ir.dense import DenseElementsAttr, DenseResourceElementsAttr
from irq.ir.dialect import Dialect
from irq.ir.opdef import Op, attribute, operand, result, variadic_operand, variadic_result
from irq.ir.traits import ConstantLike, Pure
from irq.ir.types import IntegerType, ShapedType

DIALECT = Dialect("torch", "PyTorch operations as traced by torch.fx or torch.export.")
for _a in ATTRIBUTES:
    DIALECT.attribute(_a)
DIALECT.type(PyObjectType)

#: Attributes every generated torch op accepts besides its own.
COMMON_ATTRS = (("module", STR, True), ("scope", STR, True))

#: op class per spec name: OPS["conv2d"] is `torch.conv2d`.
OPS: dict[str, type[Op]] = {name: build_op(DIALECT, s, extra_attrs=COMMON_ATTRS) for name, s in SPECS.items()}


def _constant_value(a) -> bool | str:
    if isinstance(a, (DenseResourceElementsAttr, DenseElementsAttr)):
        return True
    return "must be a dense or dense_resource elements attribute"


@DIALECT.op
class ConstantOp(Op):
    """A parameter, buffer or tensor constant; `dense_resource<key>` is named by its state_dict key.

    `kind` is absent for parameters, "buffer" for persistent buffers and "constant"
    for other tensors (non-persistent buffers, constants the trace captured). Not
    `Pure`: a parameter no op uses is still part of the model's state (its
    checkpoint keys), so dead-code elimination must not drop it.

    A tied entry (one tensor under two state_dict keys, e.g. `b.weight = a.weight`)
    reads the first key's resource and names its own key in `tied_key`:
    `torch.constant {tied_key = "b.weight"} dense_resource<a.weight>`; the data is
    stored once and the torch executor registers one Parameter under both keys.
    """

    name = "torch.constant"
    traits = frozenset({ConstantLike})
    value = attribute(_constant_value)
    kind = attribute(lambda a: isinstance(a, StringAttr) and a.value in ("buffer", "constant"), optional=True)
    tied_key = attribute(StringAttr, optional=True)
    out = result()
    assembly_format = "attr-dict $value"

    def __init__(self, value, *, kind: str | None = None, tied_key: str | None = None, location=None) -> None:
        props = {"value": value}
        if kind:
            props["kind"] = StringAttr(kind)
        if tied_key:
            props["tied_key"] = StringAttr(tied_key)
        self._init_generic((), [value.type], None, props, 0, (), location)

    @classmethod
    def infer_result_types(cls, operands, properties):
        return [properties["value"].type]

    @property
    def key(self) -> str | None:
        """The state_dict key: `tied_key` for a tied entry, else the resource's key."""
        tied = self.properties.get("tied_key")
        if isinstance(tied, StringAttr):
            return tied.value
        v = self.value
        return v.key if isinstance(v, DenseResourceElementsAttr) else None

    def fold(self):
        return self.value

    def verify_op(self) -> None:
        if self.value.type is not self.out.type:
            raise self.error(f"value type {self.value.type} does not match result type {self.out.type}")


@DIALECT.op
class SizeOp(Op):
    """`x.size(dim)` / `x.shape[dim]` as an i64 value, or every dim (one result each) without `dim`."""

    name = "torch.size"
    traits = frozenset({Pure})
    input = operand(ShapedType)
    dim = attribute(INT.predicate(), optional=True, coerce=INT.coerce)
    module = attribute(StringAttr, optional=True)
    scope = attribute(StringAttr, optional=True)
    outs = variadic_result(IntegerType)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        t = self.input.type
        want = 1 if self.dim is not None else (t.rank if t.shape is not None else len(self.results))
        if len(self.results) != want:
            raise self.error(f"expected {want} result(s), got {len(self.results)}")
        if self.dim is not None and t.shape is not None:
            d = self.dim.value
            if not -t.rank <= d < t.rank:
                raise self.error(f"dim {d} is out of range for {t}")


def _verify_structure(op: Op, a, where: str) -> None:
    """Every #torch.operand<i> in args/kwargs names an existing operand."""
    from irq.dialects.torch_values import OperandRefAttr
    stack = [a]
    while stack:
        x = stack.pop()
        if isinstance(x, OperandRefAttr):
            if not 0 <= x.index < len(op.operands):
                raise op.error(f"{where} refers to operand #{x.index}, but the op has {len(op.operands)}")
        elif isinstance(x, ArrayAttr):
            stack.extend(x.value)
        elif isinstance(x, DictionaryAttr):
            stack.extend(x.value.values())


@DIALECT.op
class CallOp(Op):
    """A call of any other Python callable, by qualified name; `args`/`kwargs` spell its arguments.

    `target` is "pkg.module.fn", "torch.Tensor.method" for tensor methods, or
    "torch.ops.aten.x.default" for export's ATen ops. Tensors inside the arguments
    appear as #torch.operand<i>. Several results: one per element of a returned
    tuple or list; `results` = "tuple" / "list" says which, absent for a single value.
    """

    name = "torch.call"
    target = attribute(StringAttr)
    args = attribute(ArrayAttr)
    kwargs = attribute(DictionaryAttr, optional=True)
    results_kind = attribute(lambda a: isinstance(a, StringAttr) and a.value in ("tuple", "list"), optional=True)
    module = attribute(StringAttr, optional=True)
    scope = attribute(StringAttr, optional=True)
    inputs = variadic_operand()
    outs = variadic_result()
    assembly_format = "$target `(` $inputs `)` attr-dict `:` functional-type(operands, results)"

    def verify_op(self) -> None:
        _verify_structure(self, self.args, "args")
        if self.kwargs is not None:
            _verify_structure(self, self.kwargs, "kwargs")
        if self.results_kind is None and len(self.results) > 1:
            raise self.error("several results need results_kind = \"tuple\" or \"list\"")


def op_class(name: str) -> type[Op]:
    """The torch op class for a spec name ("conv2d") or full name ("torch.conv2d")."""
    return DIALECT.ops[name if name.startswith("torch.") else f"torch.{name}"]


__all__ = ["DIALECT", "OPS", "ConstantOp", "SizeOp", "CallOp", "op_class", "IntegerAttr"]
