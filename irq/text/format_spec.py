"""Assembly format strings read into elements: the syntax half of irq/text/asm_format.py.

    assembly_format = "$input attr-dict `:` type($input) `to` type($output)"

A format string is tokenized and parsed here into a list of elements (`Literal`, `Var`,
`TypeOf`, `FunctionalType`, `AttrDict`, `AllOperands`, `AllRegions`, `AllSuccessors`,
`Group`, `Optional_`), and checked for completeness against the op's definition (every
operand, attribute and result type must be printable and parsable), so a bad format is a
`FormatError` when its op is first used. `asm_format.CompiledFormat` prints and parses ops
by walking these elements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from irq.ir.traits import SameOperandsAndResultType


class FormatError(Exception):
    """An assembly format string that cannot work for its op."""


# -- format AST ------------------------------------------------------------------------------
@dataclass
class Literal:
    text: str


@dataclass
class Var:
    name: str
    kind: str  # operand | attribute | region | successor
    anchor: bool = False


@dataclass
class TypeOf:
    target: str  # $name | operands | results


@dataclass
class FunctionalType:
    inputs: str
    outputs: str


@dataclass
class AttrDict:
    with_keyword: bool = False


@dataclass
class AllOperands:
    pass


@dataclass
class AllRegions:
    pass


@dataclass
class AllSuccessors:
    pass


@dataclass
class Group:
    """A `(`...`)` or `[`...`]` literal pair: one nested item group in the parsed text."""

    open: str
    elements: list = field(default_factory=list)


@dataclass
class Optional_:
    elements: list
    anchor: str


_TOKEN = re.compile(r"\s*(?:`([^`]*)`|(\$[A-Za-z_]\w*\^?)|(functional-type|type|attr-dict-with-keyword|attr-dict"
                    r"|operands|results|regions|successors)|(\()|(\))|(\?)|(,)|(\^))")


def _tokenize(fmt: str) -> list[str]:
    out = []
    pos = 0
    fmt = fmt.rstrip()
    while pos < len(fmt):
        m = _TOKEN.match(fmt, pos)
        if m is None:
            raise FormatError(f"cannot read assembly format at '{fmt[pos:pos + 20]}'")
        pos = m.end()
        if m.group(1) is not None:
            out.append("`" + m.group(1))
        else:
            out.append(next(g for g in m.groups()[1:] if g is not None))
    return out


class _FormatParser:
    def __init__(self, tokens: list[str], op_cls: type) -> None:
        self.toks = tokens
        self.i = 0
        self.cls = op_cls
        d = op_cls.definition
        self.kinds: dict[str, str] = {}
        for n, _ in d.operands:
            self.kinds[n] = "operand"
        for n, _ in d.results:
            self.kinds[n] = "result"
        for n in d.attributes:
            self.kinds[n] = "attribute"
        for n, _ in d.regions:
            self.kinds[n] = "region"
        for n, _ in d.successors:
            self.kinds[n] = "successor"

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse_elements(self, closer: str | None) -> list:
        elements: list = []
        while True:
            t = self.peek()
            if t is None:
                if closer is not None:
                    raise FormatError(f"missing '{closer}' in assembly format")
                return elements
            if closer is not None and t == closer:
                self.take()
                return elements
            elements.append(self.parse_element())

    def parse_element(self) -> Any:
        t = self.take()
        if t.startswith("`"):
            lit = t[1:]
            if lit in ("(", "["):
                inner = self.parse_elements("`" + (")" if lit == "(" else "]"))
                return Group(lit, inner)
            if lit in (")", "]"):
                raise FormatError(f"unbalanced '{lit}' in assembly format")
            return Literal(lit)
        if t.startswith("$"):
            name = t[1:].rstrip("^")
            kind = self.kinds.get(name)
            if kind is None:
                raise FormatError(f"'{name}' is not an operand, attribute, region or successor of {self.cls.name}")
            if kind == "result":
                raise FormatError(f"results cannot appear as '${name}'; use type(${name})")
            return Var(name, kind, t.endswith("^"))
        if t in ("type", "functional-type"):
            if self.take() != "(":
                raise FormatError(f"expected '(' after {t}")
            args = []
            while True:
                a = self.take()
                if a == ")":
                    break
                if a == ",":
                    continue
                args.append(a)
            if t == "type":
                if len(args) != 1:
                    raise FormatError("type(...) takes one argument")
                return TypeOf(args[0].lstrip("$") if args[0].startswith("$") else args[0])
            if len(args) != 2:
                raise FormatError("functional-type(...) takes two arguments")
            return FunctionalType(*[a.lstrip("$") if a.startswith("$") else a for a in args])
        if t == "attr-dict":
            return AttrDict(False)
        if t == "attr-dict-with-keyword":
            return AttrDict(True)
        if t == "operands":
            return AllOperands()
        if t == "regions":
            return AllRegions()
        if t == "successors":
            return AllSuccessors()
        if t == "(":
            inner = self.parse_elements(")")
            if self.peek() != "?":
                raise FormatError("an optional group '(...)' must be followed by '?'")
            self.take()
            anchors = [e.name for e in _walk(inner) if isinstance(e, Var) and e.anchor]
            if len(anchors) != 1:
                raise FormatError("an optional group needs exactly one anchor '^'")
            return Optional_(inner, anchors[0])
        raise FormatError(f"unexpected '{t}' in assembly format")


def _check_complete(op_cls: type, elements: list) -> None:
    """Reject a format whose text could not be parsed back into the op, as MLIR's OpFormatGen and
    xDSL do when the op is defined: every operand, region and successor must appear, every operand
    and result type must be printed or derivable (SameOperandsAndResultType, infer_result_types),
    and `attr-dict` must be there for the attributes the format does not name."""
    from irq.ir.opdef import Op

    d = op_cls.definition
    flat = list(_walk(elements))
    named = {e.name for e in flat if isinstance(e, Var)}
    if not any(isinstance(e, AttrDict) for e in flat):
        raise FormatError("'attr-dict' directive not found")
    checks = ((d.operands, AllOperands, "operand"), (d.regions, AllRegions, "region"),
              (d.successors, AllSuccessors, "successor"))
    for defs, directive, what in checks:
        if not any(isinstance(e, directive) for e in flat):
            for n, _ in defs:
                if n not in named:
                    raise FormatError(f"{what} '{n}' does not appear in the format, so it could not be parsed back")
    typed: set[str] = set()
    for e in flat:
        if isinstance(e, TypeOf):
            typed.add(e.target)
        elif isinstance(e, FunctionalType):
            typed.update((e.inputs, e.outputs))
    values = {n for n, _ in d.operands} | {n for n, _ in d.results} | {"operands", "results"}
    for t in typed:
        if t not in values:
            raise FormatError(f"'{t}' in type(...) or functional-type(...) is not an operand or result "
                              f"of {op_cls.name}")
    same = SameOperandsAndResultType in op_cls.traits and bool(typed)
    if not same and "operands" not in typed:
        for n, _ in d.operands:
            if n not in typed:
                raise FormatError(f"the type of operand '{n}' is not in the format "
                                  f"(add type(${n}) or functional-type(operands, results))")
    infers = getattr(op_cls.infer_result_types, "__func__", None) is not Op.infer_result_types.__func__
    if not same and not infers and "results" not in typed:
        for n, _ in d.results:
            if n not in typed:
                raise FormatError(f"the type of result '{n}' is not in the format and '{op_cls.name}' "
                                  f"does not infer it (add type(${n}) or define infer_result_types)")


def _colon_follows(elements: list, i: int) -> bool:
    """Is the next element after #i (skipping attr-dict) the literal ':'?"""
    for x in elements[i + 1:]:
        if isinstance(x, AttrDict):
            continue
        return isinstance(x, Literal) and x.text == ":"
    return False


def _walk(elements: list):
    for e in elements:
        yield e
        if isinstance(e, (Group, Optional_)):
            yield from _walk(e.elements)
