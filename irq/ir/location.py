"""Source locations (MLIR's location attributes).

The parser gives every op without an explicit `loc(...)` a `SourcePosLoc`: the
file and character offset of the op. Line and column are computed only when a
diagnostic or the printer asks, from a line index shared by the whole file, so
parsing pays one small object per op and no line counting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Sequence

from irq.ir.attributes import Attribute

_set = object.__setattr__


class Location(Attribute):
    """Base of all locations."""

    __slots__ = ()

    def file_line_col(self) -> tuple[str, int, int] | None:
        """The first file position this location names, for diagnostics."""
        return None


class UnknownLoc(Location):
    __slots__ = ()
    _instance: UnknownLoc | None = None

    def __new__(cls) -> UnknownLoc:
        if cls._instance is None:
            inst = object.__new__(cls)
            _set(inst, "_text", None)
            cls._instance = inst
        return cls._instance


UNKNOWN_LOC = UnknownLoc()


class FileLineColLoc(Location):
    """`"file.py":12:4`, optionally a range `"file.py":12:4 to 13:2` (`to :9` on one line)."""

    __slots__ = ("filename", "line", "col", "end_line", "end_col")

    def __init__(self, filename: str, line: int, col: int, end_line: int | None = None,
                 end_col: int | None = None) -> None:
        if end_line is not None and end_col is None:
            raise ValueError("a location range needs an end column")
        if end_col is not None and end_line is None:
            end_line = line  # MLIR's `to :col`: the range ends on its first line
        _set(self, "filename", filename)
        _set(self, "line", line)
        _set(self, "col", col)
        _set(self, "end_line", end_line)
        _set(self, "end_col", end_col)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.filename, self.line, self.col, self.end_line, self.end_col)

    def file_line_col(self) -> tuple[str, int, int]:
        return (self.filename, self.line, self.col)


class SourceText:
    """A parsed file's text and name; maps offsets to (line, column) on demand."""

    __slots__ = ("filename", "text", "_line_starts")

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self._line_starts: list[int] | None = None

    def line_col(self, pos: int) -> tuple[int, int]:
        starts = self._line_starts
        if starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        line = bisect_right(starts, pos)
        return line, pos - starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        self.line_col(0)
        starts = self._line_starts
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[start:end]


class SourcePosLoc(Location):
    """The position of an op in a parsed file; prints as a `FileLineColLoc`."""

    __slots__ = ("source", "pos")

    def __init__(self, source: SourceText, pos: int) -> None:
        _set(self, "source", source)
        _set(self, "pos", pos)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return self.file_line_col()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (SourcePosLoc, FileLineColLoc)):
            return self.file_line_col() == other.file_line_col() and getattr(other, "end_line", None) is None
        return False

    def __hash__(self) -> int:
        return hash((FileLineColLoc, self.file_line_col(), None, None))

    @property
    def filename(self) -> str:
        return self.source.filename

    def file_line_col(self) -> tuple[str, int, int]:
        line, col = self.source.line_col(self.pos)
        return (self.source.filename, line, col)

    def to_file_line_col(self) -> FileLineColLoc:
        f, line, col = self.file_line_col()
        return FileLineColLoc(f, line, col)


class NestedLoc(Location, ABC):
    """A location made of other locations (name, fused, call site).

    Parsed locations nest as deep as the bracket limit allows (8,192), far past Python's
    recursion limit, so equality, hashing and `file_line_col` walk an explicit stack instead of
    recursing through `_key` tuples (issue 14: comparing two `loc("a"("a"(...)))` 3,000 deep raised
    RecursionError)."""

    __slots__ = ()

    @abstractmethod
    def _children(self) -> tuple[Location, ...]:
        """The nested locations, in the order MLIR prints (and searches) them."""

    def _own_key(self) -> tuple:
        """What this node holds besides its children (compared and hashed)."""
        return ()

    def __eq__(self, other: object) -> bool:
        return locations_equal(self, other)

    def __hash__(self) -> int:
        # A bounded pre-order walk: equal locations walk the same nodes, so they hash the same;
        # a difference deeper than the bound only costs a collision, never a wrong answer.
        h = []
        stack: list[Location] = [self]
        while stack and len(h) < _HASH_NODES:
            loc = stack.pop()
            if isinstance(loc, NestedLoc):
                h.append((type(loc), loc._own_key(), len(loc._children())))
                stack.extend(reversed(loc._children()))
            else:
                h.append(hash(loc))
        return hash(tuple(h))

    def file_line_col(self) -> tuple[str, int, int] | None:
        """The first file position in print order (a call site's callee before its caller)."""
        stack: list[Location] = [self]
        while stack:
            loc = stack.pop()
            if isinstance(loc, NestedLoc):
                stack.extend(reversed(loc._children()))
            else:
                flc = loc.file_line_col()
                if flc is not None:
                    return flc
        return None


_HASH_NODES = 64


def locations_equal(a: object, b: object) -> bool:
    """`a == b` for locations, iterative through nested ones (leaves compare with their own `==`)."""
    from irq.ir.attributes import attributes_equal

    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if not isinstance(x, NestedLoc) or not isinstance(y, NestedLoc):
            if isinstance(x, NestedLoc) or isinstance(y, NestedLoc) or not x == y:
                return False
            continue
        if type(x) is not type(y):
            return False
        kx, ky = x._own_key(), y._own_key()
        if len(kx) != len(ky) or not all(attributes_equal(u, v) if isinstance(u, Attribute) else u == v
                                         for u, v in zip(kx, ky)):
            return False
        cx, cy = x._children(), y._children()
        if len(cx) != len(cy):
            return False
        stack.extend(zip(cx, cy))
    return True


class NameLoc(NestedLoc):
    """`"layer1.conv"` or `"layer1.conv"(child)`: a named location (module paths)."""

    __slots__ = ("name", "child")

    def __init__(self, name: str, child: Location | None = None) -> None:
        _set(self, "name", name)
        _set(self, "child", child)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.name, self.child)

    def _own_key(self) -> tuple:
        return (self.name,)

    def _children(self) -> tuple[Location, ...]:
        return () if self.child is None else (self.child,)


class FusedLoc(NestedLoc):
    """`fused["a.py":1:1, "b.py":2:2]`, optionally with metadata `fused<#attr>[...]`."""

    __slots__ = ("locations", "metadata")

    def __init__(self, locations: Sequence[Location], metadata: Attribute | None = None) -> None:
        _set(self, "locations", tuple(locations))
        _set(self, "metadata", metadata)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.locations, self.metadata)

    def _own_key(self) -> tuple:
        return (self.metadata,)

    def _children(self) -> tuple[Location, ...]:
        return self.locations


class CallSiteLoc(NestedLoc):
    """`callsite("f" at "a.py":3:3)`."""

    __slots__ = ("callee", "caller")

    def __init__(self, callee: Location, caller: Location) -> None:
        _set(self, "callee", callee)
        _set(self, "caller", caller)
        _set(self, "_text", None)

    def _key(self) -> tuple:
        return (self.callee, self.caller)

    def _children(self) -> tuple[Location, ...]:
        return (self.callee, self.caller)
