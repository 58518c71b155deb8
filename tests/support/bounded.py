"""Run untrusted IR texts through irq in a child process with a memory cap and a time guard.

Why: a bug that makes parsing or printing exponential must fail the test that finds it, with the
offending input printed, instead of driving the pytest worker past the machine's memory until the
kernel's OOM killer ends it (and, on a shared machine, someone else's processes with it). The child
runs under `RLIMIT_AS` (address space, so numpy and Python allocations both count), and every text
gets a wall-clock guard; a child that dies, raises MemoryError or overruns is reported as a problem
for that text, and the next text gets a fresh child.

`BoundedChecker` streams many texts through one child (starting Python and importing irq per text
would cost more than the checks); `run_bounded` runs one snippet of code, for regression tests.
"""

from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Address-space cap of the child: far above any honest case (a few tens of MB), far below the machine.
MEMORY_BYTES = 2 * 1024**3
#: Per-text guard: honest cases take milliseconds; the guard only has to catch runaway ones, on a loaded machine.
CASE_SECONDS = 30.0


def _limit_memory(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # one BLAS thread: each thread's stack and arena count against the address-space cap
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_bounded(code: str, *, memory_bytes: int = MEMORY_BYTES,
                timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    """Run `python -c code` under the memory cap; a timeout kills it and raises subprocess.TimeoutExpired."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        env=_child_env(),
        preexec_fn=_limit_memory(memory_bytes),
    )


class BoundedChecker:
    """`check(text)` as in tests/support/fuzz.py, run in a child process under a memory cap and a
    per-text time guard. Returns None or the broken promise; a dead or overrunning child becomes a
    problem ("exceeded ... s", "child died ...") and is replaced for the next text."""

    #: The child: reads JSON texts from stdin, answers one JSON line each (tests/support/fuzz_child.py).
    COMMAND = (sys.executable, "-m", "tests.support.fuzz_child")

    def __init__(self, *, memory_bytes: int = MEMORY_BYTES, case_seconds: float = CASE_SECONDS,
                 command: tuple[str, ...] = COMMAND) -> None:
        self.memory_bytes = memory_bytes
        self.case_seconds = case_seconds
        self.command = command
        self._child: subprocess.Popen | None = None

    def __enter__(self) -> BoundedChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(
            list(self.command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=_child_env(),
            preexec_fn=_limit_memory(self.memory_bytes),
        )

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()

    def check(self, text: str) -> str | None:
        if self._child is None or self._child.poll() is not None:
            self.close()
            self._child = self._start()
        child = self._child
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(json.dumps(text).encode() + b"\n")
            child.stdin.flush()
        except BrokenPipeError:
            return self._died("while reading the input")
        ready, _, _ = select.select([child.stdout], [], [], self.case_seconds)
        if not ready:
            self.close()
            return f"exceeded the {self.case_seconds:g} s guard (killed)"
        line = child.stdout.readline()
        if not line:
            return self._died("")
        return json.loads(line)

    def _died(self, when: str) -> str:
        child = self._child
        assert child is not None
        code = child.wait()
        err = child.stderr.read().decode(errors="replace")[-2000:] if child.stderr else ""
        self.close()
        return f"child died {when}(exit {code}, memory cap {self.memory_bytes >> 20} MiB)\n{err}"
