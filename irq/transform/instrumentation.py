"""Pass instrumentation: IR printing around passes, timing and statistics reports.

Output formats follow mlir-opt (`// -----// IR Dump After cse //----- //`, the
`--mlir-timing` table), so logs of irq and MLIR pipelines read alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from irq.ir.operation import Operation
    from irq.transform.pass_base import Pass


class PassInstrumentation:
    """Hooks around each pass run; subclass and add to a PassManager."""

    def before_pass(self, p: Pass, op: Operation) -> None: ...
    def after_pass(self, p: Pass, op: Operation) -> None: ...
    def after_failed_pass(self, p: Pass, op: Operation) -> None: ...
    def finish(self) -> None: ...


class IRPrinter(PassInstrumentation):
    """Print the op a pass runs on before and/or after it.

    `before`/`after` are pass names, or "all". With `only_if_changed`, the dump
    after a pass is skipped when the printed IR did not change.
    """

    def __init__(self, *, before: Iterable[str] | str = (), after: Iterable[str] | str = (),
                 only_if_changed: bool = False, generic: bool = False, stream: TextIO | None = None) -> None:
        self.before = before if before == "all" else set(before)
        self.after = after if after == "all" else set(after)
        self.only_if_changed = only_if_changed
        self.generic = generic
        self.stream = stream
        self._last: dict[int, str] = {}

    def _wants(self, which, name: str) -> bool:
        return which == "all" or name in which

    def _dump(self, header: str, op: Operation) -> str:
        text = op.to_text(generic=self.generic)
        out = self.stream or sys.stderr
        if out is not None:  # None: the process has no stderr (closed at start), so the dump goes nowhere
            out.write(f"// -----// IR Dump {header} //----- //\n{text}\n\n")
        return text

    def before_pass(self, p: Pass, op: Operation) -> None:
        if self.only_if_changed and self._wants(self.after, p.name):
            self._last[id(op)] = op.to_text(generic=self.generic)
        if self._wants(self.before, p.name):
            self._dump(f"Before {p.name}", op)

    def after_pass(self, p: Pass, op: Operation) -> None:
        if not self._wants(self.after, p.name):
            return
        if self.only_if_changed:
            if op.to_text(generic=self.generic) == self._last.pop(id(op), None):
                return
        self._dump(f"After {p.name}", op)

    def after_failed_pass(self, p: Pass, op: Operation) -> None:
        if self._wants(self.after, p.name):
            self._dump(f"After {p.name} Failed", op)


class Timing(PassInstrumentation):
    """Wall time per pass (summed over the ops it ran on), printed like `mlir-opt --mlir-timing`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.times: dict[str, float] = {}
        self._start: dict[int, float] = {}
        self._t0 = time.perf_counter()

    def before_pass(self, p: Pass, op: Operation) -> None:
        self._start[id(p), id(op)] = time.perf_counter()

    def after_pass(self, p: Pass, op: Operation) -> None:
        t = time.perf_counter() - self._start.pop((id(p), id(op)))
        key = p.pipeline_text()
        self.times[key] = self.times.get(key, 0.0) + t

    after_failed_pass = after_pass

    def report(self) -> str:
        total = time.perf_counter() - self._t0
        lines = ["===" + "-" * 73 + "===",
                 "                         ... Execution time report ...",
                 "===" + "-" * 73 + "===",
                 f"  Total Execution Time: {total:.4f} seconds", "",
                 "  ----Wall Time----  ----Name----"]
        for name, t in self.times.items():
            lines.append(f"  {t:9.4f} ({100 * t / total if total else 0:5.1f}%)  {name}")
        lines.append(f"  {total:9.4f} (100.0%)  Total")
        return "\n".join(lines) + "\n"

    def finish(self) -> None:
        out = self.stream or sys.stderr
        if out is not None:
            out.write(self.report())


def statistics_report(passes: Iterable[Pass]) -> str:
    """`--pass-statistics`: each pass's counters."""
    lines = ["===" + "-" * 73 + "===", "                         ... Pass statistics report ...",
             "===" + "-" * 73 + "==="]
    for p in passes:
        lines.append(p.pipeline_text())
        for k, v in sorted(p.statistics.items()):
            lines.append(f"  ({k}) {v}")
    return "\n".join(lines) + "\n"
