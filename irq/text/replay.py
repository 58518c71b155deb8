"""Replaying how a flat custom-form op was built, for the next op of the same shape.

Why: in custom-form text most of a leaf op's parse time is its dialect's parse hook
(`parse_custom`: an `OpAsmParser` over item tokens, operand and type reads, attribute
conversion), and the hook's answer for `%3 = arith.addf %2, %arg1 : tensor<...>` is the
same as for `%2 = arith.addf %1, %arg1 : tensor<...>` except for which values it uses.

The fast path (`irq/text/fast_path.py`) keys a flat custom op by its *shape*: the op name
as written, the number of results, the literal, the type spellings and the number of
operands; everything but the operand names. The first op of a shape runs the hook with its
`OpAsmParser` recording the values it resolves (`OpAsmParser.resolved`); if the op it
returns is a pure function of the shape (below), a `Plan` is kept for the rest of the parse.
Later ops of that shape resolve their operand tokens with the types the hook gave (so a
forward reference, an undefined value or a type clash is reported exactly where and as the
hook would) and create the op from the plan.

Why the answer is a pure function of the shape: a flat custom op's items are values, `,`,
`:`, numbers, keywords and builtin types, and the hook sees nothing else (the parse state
only through `OpAsmParser`, whose type and attribute conversions depend on the token text
alone). The values' identities are the one input that differs, so a plan is kept only when
the op's operands are exactly the values the hook resolved, all distinct (so the order can
be mapped back), and the op holds nothing but what `Operation.create` sets (no region, no
successor, no instance attributes beyond its slots). The class is looked up again for every
op (an undotted name like `return` depends on the enclosing op's default dialect) and a
different class falls back to the hook. tests/test_fast_path.py compares the IR and errors
with the fast path on and off; tests/test_parse_replay.py covers the shapes a replay must
not get wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irq.ir.location import UNKNOWN_LOC

if TYPE_CHECKING:
    from irq.ir.location import Location
    from irq.ir.operation import Operation
    from irq.ir.types import Type
    from irq.ir.values import Value
    from irq.text.lexer import Tok
    from irq.text.parse_state import ParseState


class Plan:
    """How the op of one shape is built: class, operand reads and the create arguments."""

    __slots__ = ("cls", "uses", "order", "result_types", "attributes", "properties")

    def __init__(self, cls: type, uses: list[tuple[int, Type]], order: list[int], result_types: list[Type],
                 attributes: dict, properties: dict) -> None:
        self.cls = cls
        #: (index among the op's operand tokens, type) in the order the hook resolved them
        self.uses = uses
        #: op operand i is the order[i]-th resolved value (None: in the order resolved)
        self.order = None if order == list(range(len(order))) else order
        self.result_types = result_types
        self.attributes = attributes
        self.properties = properties


def make_plan(op: Operation, resolved: list[tuple[Tok, Type, Value]], operand_toks: list[Tok]) -> Plan | None:
    """A plan to build ops shaped like `op`, or None when `op` is not a pure function of its shape."""
    if op.regions or op.successors or getattr(op, "__dict__", None):
        return None
    values = [v for _, _, v in resolved]
    if len(values) != len(op.operands) or len({id(v) for v in values}) != len(values):
        return None
    where = {id(v): i for i, v in enumerate(values)}
    order = []
    for v in op.operands:
        i = where.get(id(v))
        if i is None:
            return None
        order.append(i)
    index = {id(t): i for i, t in enumerate(operand_toks)}
    uses = []
    for tok, ty, _ in resolved:
        i = index.get(id(tok))
        if i is None:
            return None
        uses.append((i, ty))
    return Plan(type(op), uses, order, [r.type for r in op.results], dict(op.attributes), dict(op.properties))


def replay(state: ParseState, plan: Plan, operands: list[tuple[str, int]],
           location: Location = UNKNOWN_LOC) -> Operation:
    """Build the op of `plan` on these operands ((reference, offset) pairs), resolving them as the hook did.

    The op is made by `Operation._create_leaf` from the plan's fields, not by the class's
    `create`: the plan holds what `create` made of the first op's arguments (a `create` that
    normalizes them, as arith's dropping its default flags, has already done so), and an op of
    the plan holds nothing else (`make_plan`), so setting the same fields builds the same op.
    """
    use = state.use_ref
    values = []
    for i, ty in plan.uses:
        ref, pos = operands[i]
        values.append(use(ref, pos, ty))
    order = plan.order
    args = tuple(values) if order is None else tuple([values[i] for i in order])
    attributes = plan.attributes
    properties = plan.properties
    return plan.cls._create_leaf(args, plan.result_types, dict(attributes) if attributes else {},
                                 dict(properties) if properties else {}, location)
