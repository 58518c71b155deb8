"""Frontend errors and warnings, and finding the user's frame in a stack.

Tracing errors surface deep inside torch.fx; users need the line of *their* model
that caused them. `user_frame` walks a traceback or stack outward and returns the
first frame that is neither torch, irq itself, nor the standard library.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import sysconfig
from types import FrameType, TracebackType

_IRQ_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_IRQ_PKG_DIRS = {_IRQ_DIR}
_STDLIB = {os.path.abspath(p) for p in (sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib"))
           if p}


def _library_dirs() -> tuple[str, ...]:
    dirs = list(_IRQ_PKG_DIRS)
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(torch.__file__)))
    return tuple(dirs)


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str, library_dirs: tuple[str, ...] | None = None) -> bool:
    """True for files of the user's code (not torch, not irq's package, not the stdlib, not generated code)."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    dirs = library_dirs if library_dirs is not None else _library_dirs()
    if any(path.startswith(d + os.sep) for d in dirs):
        return False
    if "site-packages" not in path and any(path.startswith(d + os.sep) for d in _STDLIB):
        return False
    return True


def user_stacklevel() -> int:
    """The `stacklevel` that points a warning issued by this function's caller at the innermost user frame
    (the user's `irq.prepare(...)` line rather than irq's own), 1 when there is none."""
    frame = sys._getframe(1)
    dirs = _library_dirs()
    level = 1
    while frame is not None:
        if is_user_file(frame.f_code.co_filename, dirs):
            return level
        frame = frame.f_back
        level += 1
    return 1


def register_library_dir(path: str) -> None:
    """Treat files under `path` as library code (irq's dialects/, passes/, runtime/ folders)."""
    _IRQ_PKG_DIRS.add(os.path.abspath(path))


def user_frame_of_traceback(tb: TracebackType | None) -> tuple[str, int, int] | None:
    """(file, line, column) of the innermost user frame of a traceback."""
    found = None
    dirs = _library_dirs()
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_user_file(code.co_filename, dirs):
            found = (code.co_filename, tb.tb_lineno, _column(code, tb.tb_lasti))
        tb = tb.tb_next
    return found


def user_frame_of_stack(frame: FrameType | None, library_dirs: tuple[str, ...],
                        known: dict[str, bool] | None = None) -> tuple[str, int, int] | None:
    """(file, line, column) of the innermost user frame, walking outward from `frame`.

    `known` caches is_user_file per file name for a caller that asks once per traced node.
    """
    while frame is not None:
        code = frame.f_code
        name = code.co_filename
        user = known.get(name) if known is not None else None
        if user is None:
            user = is_user_file(name, library_dirs)
            if known is not None:
                known[name] = user
        if user:
            return name, frame.f_lineno, _column(code, frame.f_lasti)
        frame = frame.f_back
    return None


def _column(code, lasti: int) -> int:
    """1-based column of the instruction at `lasti` (Python 3.11+ keeps columns), else 1."""
    if lasti < 0:
        return 1
    cols = _columns(code)
    i = lasti // 2
    return cols[i] if i < len(cols) else 1


@functools.lru_cache(maxsize=1024)
def _columns(code) -> tuple[int, ...]:
    """1-based start column per instruction of a code object (computed once: tracing asks per node)."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return ()
    return tuple((pos[2] + 1) if pos[2] is not None else 1 for pos in positions())


def source_line(filename: str, line: int) -> str:
    return linecache.getline(filename, line).strip()


class FrontendError(Exception):
    """Importing a model failed; the message names the user's file:line and what to do about it."""

    def __init__(self, message: str, *, filename: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.filename = filename
        self.line = line
        self.column = column


class TracingWarning(UserWarning):
    """The traced graph depends on something fx resolved in Python (train/eval mode, a flag)."""
