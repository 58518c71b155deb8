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
from irq.ir.attributes import DictionaryAttr, OpaqueAttr
from irq.ir.block import Region
from irq.ir.location import CallSiteLoc, FileLineColLoc, FusedLoc, Location, NameLoc, SourceText, UnknownLoc
from irq.ir.operation import UnregisteredOp
from irq.ir.types import FunctionType, Type
from irq.text.asm_parser import OpAsmParser
from irq.text.fast_path import HIT, FastCustom
from irq.text.lalr import LalrSyntaxError, ParseTable, load_table
from irq.text.lexer import Lexer, Tok
from irq.text.parse_state import DeferredLoc, OpEntry, ParseState, unexpected_error

if TYPE_CHECKING:
    from lark import Lark

    from irq.dialects.builtin import ModuleOp
    from irq.ir.dialect import Context

GRAMMAR_PATH = Path(__file__).with_name("irq.lark")


class _Local(threading.local):
    state: ParseState | None = None


_local = _Local()


def _s() -> ParseState:
    return _local.state


class Reducer:
    """One method per grammar rule; the LALR driver calls them bottom-up with the rule's children."""

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
            total = 0
            for _, count, _ in groups:
                total += count
            if total != len(results):
                raise s.error(entry.pos, f"operation defines {len(results)} results but was provided {total} to bind")
            i = 0
            for name, count, pos in groups:
                s.define(name, list(results[i : i + count]), pos)
                i += count
        scope = s.scopes[-1]
        if scope.region is None:
            s.top_ops.append(op)
        else:
            scope.current_block().append(op)
        return None

    def fast_op(self, c):
        """Build the op the fast path read, through the grammar path's reducers in their order."""
        s = _s()
        f = c[0].value
        groups = [self.result_group([v] if n is None else [v, None, n]) for v, n in f.results]
        s.next_results = groups or None
        if isinstance(f, FastCustom):
            self.custom_name([f.name])
            return self.custom_op([f.name, f.items])
        self.generic_name([f.name])
        props = None if f.props is None else self._fast_dict(s, f.props)
        attrs = None if f.attrs is None else self._fast_dict(s, f.attrs)
        ftype = f.ftype
        if not isinstance(ftype, FunctionType):
            key, ins, single = ftype
            type_ = self.type
            ins = [type_([t]) for t in ins]
            if single:
                ftype = self.function_type([None, ins, None, None, f.outs[0]])
            else:
                ftype = self.function_type([None, ins, None, None, None, [type_([t]) for t in f.outs], None])
            s.lexer.fast_cache[key] = ftype
        return self.generic_op([f.name, None, f.operands, None, (), props, (), attrs, None, ftype])

    def _fast_dict(self, s: ParseState, entries: list) -> dict:
        d: dict = {}
        cache = s.lexer.fast_cache
        for e in entries:
            if e[0] == HIT:
                _, k, v, pos = e
            else:
                _, span, key_tok, node = e
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

    def custom_op(self, c):
        s = _s()
        name_tok, items = c
        written = name_tok.value
        ctx_ops = s.ctx.ops
        cls = ctx_ops.get(written)
        if cls is None:
            default = s.scopes[-1].default_dialect
            if default:
                cls = ctx_ops.get(f"{default}.{written}")
            if cls is None:
                cls = ctx_ops.get(f"builtin.{written}")
            if cls is None:
                raise s.error(
                    name_tok.pos,
                    f"custom op '{written}' is unknown (unregistered ops must use the generic form \"{written}\"(...))",
                )
        entry = s.op_stack[-1]
        entry.name = cls.name
        n_results = sum(g[1] for g in entry.results) if entry.results else 0
        parser = OpAsmParser(s, items, name_tok.pos, written, n_results, items[-1].pos if items else name_tok.pos)
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

    # ------------------------------------------------------------------ types
    def function_type(self, c):
        ins = c[1]
        if len(c) == 5:
            outs = [_s().type_of(c[4])]
        else:
            outs = c[5]
        return FunctionType(ins, outs)

    def type_list_opt(self, c):
        return c[0] if c else []

    def type_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def type(self, c):
        t = c[0]
        if isinstance(t, Type):
            return t
        return _s().type_of(t)

    # ------------------------------------------------------------------ attributes
    def attr_dict(self, c):
        return c[1]

    def attr_entries(self, c):
        return c[0] if c else {}

    def attr_entry_list(self, c):
        if len(c) == 1:
            k, v, pos = c[0]
            return {k: v}
        d = c[0]
        k, v, pos = c[2]
        if k in d:
            raise _s().error(pos, f"duplicate key '{k}' in dictionary attribute")
        d[k] = v
        return d

    def attr_entry(self, c):
        key, pos = c[0]
        if len(c) == 3 and isinstance(c[2], DeferredLoc):
            raise _s().error(c[2].pos, f"location alias '{c[2].alias}' is used in an attribute before it is defined")
        if len(c) == 1:
            from irq.ir.attributes import UnitAttr

            return (key, UnitAttr(), pos)
        return (key, c[2], pos)

    def attr_key(self, c):
        tok = c[0]
        if tok.type == "STRING":
            return (_s().string_value(tok), tok.pos)
        if tok.type == "TYPE" and not tok.value.isidentifier():
            raise _s().error(tok.pos, f"expected an attribute name, found '{tok.value}'")
        return (tok.value, tok.pos)

    def attr_value(self, c):
        first = c[0]
        if not isinstance(first, Tok):  # function_type or attr_dict
            if isinstance(first, dict):
                return DictionaryAttr(first)
            from irq.ir.attributes import TypeAttr

            return TypeAttr(first)
        n = len(c)
        if first.type == "LOC":  # a location as an attribute value
            return c[1]
        if first.type == "LBRACKET":
            from irq.ir.attributes import ArrayAttr

            return ArrayAttr(c[1])
        if n == 3:
            return _s().atom_attr(first, c[2])
        if first.type in ("DENSE", "DENSE_RESOURCE"):
            raise _s().error(first.pos, "expected ':' and a type after the dense literal")
        return _s().atom_attr(first)

    def attr_values_opt(self, c):
        return c[0] if c else []

    def attr_values(self, c):
        v = c[-1]
        if isinstance(v, DeferredLoc):
            raise _s().error(v.pos, f"location alias '{v.alias}' is used in an attribute before it is defined")
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    # ------------------------------------------------------------------ locations
    def loc_body(self, c):
        s = _s()
        first = c[0]
        n = len(c)
        if first.type == "ATTR_ALIAS":
            loc = s.attr_aliases.get(first.value)
            if loc is None:
                s.deferred_locs = True
                return DeferredLoc(first.value, first.pos)
            if not isinstance(loc, Location):
                raise s.error(first.pos, f"'{first.value}' is not a location alias")
            return loc
        if first.type == "STRING":
            text = s.string_value(first)
            if n == 1:
                return NameLoc(text)
            if n == 4:
                return NameLoc(text, c[2])
            line, col = _unsigned(c[2]), _unsigned(c[4])
            if n == 8:  # "f":1:2 to :5 (a range on one line)
                return FileLineColLoc(text, line, col, line, _unsigned(c[7]))
            if n == 9:  # "f":1:2 to 3:4
                return FileLineColLoc(text, line, col, _unsigned(c[6]), _unsigned(c[8]))
            return FileLineColLoc(text, line, col)
        word = first.value
        if n == 1:
            if word != "unknown":
                raise s.error(first.pos, f"expected 'unknown', found '{word}'")
            return UnknownLoc()
        if c[1].type == "LBRACKET" or c[1].type == "LESS":
            if word != "fused":
                raise s.error(first.pos, f"expected 'fused', found '{word}'")
            if n == 4:
                return FusedLoc(c[2])
            return FusedLoc(c[5], c[2])
        if word != "callsite":
            raise s.error(first.pos, f"expected 'callsite', found '{word}'")
        if c[3].value != "at":
            raise s.error(c[3].pos, f"expected 'at', found '{c[3].value}'")
        return CallSiteLoc(c[2], c[4])

    def loc_list_opt(self, c):
        return c[0] if c else []

    def loc_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    # ------------------------------------------------------------------ resources
    def resources(self, c):
        return None

    def resource_groups(self, c):
        return None

    def resource_group(self, c):
        s = _s()
        group = c[0].value
        if group not in ("dialect_resources", "external_resources"):  # MLIR's two kinds of file metadata
            raise s.error(c[0].pos, f"unknown key '{group}' in file metadata dictionary")
        for dialect, entries, pos in c[3]:
            if group == "dialect_resources" and dialect != "builtin":  # only builtin has resources (blobs)
                if dialect in s.ctx.dialects:
                    raise s.error(pos, f"unexpected 'resource' section for dialect '{dialect}'")
                raise s.error(pos, f"dialect '{dialect}' is unknown")
            for key, tok in entries:
                if group == "dialect_resources" and dialect == "builtin":
                    s.set_blob(key, tok)
                else:
                    s.extra_resources.append((group, dialect, key, tok.value))
        return None

    def resource_dialects(self, c):
        return c[0] if c else []

    def resource_dialect_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def resource_dialect(self, c):
        return (c[0][0], c[3], c[0][1])

    def resource_entries(self, c):
        return c[0] if c else []

    def resource_entry_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def resource_entry(self, c):
        return (c[0][0], c[2])


def _unsigned(tok: Tok) -> int:
    return _s().unsigned(tok)


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
    lexer.build_fast = lambda tok: reducer.operation([reducer.fast_op([tok]), None])
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
