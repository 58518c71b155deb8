"""Declarative assembly formats, a subset of MLIR's ODS `assemblyFormat`.

    assembly_format = "$input attr-dict `:` type($input) `to` type($output)"

Directives: `$name` (operand, attribute, region or successor), `type($x)`,
`type(operands)`, `type(results)`, `functional-type(operands, results)`,
`attr-dict`, `attr-dict-with-keyword`, `operands`, `regions`, `successors`,
literals in backticks, and optional groups `(... $anchor^ ...)?`. Parentheses and
brackets written as literals (`` `(` ``, `` `[` ``) delimit nested groups.

A format compiles once, on first use, into a printer and a parser. Spacing
follows MLIR's generated printers (no space before `,` or after `(`), so a
format reproduces the text mlir-opt would print for the same op.

Ops without a format use the *default pretty form*
`name %a, %b [^bb1] ({...}) {attrs} : (t1, t2) -> t3`: MLIR's generic form
without quotes and parentheses, readable for every registered op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from irq.ir.attributes import Attribute, DenseArrayAttr
from irq.ir.opdef import OPTIONAL, SINGLE, VARIADIC
from irq.ir.traits import SameOperandsAndResultType
from irq.ir.types import f64, i32, i64
from irq.text.format_spec import (  # noqa: F401 - FormatError and the elements are this module's API too
    AllOperands,
    AllRegions,
    AllSuccessors,
    AttrDict,
    FormatError,
    FunctionalType,
    Group,
    Literal,
    Optional_,
    TypeOf,
    Var,
    _check_complete,
    _colon_follows,
    _FormatParser,
    _tokenize,
    _walk,
)

if TYPE_CHECKING:
    from irq.ir.operation import Operation
    from irq.text.asm_parser import OpAsmParser
    from irq.text.printer import Printer


_ATTRIBUTE_STARTS = {"INT", "FLOAT", "STRING", "SYMBOL", "TYPE", "DENSE", "DENSE_RESOURCE", "DENSE_ARRAY",
                     "DIALECT_ATTR", "ATTR_ALIAS", "OPAQUE_ATTR", "BRACKETS"}


# -- compiled format --------------------------------------------------------------------------
def _space_before_literal(value: str, last_punct: bool) -> bool:
    # MLIR OpFormatGen's shouldEmitSpaceBefore.
    if len(value) != 1 and value != "->":
        return True
    if last_punct:
        return value[0] not in ">)}],"
    return value[0] not in "<>(){}[],"


class CompiledFormat:
    def __init__(self, op_cls: type, fmt: str) -> None:
        self.cls = op_cls
        self.d = op_cls.definition
        self.elements = _FormatParser(_tokenize(fmt), op_cls).parse_elements(None)
        _check_complete(op_cls, self.elements)
        self.in_format = {e.name for e in _walk(self.elements) if isinstance(e, Var) and e.kind == "attribute"}
        self.operand_defs = dict(self.d.operands)
        self.region_defs = dict(self.d.regions)
        self.successor_defs = dict(self.d.successors)
        self.op_index = {n: i for i, (n, _) in enumerate(self.d.operands)}
        self.res_index = {n: i for i, (n, _) in enumerate(self.d.results)}

    # printing ------------------------------------------------------------------------------
    def print(self, op: Operation, p: Printer) -> None:
        out = p.out
        out.append(p.op_name(op))
        state = [True, False]  # should_emit_space, last_was_punctuation
        self._print_elements(self.elements, op, p, state)

    def _emit(self, p: Printer, state: list, text: str) -> None:
        if state[0]:
            p.out.append(" ")
        p.out.append(text)
        state[0] = True
        state[1] = False

    def _print_elements(self, elements: list, op: Operation, p: Printer, state: list) -> None:
        for i, e in enumerate(elements):
            if isinstance(e, Literal):
                if _space_before_literal(e.text, state[1]) and state[0]:
                    p.out.append(" ")
                p.out.append(e.text)
                state[0] = len(e.text) != 1 or e.text not in "<({["
                state[1] = e.text[0] != "_" and not e.text[0].isalpha()
            elif isinstance(e, Group):
                close = ")" if e.open == "(" else "]"
                self._print_elements([Literal(e.open), *e.elements, Literal(close)], op, p, state)
            elif isinstance(e, Optional_):
                if self._present(op, e.anchor):
                    self._print_elements(e.elements, op, p, state)
            elif isinstance(e, Var):
                self._print_var(e, op, p, state, _colon_follows(elements, i))
            elif isinstance(e, TypeOf):
                self._emit(p, state, p.types(self._types(op, e.target)))
            elif isinstance(e, FunctionalType):
                self._emit(p, state, p.function_type(self._types(op, e.inputs), self._types(op, e.outputs)))
            elif isinstance(e, AttrDict):
                elided = set(self.in_format)
                if self.d.operand_segments:
                    elided.add("operandSegmentSizes")
                if self.d.result_segments:
                    elided.add("resultSegmentSizes")
                text = p.attr_dict(op, elided, with_keyword=e.with_keyword)
                if text:
                    p.out.append(text)
                    state[0] = True
                    state[1] = False
            elif isinstance(e, AllOperands):
                if op.operands:
                    self._emit(p, state, p.values(op.operands))
            elif isinstance(e, AllRegions):
                for r in op.regions:
                    if state[0]:
                        p.out.append(" ")
                    p.print_region(r, print_empty_block=True)
                    state[0] = True
            elif isinstance(e, AllSuccessors):
                if op.successors:
                    self._emit(p, state, ", ".join(p.successor(b) for b in op.successors))

    def _print_var(self, e: Var, op: Operation, p: Printer, state: list, colon_follows: bool = False) -> None:
        if e.kind == "operand":
            v = getattr(op, e.name)
            if v is None or (isinstance(v, tuple) and not v):
                return
            self._emit(p, state, p.values(v) if isinstance(v, tuple) else p.value(v))
        elif e.kind == "attribute":
            a = op.get_attr(e.name)
            if a is not None:
                # before a ':' of the format, an i64 integer or f64 float prints without its type
                # (it would read as the attribute's type); the parser applies the same rule
                self._emit(p, state, p._array_elem(a) if colon_follows else p.attr(a))
        elif e.kind == "region":
            r = getattr(op, e.name)
            for region in (r if isinstance(r, tuple) else (r,)):
                if state[0]:
                    p.out.append(" ")
                p.print_region(region, print_empty_block=True)
                state[0] = True
        else:
            s = getattr(op, e.name)
            self._emit(p, state, ", ".join(p.successor(b) for b in (s if isinstance(s, tuple) else (s,))))

    def _present(self, op: Operation, name: str) -> bool:
        kind = self._kind(name)
        if kind == "attribute":
            return op.get_attr(name) is not None
        v = getattr(op, name)
        if isinstance(v, tuple):
            return bool(v)
        return v is not None

    def _kind(self, name: str) -> str:
        if name in self.op_index:
            return "operand"
        if name in self.res_index:
            return "result"
        if name in self.d.attributes:
            return "attribute"
        return "other"

    def _types(self, op: Operation, target: str) -> list:
        if target == "operands":
            return [v.type for v in op.operands]
        if target == "results":
            return [r.type for r in op.results]
        v = getattr(op, target)
        if v is None:
            return []
        if isinstance(v, tuple):
            return [x.type for x in v]
        return [v.type]

    # parsing ----------------------------------------------------------------------------------
    def parse(self, p: OpAsmParser) -> Operation:
        st = _ParseResult()
        self._parse_elements(self.elements, p, st)
        p.expect_end()
        return self._build(p, st)

    def _parse_elements(self, elements: list, p: OpAsmParser, st: _ParseResult) -> None:
        for i, e in enumerate(elements):
            if isinstance(e, Literal):
                if e.text.isidentifier():
                    p.parse_keyword(e.text)
                else:
                    p.expect_punct(e.text)
            elif isinstance(e, Group):
                sub = p.parse_parens() if e.open == "(" else p.parse_brackets()
                self._parse_elements(e.elements, sub, st)
                sub.expect_end()
            elif isinstance(e, Optional_):
                if self._optional_starts(e.elements[0], p):
                    self._parse_elements(e.elements, p, st)
            elif isinstance(e, Var):
                self._parse_var(e, p, st, colon_follows=_colon_follows(elements, i))
            elif isinstance(e, TypeOf):
                types = p.parse_type_list() if self._is_multi(e.target) else [p.parse_type()]
                st.types[e.target] = types
            elif isinstance(e, FunctionalType):
                ft = p.parse_function_type()
                st.types[e.inputs] = list(ft.inputs)
                st.types[e.outputs] = list(ft.results)
            elif isinstance(e, AttrDict):
                d = p.parse_optional_attr_dict_with_keyword() if e.with_keyword else p.parse_optional_attr_dict()
                st.attr_dict.update(d)
            elif isinstance(e, AllOperands):
                st.all_operands = p.parse_operand_list()
            elif isinstance(e, AllRegions):
                while True:
                    r = p.parse_optional_region()
                    if r is None:
                        break
                    st.regions.append(r)
            elif isinstance(e, AllSuccessors):
                b = p.parse_optional_successor()
                while b is not None:
                    st.successors.append(b)
                    if not p.parse_optional_punct(","):
                        break
                    b = p.parse_successor()

    def _optional_starts(self, first: Any, p: OpAsmParser) -> bool:
        t = p.peek()
        if t is None:
            return False
        if isinstance(first, Literal):
            if first.text.isidentifier():
                return t.type == "BARE_ID" and t.value == first.text
            from irq.text.asm_parser import _PUNCT
            return t.type == _PUNCT.get(first.text)
        if isinstance(first, Group):
            return t.type == ("PARENS" if first.open == "(" else "BRACKETS")
        if isinstance(first, Var):
            if first.kind == "operand":
                return t.type == "VALUE_ID"
            if first.kind == "region":
                return t.type == "REGION"
            if first.kind == "successor":
                return t.type == "BLOCK_ID"
            return t.type in _ATTRIBUTE_STARTS or (t.type == "BARE_ID" and t.value in ("true", "false", "unit"))
        if isinstance(first, (TypeOf, FunctionalType)):
            return t.type in ("TYPE", "PARENS")
        return False

    def _is_multi(self, target: str) -> bool:
        if target in ("operands", "results"):
            return True
        d = self.operand_defs.get(target)
        if d is not None:
            return d.kind != SINGLE
        rd = dict(self.d.results).get(target)
        return rd is not None and rd.kind != SINGLE

    def _parse_var(self, e: Var, p: OpAsmParser, st: _ParseResult, colon_follows: bool = False) -> None:
        if e.kind == "operand":
            d = self.operand_defs[e.name]
            if d.kind == SINGLE:
                st.operands[e.name] = [p.parse_operand()]
            elif d.kind == OPTIONAL:
                u = p.parse_optional_operand()
                st.operands[e.name] = [u] if u is not None else []
            else:
                st.operands[e.name] = p.parse_operand_list()
        elif e.kind == "attribute":
            t = p.peek()
            if colon_follows and t is not None and t.type in ("INT", "FLOAT"):
                # `$attr `:` ...`: the ':' belongs to the format, so the literal takes its
                # default type (i64 / f64), which the printer elides (ODS's I64Attr/F64Attr)
                st.props[e.name] = p.parse_attribute(f64 if t.type == "FLOAT" else i64)
            else:
                st.props[e.name] = p.parse_attribute()
        elif e.kind == "region":
            if self.region_defs[e.name].variadic:  # printed as zero or more regions in a row
                r = p.parse_optional_region()
                while r is not None:
                    st.regions.append(r)
                    r = p.parse_optional_region()
            else:
                st.regions.append(p.parse_region())
        elif self.successor_defs[e.name].variadic:  # printed as a comma-separated list, possibly empty
            b = p.parse_optional_successor()
            while b is not None:
                st.successors.append(b)
                b = p.parse_successor() if p.parse_optional_punct(",") else None
        else:
            st.successors.append(p.parse_successor())

    def _build(self, p: OpAsmParser, st: _ParseResult) -> Operation:
        d = self.d
        cls = self.cls
        # operands, grouped per declaration
        if st.all_operands is not None:
            groups = _split_all_operands(d, st.all_operands, st)
        else:
            groups = [st.operands.get(n, []) for n, _ in d.operands]
        # types
        op_types: list[list | None] = [st.types.get(n) for n, _ in d.operands]
        if "operands" in st.types:
            flat = st.types["operands"]
            sizes = [len(g) for g in groups]
            if len(flat) != sum(sizes):
                raise p.error(f"expected {sum(sizes)} operand types, got {len(flat)}")
            pos = 0
            op_types = []
            for n in sizes:
                op_types.append(flat[pos:pos + n])
                pos += n
        result_types: list | None = None
        if "results" in st.types:
            result_types = st.types["results"]
        elif d.results:
            collected = []
            known = True
            for n, _ in d.results:
                t = st.types.get(n)
                if t is None:
                    known = False
                    break
                collected.extend(t)
            result_types = collected if known else None
        same = SameOperandsAndResultType in cls.traits
        if same:
            known_t = None
            for ts in op_types:
                if ts:
                    known_t = ts[0]
                    break
            if known_t is None and result_types:
                known_t = result_types[0]
            if known_t is not None:
                op_types = [ts if ts is not None else [known_t] * len(g) for ts, g in zip(op_types, groups)]
                if result_types is None:
                    result_types = [known_t] * (p.num_results or len(d.results))
        operands = []
        for (n, _), us, ts in zip(d.operands, groups, op_types):
            if ts is None:
                if not us:
                    continue
                raise p.error(f"the format of '{cls.name}' does not give the type of operand '{n}'")
            operands.extend(p.resolve_operands(us, ts))
        props = dict(st.props)
        attrs: dict[str, Attribute] = {}
        for k, v in st.attr_dict.items():
            if k in d.attr_names or k in ("operandSegmentSizes", "resultSegmentSizes"):
                props[k] = v
            else:
                attrs[k] = v
        if d.operand_segments and "operandSegmentSizes" not in props:
            props["operandSegmentSizes"] = DenseArrayAttr(i32, [len(g) for g in groups])
        if result_types is None:
            try:
                result_types = cls.infer_result_types(operands, props)
            except TypeError as e:
                raise p.error(f"cannot infer the result types of '{cls.name}' (its format does not give "
                              f"them): {e}") from None
        return cls.create(operands, result_types, attrs, props, st.regions, st.successors)


@dataclass
class _ParseResult:
    operands: dict = field(default_factory=dict)
    all_operands: list | None = None
    types: dict = field(default_factory=dict)
    props: dict = field(default_factory=dict)
    attr_dict: dict = field(default_factory=dict)
    regions: list = field(default_factory=list)
    successors: list = field(default_factory=list)


def _split_all_operands(d, flat: list, st: _ParseResult) -> list[list]:
    kinds = [od.kind for _, od in d.operands]
    if VARIADIC not in kinds and OPTIONAL not in kinds:
        if len(flat) != len(kinds):
            pos = flat[0].tok.pos if flat else 0
            raise ValueError(f"expected {len(kinds)} operands, got {len(flat)} (at offset {pos})")
        return [[u] for u in flat]
    if sum(k != SINGLE for k in kinds) == 1:
        dyn = len(flat) - (len(kinds) - 1)
        out, pos = [], 0
        for k in kinds:
            n = 1 if k == SINGLE else dyn
            out.append(flat[pos:pos + n])
            pos += n
        return out
    sizes = st.attr_dict.get("operandSegmentSizes")
    if sizes is None:
        raise ValueError("operands of several variadic groups need 'operandSegmentSizes' in the attribute dictionary")
    out, pos = [], 0
    for n in sizes:
        out.append(flat[pos:pos + n])
        pos += n
    return out


# -- the default pretty form ---------------------------------------------------------------------
def print_default(op: Operation, p: Printer) -> None:
    # Regions print their empty entry block's label here and in declarative formats (unlike
    # MLIR's custom printers), so a region holding one empty block does not read back as empty.
    out = p.out
    out.append(p.op_name(op))
    if op.operands:
        out.append(" " + p.values(op.operands))
    if op.successors:
        out.append(" [" + ", ".join(p.successor(b) for b in op.successors) + "]")
    if op.regions:
        out.append(" (")
        for i, r in enumerate(op.regions):
            if i:
                out.append(", ")
            p.print_region(r, print_empty_block=True)
        out.append(")")
    out.append(p.attr_dict(op))
    out.append(" : " + p.function_type([v.type for v in op.operands], [r.type for r in op.results]))


def parse_default(cls: type, p: OpAsmParser) -> Operation:
    d = cls.definition
    us = p.parse_operand_list()
    successors = []
    br = p.parse_optional_brackets()
    if br is not None:
        b = br.parse_optional_successor()
        while b is not None:
            successors.append(b)
            if not br.parse_optional_punct(","):
                break
            b = br.parse_successor()
        br.expect_end()
    regions = []
    t = p.peek()
    if t is not None and t.type == "PARENS" and t.value and t.value[0].type == "REGION":
        sub = p.parse_parens()
        regions.append(sub.parse_region())
        while sub.parse_optional_punct(","):
            regions.append(sub.parse_region())
        sub.expect_end()
    attr_dict = p.parse_optional_attr_dict()
    p.expect_punct(":")
    ft = p.parse_function_type()
    p.expect_end()
    operands = p.resolve_operands(us, list(ft.inputs))
    props: dict[str, Attribute] = {}
    attrs: dict[str, Attribute] = {}
    names = d.attr_names if d is not None else frozenset()
    for k, v in attr_dict.items():
        if k in names or k in ("operandSegmentSizes", "resultSegmentSizes"):
            props[k] = v
        else:
            attrs[k] = v
    return cls.create(operands, list(ft.results), attrs, props, regions, successors)


def compiled_format(cls: type) -> CompiledFormat | None:
    fmt = cls.__dict__.get("_asm")
    if fmt is None:
        source = getattr(cls, "assembly_format", None)
        if not source:
            return None
        fmt = CompiledFormat(cls, source)
        cls._asm = fmt
    return fmt
