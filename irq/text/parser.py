"""Text -> IR: an LALR(1) parser driving reducers that build IR directly.

lark compiles the grammar (irq.lark) into an LALR table, once per grammar version
(the table is cached on disk, see irq.text.lalr); irq's own driver runs it and
calls one `Reducer` method per grammar rule as it reduces. The methods build
operations, regions and attributes in place, so no parse tree is ever
materialized. Parsing executes nothing named by the text: no eval, no pickle,
no imports.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

# verbatim's checks run (imported lazily by types and attributes) while text is parsed: load them with the
# parser, so that parsing itself imports nothing (tests/test_no_code_execution.py)
import irq.text.verbatim  # noqa: E402,F401,I001
from irq.diagnostics import ParseError
from irq.ir.attributes import OpaqueAttr
from irq.ir.block import Region
from irq.ir.location import SourcePosLoc, SourceText
from irq.ir.operation import UnregisteredOp
from irq.ir.types import FunctionType, Type
from irq.text.asm_parser import OpAsmParser
from irq.text.current_parse import _local, _s, _unsigned
from irq.text.fast_path import HIT, FastCustom, FastGeneric, flat_items
from irq.text.lalr import LalrSyntaxError, ParseTable, load_table
from irq.text.lexer import Lexer, Tok
from irq.text.parse_state import OpEntry, ParseState, unexpected_error
from irq.text.reduce_values import ValueReducer
from irq.text.replay import make_plan, replay

if TYPE_CHECKING:
    from lark import Lark

    from irq.dialects.builtin import ModuleOp
    from irq.ir.dialect import Context
    from irq.ir.operation import Operation

GRAMMAR_PATH = Path(__file__).with_name("irq.lark")


class Reducer(ValueReducer):
    """One method per grammar rule; the LALR driver calls them bottom-up with the rule's children.

    Statements, ops, regions and blocks here; types, attributes, locations and resources in
    `ValueReducer` (irq/text/reduce_values.py).
    """

    # ------------------------------------------------------------------ file structure
    def file(self, c):
        return None

    def statements(self, c):
        return None

    def alias_def(self, c):
        s = _s()
        name = c[0]
        if name.type == "TYPE":
            if "." in name.value or "<" in name.value:
                raise s.error(name.pos, f"'{name.value}' is not a valid type alias name")
            if name.value in s.type_aliases:
                raise s.error(name.pos, f"redefinition of type alias '{name.value}'")
            t = c[2]
            s.type_aliases[name.value] = t if isinstance(t, Type) else s.type_of(t)
        else:
            if name.value in s.attr_aliases:
                raise s.error(name.pos, f"redefinition of attribute alias '{name.value}'")
            s.attr_aliases[name.value] = c[2]  # a DeferredLoc here is resolved with the other locations
            if isinstance(c[2], OpaqueAttr) and c[2].text.startswith(("affine_map<", "strided<")):
                s.type_aliases[name.value] = c[2]  # a memref layout alias: types read it (see type_parser)
        return None

    # ------------------------------------------------------------------ operations
    def operation(self, c):
        s = _s()
        if len(c) == 5:
            op, loc = c[2], c[3]
        elif len(c) == 3:
            op, loc = c[0], c[1]
        else:  # fast_op SEP
            op, loc = c[0], None
        entry = s.op_stack.pop()
        op.location = loc if loc is not None else s.op_location(entry.pos)
        groups = entry.results
        if groups:
            results = op.results
            if len(groups) == 1 and groups[0][1] == len(results):  # `%x =` / `%x:2 =`: all results, one name
                name, _, pos = groups[0]
                s.define(name, results, pos)
            else:
                total = 0
                for _, count, _ in groups:
                    total += count
                if total != len(results):
                    raise s.error(entry.pos,
                                  f"operation defines {len(results)} results but was provided {total} to bind")
                i = 0
                for name, count, pos in groups:
                    s.define(name, results[i : i + count], pos)
                    i += count
        scope = s.scopes[-1]
        if scope.region is None:
            s.top_ops.append(op)
        else:
            scope.current_block().append(op)
        return None

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
            op = replay(s, plan, f.operands, SourcePosLoc(s.source, pos))
        except BaseException:  # what an error is reported in: the op, as `fast_op` would have entered it
            s.op_stack.append(OpEntry(plan.cls.name, [(ref[1:], 1, pos)] if ref else None, pos))
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
            location = SourcePosLoc(s.source, pos)
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
                op = cls.create(operands, ftype.results, attrs, props, (), (), location)
        except BaseException:  # what an error is reported in: the op, as `fast_op` would have entered it
            s.op_stack.append(OpEntry(name, [(ref[1:], 1, pos)] if ref else None, pos))
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
            s.op_stack.append(OpEntry(name_tok.value, groups or None, groups[0][2] if groups else name_tok.pos))
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
        s.op_stack.append(OpEntry(name, groups or None, groups[0][2] if groups else name_tok.pos))
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

    def op_results(self, c):
        if len(c) == 1:
            groups = [c[0]]
        else:
            groups = c[0]
            groups.append(c[2])
        _s().next_results = groups
        return groups

    def result_group(self, c):
        tok = c[0]
        name = tok.value[1:]
        if "#" in name:
            raise _s().error(tok.pos, "result names cannot carry a result number")
        count = 1
        if len(c) == 3:
            count = _unsigned(c[2])
            if count < 1:
                raise _s().error(c[2].pos, "expected a positive number of results")
        return (name, count, tok.pos)

    def op_body(self, c):
        return c[0]

    def op_loc(self, c):
        return c[1] if c else None

    def _enter_op(self, tok: Tok, name: str) -> None:
        s = _s()
        groups = s.next_results
        s.next_results = None
        pos = groups[0][2] if groups else tok.pos
        s.op_stack.append(OpEntry(name, groups, pos))

    def generic_name(self, c):
        tok = c[0]
        s = _s()
        name = s.string_value(tok)
        if not name:
            raise s.error(tok.pos, "empty operation name is invalid")
        self._enter_op(tok, name)
        return tok

    def generic_op(self, c):
        s = _s()
        name_tok = c[0]
        operand_toks = c[2]
        successors, props, attrs, ftype = c[4], c[5], c[7], c[9]
        regions = [r.value for r in c[6]]
        name = s.op_stack[-1].name
        if len(operand_toks) != len(ftype.inputs):
            raise s.error(name_tok.pos, f"expected {len(operand_toks)} operand type(s) but had {len(ftype.inputs)}")
        use = s.use_value
        operands = [use(t, ty) for t, ty in zip(operand_toks, ftype.inputs)]
        cls = s.ctx.ops.get(name)
        if cls is None:
            dialect = name.partition(".")[0]
            if "." in name and dialect in s.ctx.dialects:
                # MLIR: a registered dialect owns its namespace; `arith.fooi` is a typo, not an extension
                raise s.error(name_tok.pos, f"operation '{name}' is not registered in dialect '{dialect}'")
            if not s.ctx.allow_unregistered:
                raise s.error(
                    name_tok.pos,
                    f"unregistered operation '{name}' found in dialect "
                    f"('{name.partition('.')[0]}') that does not allow unknown operations",
                )
            op = UnregisteredOp(name, operands, ftype.results, attrs, props, regions, successors)
        else:
            op = cls.create(operands, ftype.results, attrs, props, regions, successors)
        if regions:
            s.adopt_region_forwards(op)
        return op

    def value_list(self, c):
        return c[0] if c else []

    def values(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def props(self, c):
        return c[1] if c else None

    def successors(self, c):
        return c[1] if c else ()

    def successor_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def successor(self, c):
        s = _s()
        b = s.block_ref(c[0])
        if len(c) > 1:
            raise s.error(c[0].pos, "successor operands are not supported; pass values as op operands")
        return b

    def regions(self, c):
        return c[1] if c else ()

    def region_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def attr_dict_opt(self, c):
        return c[0] if c else None

    # ------------------------------------------------------------------ custom-form ops
    def custom_name(self, c):
        tok = c[0]
        self._enter_op(tok, tok.value)
        return tok

    @staticmethod
    def _custom_class(s: ParseState, name_tok: Tok) -> type | None:
        """The class a custom op name stands for here: as written, in the default dialect, in builtin."""
        written = name_tok.value
        ctx_ops = s.ctx.ops
        cls = ctx_ops.get(written)
        if cls is None:
            default = s.scopes[-1].default_dialect
            if default:
                cls = ctx_ops.get(f"{default}.{written}")
            if cls is None:
                cls = ctx_ops.get(f"builtin.{written}")
        return cls

    def custom_op(self, c, shape: tuple | None = None):
        """Build a custom-form op with its class's parse hook; `shape` (from the fast path) asks
        to keep a replay plan for later ops of that shape (irq/text/replay.py)."""
        s = _s()
        name_tok, items = c
        written = name_tok.value
        cls = self._custom_class(s, name_tok)
        if cls is None:
            raise s.error(
                name_tok.pos,
                f"custom op '{written}' is unknown (unregistered ops must use the generic form \"{written}\"(...))",
            )
        entry = s.op_stack[-1]
        entry.name = cls.name
        n_results = sum(g[1] for g in entry.results) if entry.results else 0
        parser = OpAsmParser(s, items, name_tok.pos, written, n_results, items[-1].pos if items else name_tok.pos)
        if shape is not None:
            parser.resolved = []
        try:
            op = cls.parse_custom(parser)
        except ParseError:
            raise
        except RecursionError:
            raise s.error(name_tok.pos, f"custom op '{written}' is nested too deeply to parse") from None
        except (ValueError, TypeError) as e:
            raise s.error(name_tok.pos, f"custom op '{written}': {e}") from None
        except Exception as e:  # a dialect's parse hook failing on odd input is still a syntax error here
            raise s.error(name_tok.pos, f"custom op '{written}' could not be parsed: {type(e).__name__}: {e}") from None
        if op.regions:
            s.adopt_region_forwards(op)
        elif shape is not None:
            plan = make_plan(op, parser.resolved, [t for t in items if t.type == "VALUE_ID"])
            if plan is not None:
                s.lexer.fast_cache[shape] = plan
        return op

    def custom_items(self, c):
        if not c:
            return []
        lst = c[0]
        if len(c) == 2:
            lst.append(c[1])
        else:  # an attribute dictionary: LBRACE entries RBRACE
            lst.append(Tok("ATTR_DICT", c[2], c[1].pos))
        return lst

    def paren_items(self, c):
        if len(c) == 4 and c[1].type == "LOC":
            lst = c[0]
            lst.append(Tok("LOC", c[2], c[1].pos))
            return lst
        return self.custom_items(c)

    def custom_atom(self, c):
        return c[0]

    def paren_group(self, c):
        return Tok("PARENS", c[1], c[0].pos)

    def bracket_group(self, c):
        return Tok("BRACKETS", c[1], c[0].pos)

    def props_group(self, c):
        return Tok("PROPS", c[1], c[0].pos)

    # ------------------------------------------------------------------ regions and blocks
    def region_open(self, c):
        _s().open_region()
        return c[0]

    def region(self, c):
        return _RegionTok(_s().close_region(c[2].pos), c[0].pos)

    def region_body(self, c):
        return None

    def block_label(self, c):
        s = _s()
        block = s.define_block(c[0])
        if len(c) == 5:
            for tok, t, loc in c[2]:
                name = tok.value[1:]
                if "#" in name:
                    raise s.error(tok.pos, "block argument names cannot carry a result number")
                arg = block.add_argument(t, loc)
                s.define(name, [arg], tok.pos)
        return None

    def block_args(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def block_arg(self, c):
        loc = c[4] if len(c) == 6 else None
        return (c[0], c[2], loc)


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


class _RegionTok(Tok):
    """A parsed region as an item (custom ops see it as a REGION item)."""

    __slots__ = ()

    def __init__(self, region: Region, pos: int) -> None:
        super().__init__("REGION", region, pos)


_table: tuple[ParseTable, list] | None = None
_table_lock = threading.Lock()


def _build_lark(strict: bool = False, grammar: str | None = None) -> Lark:
    """The lark LALR parser for irq.lark (tests build it with strict=True: conflicts are errors,
    and may pass a modified `grammar` text to show that the check can fail)."""
    from lark import Lark
    from lark.lexer import Lexer as _LarkLexer

    class _TokenSource(_LarkLexer):
        """Adapter giving lark the tokens of the `Lexer` of the current parse."""

        __future_interface__ = 2

        def __init__(self, conf) -> None:  # lark passes its lexer configuration
            pass

        def lex(self, lexer_state, parser_state):
            return _local.state.lexer.tokens()

    text = grammar if grammar is not None else GRAMMAR_PATH.read_text()
    return Lark(
        text,
        parser="lalr",
        lexer=_TokenSource,
        start="file",
        transformer=Reducer(),
        keep_all_tokens=True,
        maybe_placeholders=False,
        strict=strict,
    )


#: The reducers hold no state (it is in `_local.state`), so one serves every parse and thread.
_REDUCER = Reducer()


def _parser() -> tuple[ParseTable, list]:
    """The LALR table (cached on disk, see irq.text.lalr) and its rules bound to one Reducer."""
    global _table
    if _table is None:
        with _table_lock:
            if _table is None:
                table = load_table(GRAMMAR_PATH.read_text(), _build_lark)
                _table = (table, table.bind(_REDUCER))
    return _table


def parse_module(text: str | bytes, filename: str = "<string>", *, context: Context | None = None) -> ModuleOp:
    """Parse IR text into a `builtin.module` (top-level ops are wrapped in one if needed)."""
    from irq.ir.dialect import default_context

    ctx = context if context is not None else default_context()
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), filename)
    lexer = Lexer(text, filename, _op_words(ctx))
    state = ParseState(ctx, lexer, SourceText(filename, text))
    table, bound = _parser()
    reducer = _REDUCER
    lexer.build_fast = reducer.fast_statement
    previous = _local.state
    _local.state = state
    # Pause the cyclic GC: everything the parse allocates either stays reachable from the
    # module or dies by reference count, so collections during it would only re-scan the
    # growing IR (10-30% of the parse time at 1e5 ops) and free nothing.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        table.parse(lexer.tokens(), bound, Tok("$END", "", len(text)))
    except LalrSyntaxError as e:
        tok = e.token
        found = "end of input" if tok.type == "$END" else _describe_token(tok)
        expected = sorted({_TOKEN_NAMES.get(x, x) for x in e.expected if x != "FAST_OP"})
        raise lexer.error(tok.pos, f"unexpected {found}", expected) from None
    except RecursionError:
        raise lexer.error(state.op_stack[-1].pos if state.op_stack else 0, "input nested too deeply to parse") from None
    except ParseError:
        raise
    except (ValueError, TypeError, OverflowError, MemoryError) as e:  # a constructor refusing a value
        raise unexpected_error(state, e) from None
    finally:
        _local.state = previous
        if paused:
            gc.enable()
    return _finish(state)


def _op_words(ctx: Context) -> frozenset[str]:
    """Undotted words that name an op where they start a statement (`return`, `module`): the
    ops of builtin and of every dialect an op names as its regions' default dialect."""
    ops = ctx.ops
    key = len(ops)
    cached = getattr(ctx, "_irq_op_words", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    dialects = {"builtin"} | {d for cls in ops.values() if (d := getattr(cls, "default_dialect", None))}
    words = frozenset(name.partition(".")[2] for name in ops if name.partition(".")[0] in dialects)
    try:
        ctx._irq_op_words = (key, words)
    except AttributeError:  # a context with __slots__: recompute each time (a few hundred names)
        pass
    return words


def _finish(state: ParseState) -> ModuleOp:
    from irq.dialects.builtin import ModuleOp

    top = state.scopes[0]
    if top.forward:
        ph = min(top.forward.values(), key=lambda p: p.pos)
        raise state.error(ph.pos, f"use of undeclared SSA value name '{ph.ref}'")
    if top.forward_blocks:
        label, (_, pos) = next(iter(top.forward_blocks.items()))
        raise state.error(pos, f"reference to an undefined block '{label}'")
    state.check_resources()
    ops = state.top_ops
    if len(ops) == 1 and isinstance(ops[0], ModuleOp):
        module = ops[0]
    else:
        module = ModuleOp()
        body = module.body
        for op in ops:
            body.append(op)
    if state.deferred_locs:
        state.resolve_deferred_locations(module)
    if state.extra_resources:
        module.extra_resources = list(state.extra_resources)
    return module


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        prefix = data[: e.start]
        line = prefix.count(b"\n") + 1
        col = e.start - (prefix.rfind(b"\n") + 1) + 1
        src = prefix[prefix.rfind(b"\n") + 1 :].decode("utf-8", "replace")
        raise ParseError(f"invalid UTF-8 byte 0x{data[e.start]:02X}", filename, line, col, src) from None


def parse_file(path: str | os.PathLike, *, context: Context | None = None) -> ModuleOp:
    """Parse a file; errors name it."""
    p = Path(path)
    return parse_module(p.read_bytes(), str(path), context=context)


_TOKEN_NAMES = {
    "SEP": "end of statement",
    "VALUE_ID": "SSA value",
    "BLOCK_ID": "block label",
    "SYMBOL": "symbol",
    "STRING": "string",
    "INT": "integer",
    "FLOAT": "float",
    "BARE_ID": "identifier",
    "TYPE": "type",
    "LOC": "'loc('",
    "DENSE": "dense literal",
    "DENSE_RESOURCE": "dense_resource",
    "DENSE_ARRAY": "array literal",
    "DIALECT_ATTR": "dialect attribute",
    "ATTR_ALIAS": "attribute alias",
    "OPAQUE_ATTR": "attribute",
    "LPAREN": "'('",
    "RPAREN": "')'",
    "LBRACKET": "'['",
    "RBRACKET": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "REGION_OPEN": "region '{'",
    "PROPS_OPEN": "'<{'",
    "PROPS_CLOSE": "'}>'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "ARROW": "'->'",
    "STAR": "'*'",
    "QUESTION": "'?'",
    "PLUS": "'+'",
    "LESS": "'<'",
    "GREATER": "'>'",
    "PIPE": "'|'",
    "RES_OPEN": "'{-#'",
    "RES_CLOSE": "'#-}'",
    "$END": "end of input",
    "TO": "'to'",
}


def _describe_token(tok) -> str:
    if tok.type == "SEP":
        return "end of statement"
    name = _TOKEN_NAMES.get(tok.type, tok.type)
    value = tok.value if isinstance(tok.value, str) else ""
    if value and len(value) > 40:
        value = value[:37] + "..."
    return f"{name} '{value}'" if value and not name.startswith("'") else name
