"""The one-call statement builders the lexer's fast path feeds (`Reducer` inherits them).

Split from parser.py: these methods build a FAST_OP statement (a leaf op the lexer recognised whole,
irq/text/fast_path.py) without the grammar's reductions — a replayed custom op or a generic op bound to one
name in one call, else the same `fast_op` -> `operation` the grammar path runs — so they are the parse's
hot path and are read together. The reducers they fall back on (`operation`, `generic_op`, `attr_value`,
...) are `Reducer`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irq.ir.location import SourcePosLoc
from irq.ir.operation import UnregisteredOp
from irq.ir.types import FunctionType
from irq.text.current_parse import _local, _s
from irq.text.fast_path import HIT, FastCustom, FastGeneric, flat_items
from irq.text.lexer import Tok
from irq.text.parse_state import OpEntry, ParseState, inherent_to_properties
from irq.text.replay import replay

if TYPE_CHECKING:
    from irq.ir.operation import Operation


class FastStatements:
    """Mixin of `irq.text.parser.Reducer`: the fast path's statement builders."""

    def fast_statement(self, tok: Tok) -> None:
        """Build the FAST_OP statement `tok` and place it: `fast_op`, then `operation`.

        The lexer calls this once per leaf op (see `Lexer.build_fast`). The commonest statements
        have their results bound to one name or none (`%3 = arith.addf %2, %arg1 : t`,
        `%3 = "d.op"(%2) {...} : (t) -> t`, `return %x : t`): a replayed custom op and a generic
        op of these go through `_replay_statement` / `_generic_statement`, which do the same as
        those reducers in one call each and build the op's `OpEntry` only for an error's report.
        """
        f = tok.value
        s = _local.state
        if type(f) is FastCustom:
            if f.plan is not None and self._replay_statement(s, f):
                return
        elif self._generic_statement(s, f):
            return
        self.operation([self.fast_op([tok]), None])

    @staticmethod
    def _one_name(f: FastCustom | FastGeneric) -> tuple[str | None, int] | None:
        """(the bound name with its `%`, or None for no result; the op's offset) if the statement binds
        all its results to one name or has none; None for `%a:2 =`, `%a#1 =`, `%a, %b =`."""
        results = f.results
        if not results:
            return None, f.name.pos
        if len(results) != 1:
            return None
        v, count = results[0]
        if count is not None or "#" in v.value:
            return None
        return v.value, v.pos

    def _replay_statement(self, s: ParseState, f: FastCustom) -> bool:
        """`fast_op` + `operation` for a replayed op with no result or all results bound to one
        name; False (nothing done) for any other statement, which the general path builds."""
        plan = f.plan
        results = f.results
        if results:
            if len(results) != 1:
                return False
            v, count = results[0]
            ref = v.value
            if count is not None or "#" in ref or len(plan.result_types) != 1:
                return False  # `%a:2 =`, `%a#1 =`, or a result count `operation` reports
            pos = v.pos
        elif plan.result_types:
            return False  # results nobody binds: the general path
        else:
            ref = None
            pos = f.name.pos
        cls = plan.cls
        if s.ctx.ops.get(f.name.value) is not cls and self._custom_class(s, f.name) is not cls:
            return False  # (the first lookup is `_custom_class`'s own first, which a dotted name hits)
        try:
            op = replay(s, plan, f.operands, SourcePosLoc(s.source, f.name.pos))
        except BaseException:  # what an error is reported in: the op, as `fast_op` would have entered it
            s.op_stack.append(OpEntry(plan.cls.name, [(ref[1:], 1, pos)] if ref else None, pos, f.name.pos))
            raise
        _place(s, op, ref, pos)
        return True

    def _generic_statement(self, s: ParseState, f: FastGeneric) -> bool:
        """`fast_op` + `generic_op` + `operation` for a generic op with no result or all results
        bound to one name, in their order of checks; False (nothing done) for any other."""
        bound = self._one_name(f)
        if bound is None:
            return False
        ref, pos = bound
        name_tok = f.name
        raw = name_tok.value
        name = raw[1:-1] if "\\" not in raw else s.string_value(name_tok)
        if not name:
            raise s.error(name_tok.pos, "empty operation name is invalid")
        try:
            props = None if f.props is None else self._fast_dict(s, f.props)
            attrs = None if f.attrs is None else self._fast_dict(s, f.attrs)
            ftype = f.ftype
            if not isinstance(ftype, FunctionType):
                ftype = self._fast_function_type(s, f)
            operand_toks = f.operands
            inputs = ftype.inputs
            if len(operand_toks) != len(inputs):
                raise s.error(name_tok.pos, f"expected {len(operand_toks)} operand type(s) but had {len(inputs)}")
            use = s.use_value
            operands = tuple([use(t, ty) for t, ty in zip(operand_toks, inputs)])
            ctx = s.ctx
            cls = ctx.ops.get(name)
            location = SourcePosLoc(s.source, name_tok.pos)
            if cls is None:
                dialect = name.partition(".")[0]
                if "." in name and dialect in ctx.dialects:
                    raise s.error(name_tok.pos, f"operation '{name}' is not registered in dialect '{dialect}'")
                if not ctx.allow_unregistered:
                    raise s.error(
                        name_tok.pos,
                        f"unregistered operation '{name}' found in dialect "
                        f"('{dialect}') that does not allow unknown operations",
                    )
                # UnregisteredOp(...) without its argument conversions: the fields are final here
                op = UnregisteredOp._create_leaf(operands, ftype.results, {} if attrs is None else attrs,
                                                 {} if props is None else props, location)
                op.name = name
            else:
                attrs, props = inherent_to_properties(cls, attrs, props)
                op = cls.create(operands, ftype.results, attrs, props, (), (), location)
        except BaseException:  # what an error is reported in: the op, as `fast_op` would have entered it
            s.op_stack.append(OpEntry(name, [(ref[1:], 1, pos)] if ref else None, pos, name_tok.pos))
            raise
        if ref is not None and len(op.results) != 1:
            raise s.error(pos, f"operation defines {len(op.results)} results but was provided 1 to bind")
        _place(s, op, ref, pos)
        return True

    def _fast_function_type(self, s: ParseState, f: FastGeneric) -> FunctionType:
        """The FunctionType of a generic op the fast path read, converted as the grammar path
        does (`type`, then `function_type`) and cached under its text for the next op."""
        key, ins, single = f.ftype
        type_ = self.type
        ins = [type_([t]) for t in ins]
        if single:
            ftype = self.function_type([None, ins, None, None, f.outs[0]])
        else:
            ftype = self.function_type([None, ins, None, None, None, [type_([t]) for t in f.outs], None])
        s.lexer.fast_cache[key] = ftype
        return ftype

    def fast_op(self, c):
        """Build the op the fast path read, through the grammar path's reducers in their order."""
        s = _s()
        f = c[0].value
        groups = []
        for v, n in f.results:  # as `result_group`, which the rare `%x#1 =` / `%x:2 =` still go through
            if n is None and "#" not in v.value:
                groups.append((v.value[1:], 1, v.pos))
            else:
                groups.append(self.result_group([v] if n is None else [v, None, n]))
        name_tok = f.name
        if isinstance(f, FastCustom):  # as `custom_name` then `custom_op`
            s.op_stack.append(
                OpEntry(name_tok.value, groups or None, groups[0][2] if groups else name_tok.pos, name_tok.pos)
            )
            plan = f.plan
            if plan is not None:
                if self._custom_class(s, name_tok) is plan.cls:
                    s.op_stack[-1].name = plan.cls.name
                    return replay(s, plan, f.operands)
                f.items = flat_items(f.match)  # another class under this name here: its own hook
            return self.custom_op([name_tok, f.items], f.key)
        raw = name_tok.value  # as `generic_name`
        name = raw[1:-1] if "\\" not in raw else s.string_value(name_tok)
        if not name:
            raise s.error(name_tok.pos, "empty operation name is invalid")
        s.op_stack.append(OpEntry(name, groups or None, groups[0][2] if groups else name_tok.pos, name_tok.pos))
        props = None if f.props is None else self._fast_dict(s, f.props)
        attrs = None if f.attrs is None else self._fast_dict(s, f.attrs)
        ftype = f.ftype
        if not isinstance(ftype, FunctionType):
            ftype = self._fast_function_type(s, f)
        return self.generic_op([name_tok, None, f.operands, None, (), props, (), attrs, None, ftype])

    def _fast_dict(self, s: ParseState, entries: list) -> dict:
        d: dict = {}
        cache = s.lexer.fast_cache
        for e in entries:
            if e[0] == HIT:
                _, k, v, pos = e
            else:
                _, span, key_tok, node = e
                if key_tok.type == "BARE_ID" and type(node) is Tok and node.type == "STRING":
                    # `name = "s"`, mostly a different string each time: what attr_key, attr_entry and
                    # attr_value would make of it, without the calls
                    k, v, pos = key_tok.value, s.string_attr(node), key_tok.pos
                    if span is not None:
                        cache[span] = (k, v)
                    if k in d:
                        raise s.error(pos, f"duplicate key '{k}' in dictionary attribute")
                    d[k] = v
                    continue
                key = self.attr_key([key_tok])
                k, v, pos = self.attr_entry([key] if node is None else [key, None, self._fast_value(node)])
                if span is not None:
                    cache[span] = (k, v)
            if k in d:  # as attr_entry_list
                raise s.error(pos, f"duplicate key '{k}' in dictionary attribute")
            d[k] = v
        return d

    def _fast_value(self, node):
        if isinstance(node, Tok):
            return self.attr_value([node])
        if len(node) == 2:  # (literal, type)
            return self.attr_value([node[0], None, node[1]])
        values: list = []
        for i, item in enumerate(node[1]):
            v = self._fast_value(item)
            values = self.attr_values([v] if i == 0 else [values, None, v])
        return self.attr_value([Tok("LBRACKET", "[", node[2]), values, None])

def _place(s: ParseState, op: Operation, ref: str | None, pos: int) -> None:
    """Bind `op`'s results to `ref` (`%name`, or None) and append it where the statement stands,
    as `Reducer.operation` does for a statement whose results are bound to one name."""
    if ref is not None:
        s.define(ref[1:], op.results, pos)
    scope = s.scopes[-1]
    if scope.region is None:
        s.top_ops.append(op)
    else:
        scope.current_block().append(op)
