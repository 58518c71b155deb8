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
from irq.ir.block import Region
from irq.ir.location import FileLineColLoc, Location, SourceText
from irq.ir.operation import UnregisteredOp
from irq.ir.types import Type
from irq.text.alias_groups import in_group_order, may_hold_groups
from irq.text.asm_parser import OpAsmParser
from irq.text.current_parse import _local, _s, _unsigned
from irq.text.fast_statements import FastStatements
from irq.text.lalr import LalrSyntaxError, ParseTable, load_table
from irq.text.lexer import Lexer, Tok, file_metadata_error, missing_token_position
from irq.text.parse_state import OpEntry, ParseState, inherent_to_properties, unexpected_error
from irq.text.reduce_values import ValueReducer
from irq.text.replay import make_plan
from irq.text.token_names import _TOKEN_NAMES, _describe_token

if TYPE_CHECKING:
    from lark import Lark

    from irq.dialects.builtin import ModuleOp
    from irq.ir.dialect import Context

GRAMMAR_PATH = Path(__file__).with_name("irq.lark")


class Reducer(FastStatements, ValueReducer):
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
            if not isinstance(c[2], Location):
                s.type_aliases[name.value] = c[2]  # a memref layout or memory space: types read it (type_parser)
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
        op.location = loc if loc is not None else s.op_location(entry.name_pos)
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
                    raise s.error(
                        entry.pos, f"operation defines {len(results)} results but was provided {total} to bind"
                    )
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
        s.op_stack.append(OpEntry(name, groups, pos, tok.pos))

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
            attrs, props = inherent_to_properties(cls, attrs, props)
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
        end = items[-1].pos if items else name_tok.pos
        parser = OpAsmParser(s, items, name_tok.pos, written, n_results, end, name_tok.pos + len(written))
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
                # no `loc(...)`: the argument's name token, where MLIR's parser places it
                arg = block.add_argument(t, loc if loc is not None else s.op_location(tok.pos))
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
    return parse_with_aliases(text, filename, context, None)


def parse_with_aliases(
    text: str | bytes, filename: str, context: Context | None, aliases: dict[str, object] | None
) -> ModuleOp:
    """`parse_module` with the aliases of an enclosing parse already defined (`!t` types, `#a`
    attributes): a type's part read on its own, like a memref's memory space or a tensor's
    encoding (irq.text.memref_parts), sees the aliases the text around it defined."""
    from irq.ir.dialect import default_context

    ctx = context if context is not None else default_context()
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), filename)
    lexer = Lexer(text, filename, _op_words(ctx))
    state = ParseState(ctx, lexer, SourceText(filename, text))
    if aliases:
        state.type_aliases.update(aliases)
        state.attr_aliases.update((k, v) for k, v in aliases.items() if k.startswith("#"))
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
        tokens = lexer.tokens()
        if may_hold_groups(text):  # alias groups defined out of order (irq.text.alias_groups)
            tokens = in_group_order(tokens, lexer)
        table.parse(tokens, bound, Tok("$END", "", len(text)))
    except LalrSyntaxError as e:
        tok = e.token
        found = "end of input" if tok.type == "$END" else _describe_token(tok)
        expected = sorted({_TOKEN_NAMES.get(x, x) for x in e.expected if x != "FAST_OP"})
        if "BARE_ID" in e.expected and (missing := file_metadata_error(text, tok.pos)) is not None:
            raise lexer.error(*missing, expected) from None
        raise lexer.error(missing_token_position(text, tok.pos), f"unexpected {found}", expected) from None
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
        # MLIR's parser places the module it wraps top-level ops in at line 0, column 0 of the file
        module.location = FileLineColLoc(state.source.filename, 0, 0)
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
