"""Writing output files without clobbering what the path names.

`irq-opt -o PATH`, `Module.save(PATH)`, `irq run -o PATH`, `--view-op-graph` and reproducer files
all write through here; the CLI calls `check_writable` first, to fail before minutes of work.
A regular file (or a path that does not exist yet) is replaced atomically: the text
goes to a temporary file in the same directory, which is renamed over the target, so
readers never see half a file and a failed write leaves the old one intact. Anything
else is written through, in place, as `open(path, "w")` would: renaming over a FIFO,
a terminal or `/dev/null` would replace the special file itself with a regular file
(run as root, `irq-opt in.irq -o /dev/null` once did exactly that). A symlink is
followed: its target is what gets written or replaced, and the link stays a link.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable


class OutputError(OSError):
    """An output file could not be written; `str()` is one line naming the path and the reason."""

    def __init__(self, path: str, reason: str, err: int | None = None) -> None:
        super().__init__(err if err is not None else 0, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write '{self.path}': {self.reason}"


def _stat_target(name: str) -> tuple[str, os.stat_result | None]:
    """The path a write would reach (symlinks followed) and its stat (None: not there yet); a directory is
    refused, as `open(path, "w")` would refuse it."""
    target = os.path.realpath(name)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(name, "is a directory", errno.EISDIR)
    return target, st


def check_writable(path: str | os.PathLike) -> None:
    """Raise the OutputError `write_text(path, ...)` would raise for a missing directory, a directory as
    the path or a file the user may not write, without writing anything."""
    name = os.fspath(path)
    try:
        target, st = _stat_target(name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            return
        directory = os.path.dirname(target) or "."
        if not os.path.isdir(directory):
            raise OutputError(name, f"directory '{os.path.dirname(name) or '.'}' does not exist", errno.ENOENT)
        if not os.access(target if st is not None else directory, os.W_OK):
            raise OutputError(name, "permission denied", errno.EACCES)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(name, e.strerror or str(e), e.errno) from None


def write_text(path: str | os.PathLike, pieces: str | Iterable[str]) -> None:
    """Write `pieces` (a string, or strings written one after the other) to `path` as UTF-8.

    Raises OutputError for a missing directory, a directory as the path, a file the
    user may not write, a full disk, or any other OS failure.
    """
    chunks = [pieces] if isinstance(pieces, str) else pieces
    try:
        _write(path, chunks, binary=False)
    except UnicodeEncodeError as e:  # a lone surrogate in a string attribute
        raise OutputError(os.fspath(path), f"text cannot be encoded as UTF-8: {e.reason}") from None


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """`write_text` for bytes (a .npy file): replaced whole or not at all, OutputError on failure."""
    _write(path, [data], binary=True)


def _write(path: str | os.PathLike, chunks: Iterable, *, binary: bool) -> None:
    name = os.fspath(path)
    try:
        target, st = _stat_target(name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            _write_through(target, chunks, binary)
        else:
            _replace_atomically(name, target, st, chunks, binary)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(name, e.strerror or str(e), e.errno) from None


def _open_args(binary: bool) -> dict:
    return {"mode": "wb"} if binary else {"mode": "w", "encoding": "utf-8"}


def _write_through(target: str, chunks: Iterable, binary: bool) -> None:
    with open(target, **_open_args(binary)) as f:
        for c in chunks:
            f.write(c)


def _replace_atomically(name: str, target: str, st: os.stat_result | None, chunks: Iterable, binary: bool) -> None:
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise OutputError(name, f"directory '{os.path.dirname(name) or '.'}' does not exist", errno.ENOENT)
    if st is not None and not os.access(target, os.W_OK):
        # renaming over it would succeed (the directory is writable) and bypass the file's own permission
        raise OutputError(name, "permission denied", errno.EACCES)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, **_open_args(binary)) as f:
            for c in chunks:
                f.write(c)
            f.flush()
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # what open(path, "w") would have created
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
