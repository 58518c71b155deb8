"""A closed stdout ends irq's command-line tools quietly, as SIGPIPE ends C tools.

`irq-opt big.irq | head -1`, `irq-run --profile ... | head` or `irq check ... | head`: the reader
asked for no more, so a BrokenPipeError traceback would be noise, and the shell status of a tool
killed by SIGPIPE (128 + 13) tells a script what happened.

A closed stderr (`irq-opt in.irq 2>&-`, a daemon started without one) is the other half: Python then
sets `sys.stderr` to None, `print(..., file=None)` falls back to *stdout* (an error message would land in
the IR a script is capturing) and `sys.stderr.write` raises. The tools run as C tools do: what goes to
stderr is dropped, stdout carries only the output, the exit status still says whether it worked.
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable

BROKEN_PIPE_STATUS = 128 + 13


class DiscardingStream(io.TextIOBase):
    """A writable text stream that drops what it is given: the stand-in for a closed stderr."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def quiet_on_broken_pipe(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a CLI entry point: BrokenPipeError on stdout becomes exit status 141 with nothing printed, and
    a closed stderr swallows diagnostics instead of diverting them into stdout."""
    @functools.wraps(main)
    def run(argv: list[str] | None = None, **options: object) -> int:
        if sys.stderr is None:
            sys.stderr = DiscardingStream()
        try:
            try:
                return main(argv, **options)
            finally:
                # flush here, not at interpreter exit, so a short output (a help text, a summary) that
                # finds the pipe closed is caught below too; `finally` also covers argparse's SystemExit
                if sys.stdout is not None:
                    sys.stdout.flush()
        except BrokenPipeError:
            # Python would flush the unwritten rest of stdout at exit and report "Exception ignored";
            # dropping the stream drops that rest (the reader asked for no more).
            sys.stdout = None
            return BROKEN_PIPE_STATUS
    return run
