"""Diagnostics: errors and warnings that point at a file, line and column.

They print the way mlir-opt prints them (`file:line:col: error: message`), so
editors and `--verify-diagnostics` can use them. Handlers are a stack: tests and
`irq-opt --verify-diagnostics` push one to capture instead of printing.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irq.ir.location import Location
    from irq.ir.operation import Operation


def location_prefix(loc: Location | None) -> str:
    """`file:line:col` for a location, MLIR's `<unknown>:0` when it names no file."""
    flc = loc.file_line_col() if loc is not None else None
    if flc is None:
        return "<unknown>:0"
    return f"{flc[0]}:{flc[1]}:{flc[2]}"


#: a func.func attribute naming the op whose value fold-constants computed from the traced input sizes (a causal
#: mask of `x.size(1)`): the program is fixed to those sizes, and the runtimes name that op when refusing others
SIZES_FIXED_AT = "irq.sizes_fixed_at"


def sizes_fixed_note(func) -> str:
    """What a runtime adds to an input-shape refusal of a program whose sizes a folded op fixed, else ""."""
    a = func.attributes.get(SIZES_FIXED_AT) if func is not None else None
    return f" (its sizes were fixed at convert by {a.value})" if a is not None else ""


@dataclass
class Diagnostic:
    severity: str  # "error" | "warning" | "remark" | "note"
    message: str
    location: Location | None = None
    op: Operation | None = None
    notes: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.location is None and self.op is not None:
            self.location = self.op.location  # `Diagnostic(op=o)` points at the op, as MLIR's op.emitError does

    def format(self, *, show_op: bool = True) -> str:
        text = f"{location_prefix(self.location)}: {self.severity}: {self.message}"
        if show_op and self.op is not None:
            try:
                op_text = self.op.to_text(generic=True).split("\n", 1)[0]
            except Exception:  # a broken op must not hide the diagnostic about it
                op_text = f"'{self.op.name}' (unprintable)"
            text += f"\n{location_prefix(self.location)}: note: see current operation: {op_text}"
        for n in self.notes:
            text += "\n" + n.format(show_op=False)
        return text

    def __str__(self) -> str:
        return self.format()


class IRError(Exception):
    """Base of irq's errors about IR."""


class VerifyError(IRError):
    """The IR broke a rule; carries every diagnostic the verifier found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.format() for d in diagnostics))


class ParseError(ValueError, IRError):
    """Malformed IR text, with file, line, column, a caret excerpt and what was expected."""

    def __init__(self, message: str, filename: str = "<string>", line: int = 0, column: int = 0,
                 source_line: str | None = None, expected: list[str] | None = None) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.source_line = source_line
        self.expected = sorted(expected) if expected else []
        super().__init__(self._render())

    @property
    def excerpt(self) -> str:
        if self.source_line is None:
            return ""
        line = self.source_line
        col = max(self.column, 1)
        if len(line) > 160:  # keep huge lines readable: a window around the column
            start = max(0, col - 80)
            line = ("..." if start else "") + line[start:start + 160] + ("..." if start + 160 < len(line) else "")
            col = col - start + (3 if start else 0)
        return f"{line}\n{' ' * (col - 1)}^"

    def _render(self) -> str:
        text = f"{self.filename}:{self.line}:{self.column}: error: {self.message}"
        if self.expected:
            text += f" (expected {', '.join(self.expected)})"
        ex = self.excerpt
        if ex:
            text += "\n" + ex
        return text


# -- emission --------------------------------------------------------------------------------
Handler = Callable[[Diagnostic], None]


def _print_handler(d: Diagnostic) -> None:
    if sys.stderr is not None:  # print(file=None) would write the diagnostic into stdout
        print(d.format(show_op=False), file=sys.stderr)


_handlers: list[Handler] = [_print_handler]


def emit(d: Diagnostic) -> None:
    """Send a diagnostic to the innermost handler."""
    _handlers[-1](d)


@contextlib.contextmanager
def capture_diagnostics() -> Iterator[list[Diagnostic]]:
    """Collect emitted diagnostics instead of printing them."""
    got: list[Diagnostic] = []
    _handlers.append(got.append)
    try:
        yield got
    finally:
        _handlers.pop()
