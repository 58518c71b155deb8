"""Textual pass pipelines in mlir-opt's syntax.

    builtin.module(func.func(canonicalize, cse), dce, fuse{patterns=conv-bn,conv-relu max-iterations=10})

A name followed by `(` is an op anchor (a nested pass manager); any other name
is a pass, optionally with `{options}`. A flat list without an anchor is
allowed and runs on whatever op it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from irq.transform.pass_base import OptionError

#: Deepest nesting of op anchors accepted; real pipelines nest two or three deep, and the
#: parser and the pass manager it builds recurse once per level.
MAX_PIPELINE_DEPTH = 64


class PipelineSyntaxError(OptionError):
    def __init__(self, text: str, pos: int, message: str) -> None:
        self.text, self.pos = text, pos
        start = max(0, pos - 40)  # a window around the column: the pipeline may be thousands of characters
        excerpt, caret = text[start:pos + 40], pos - start
        if start:
            excerpt, caret = "..." + excerpt, caret + 3
        if pos + 40 < len(text):
            excerpt += "..."
        super().__init__(f"pipeline syntax error at column {pos + 1}: {message}\n  {excerpt}\n  {' ' * caret}^")


@dataclass
class PassSpec:
    name: str
    options: str = ""
    pos: int = 0


@dataclass
class NestSpec:
    anchor: str
    items: list = field(default_factory=list)
    pos: int = 0


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\n":
            self.i += 1

    def peek(self) -> str:
        self.ws()
        return self.text[self.i] if self.i < len(self.text) else ""

    def name(self) -> str:
        self.ws()
        start = self.i
        while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "_-.$"):
            self.i += 1
        if start == self.i:
            found = self.text[self.i] if self.i < len(self.text) else "end of text"
            raise PipelineSyntaxError(self.text, self.i, f"expected a pass or op name, found '{found}'")
        return self.text[start:self.i]

    def braced(self) -> str:
        # at '{': read to the matching '}', honouring nesting and quotes
        depth, start, quote = 0, self.i, False
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == '"':
                quote = not quote
            elif not quote:
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        self.i += 1
                        return self.text[start + 1:self.i - 1]
            self.i += 1
        raise PipelineSyntaxError(self.text, start, "unclosed '{'")


def parse_pipeline(text: str) -> list:
    """Parse into a list of PassSpec / NestSpec (top-level items)."""
    r = _Reader(text)
    items = _items(r, closer="", depth=0)
    if r.peek():
        raise PipelineSyntaxError(text, r.i, f"unexpected '{r.peek()}'")
    return items


def _items(r: _Reader, closer: str, depth: int) -> list:
    if depth > MAX_PIPELINE_DEPTH:
        raise PipelineSyntaxError(r.text, r.i, f"pipeline nested more than {MAX_PIPELINE_DEPTH} deep")
    items: list = []
    if r.peek() in (closer, "") and closer:
        return items
    while True:
        pos = (r.ws(), r.i)[1]
        name = r.name()
        c = r.peek()
        if c == "(":
            r.i += 1
            inner = _items(r, ")", depth + 1)
            if r.peek() != ")":
                raise PipelineSyntaxError(r.text, r.i, "expected ')'")
            r.i += 1
            items.append(NestSpec(name, inner, pos))
        elif c == "{":
            items.append(PassSpec(name, r.braced().strip(), pos))
        else:
            items.append(PassSpec(name, "", pos))
        c = r.peek()
        if c == ",":
            r.i += 1
            continue
        return items
