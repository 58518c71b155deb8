"""bench/mutation.py's scoring: a session's verdicts -> killed / survived / equivalent, and the printout.

Kept apart from the runner because the score is read from cosmic-ray's database alone: `--score` reads a
session another process is still running, and the replay reuses the equivalence lookup.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from _mutation_equivalents import EQUIVALENT
from _mutation_targets import ROOT, TARGETS


def _annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of the annotations in a module with `from __future__ import annotations`.

    Such annotations are never evaluated, so a mutant inside one (`tuple | None` -> `tuple ** None`)
    is equivalent by construction.
    """
    tree = ast.parse(path.read_text())
    future = any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    if not future:
        return []
    spans = []
    for node in ast.walk(tree):
        anns = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            anns = [
                x.annotation
                for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                if x is not None and x.annotation is not None
            ]
            if node.returns is not None:
                anns.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            anns = [node.annotation]
        spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in anns]
    return spans



@dataclass
class Outcome:
    total: int
    run: int
    killed: int
    survivors: list[str]
    equivalent: list[str]
    seconds: float
    in_annotations: int = 0
    incompetent: list[str] = field(default_factory=list)
    invalid: int = 0
    pending: int = 0
    off_path: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        counted = self.killed + len(self.survivors)
        return self.killed / counted if counted else float("nan")


def _enclosing_functions(path: Path) -> dict[int, str]:
    """Line -> name of the innermost function containing it."""
    return _enclosing_functions_of(path.read_text())


def _enclosing_functions_of(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    nodes = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for n in sorted(nodes, key=lambda n: n.end_lineno - n.lineno, reverse=True):  # outermost first
        for line in range(n.lineno, n.end_lineno + 1):
            out[line] = n.name
    return out


def _line(copy: Path, module_path: str, line: int) -> str:
    try:
        return (copy / module_path).read_text().splitlines()[line - 1].strip()
    except (OSError, IndexError):
        return "?"


def _session_texts(session: Path, sources: tuple[str, ...]) -> dict[str, Path]:
    """Per source, the root whose copy holds the text the session's line numbers refer to: the session's scratch
    tree while its file is still the one the session was taken from (sources.json's digest; not while a mutant
    is applied), else the worktree. Why: once a source is edited after its session (a fix, a kill test's
    refactor), the worktree's lines have moved, and the score read shifted lines, matching the wrong
    equivalents (a mutant two lines below became `def allocates(...)`, "inside a type annotation")."""
    digests_file = session.parent / "sources.json"
    digests = json.loads(digests_file.read_text()) if digests_file.exists() else {}
    tree = session.parent / "tree"
    out = {}
    for src in sources:
        copy = tree / src
        same = copy.exists() and hashlib.sha256(copy.read_bytes()).hexdigest() == digests.get(src)
        out[src] = tree if same else ROOT
    return out


def score_session(name: str, session: Path, seconds: float | None = None) -> Outcome:
    """Score a session (running, stopped or finished) from cosmic-ray's database; lines from the text the session
    was taken from (_session_texts)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    t = TARGETS[name]
    tree = session.parent / "tree"
    roots = _session_texts(session, t.sources)
    annotations = {src: _annotation_spans(roots[src] / src) for src in t.sources}
    killed, survivors, equivalent, incompetent, ran, invalid, test_seconds = 0, [], [], [], 0, 0, 0.0
    off_path: list[str] = []
    functions = {src: _enclosing_functions(roots[src] / src) for src in t.sources}
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        pending = sum(1 for _ in db.pending_work_items)
        in_annotations = 0
        for item, result in db.completed_work_items:
            m = item.mutations[0]
            path = os.path.relpath(m.module_path, tree) if os.path.isabs(m.module_path) else str(m.module_path)
            start = tuple(m.start_pos)
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                in_annotations += any(a <= start < b for a, b in annotations.get(path, ()))
                continue
            ran += 1
            line = _line(roots.get(path, ROOT), path, m.start_pos[0])
            fn = functions.get(path, {}).get(m.start_pos[0], "<module>")
            where = f"{path}:{m.start_pos[0]} in {fn}, {m.operator_name} #{m.occurrence}: {line}"
            reason = _equivalent_reason(path, line, functions.get(path, {}).get(m.start_pos[0]), m.operator_name,
                                        m.start_pos[1])
            if reason is None and any(a <= start < b for a, b in annotations.get(path, ())):
                reason = "inside a type annotation, never evaluated (from __future__ import annotations)"
            took = re.search(r"([0-9.]+) s$", result.output or "")
            test_seconds += float(took.group(1)) if took else 0.0
            if result.worker_outcome == WorkerOutcome.NO_TEST:
                ran -= 1
            elif fn in t.off_path:  # run before the function was declared off the target's path: not scored
                ran -= 1
                off_path.append(f"{where}  [{result.output}]")
            elif result.test_outcome == TestOutcome.KILLED:
                killed += 1  # a killed mutant is not equivalent, whatever the table says about its spot
            elif result.test_outcome == TestOutcome.INCOMPETENT and result.output.startswith("invalid"):
                invalid += 1  # not Python: no test run, no score
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                incompetent.append(f"{where}  [{result.output}]")
            elif reason is not None:
                equivalent.append(f"{where}  ({reason})")
            else:
                survivors.append(f"{where}  [{result.output}]")
    return Outcome(total, ran - invalid, killed, survivors, equivalent, test_seconds if seconds is None else seconds,
                   in_annotations, incompetent, invalid, pending, off_path)


def _equivalent_reason(path: str, line: str, fn: str | None, operator: str, col: int) -> str | None:
    """The EQUIVALENT entry of a mutant; an entry's operator may end in @COL or @FIRST-LAST (columns of the
    stripped line)."""
    indent = None
    for (f, f_fn, text, op), why in EQUIVALENT.items():
        if f != path or text != line or (f_fn != fn and not (f_fn == "<module>" and fn is None)):
            continue
        name, _, at = op.partition("@")
        if name not in (operator, "*", "core/*"):
            continue
        if at:  # a column, or a span of columns "first-last"
            indent = indent if indent is not None else len(_raw_line(path, line)) - len(line)
            first, _, last = at.partition("-")
            if not int(first) <= col - indent <= int(last or first):
                continue
        return why
    return None


def _raw_line(path: str, stripped: str) -> str:
    return next(x for x in (ROOT / path).read_text().splitlines() if x.strip() == stripped)



def _report(name: str, o: Outcome) -> None:
    print(
        f"[{name}] killed {o.killed} / {o.killed + len(o.survivors)} non-equivalent = {100 * o.score:.1f}% "
        f"({o.run} of {o.total} mutants run, {o.pending} not yet, {len(o.equivalent)} equivalent, "
        f"{o.in_annotations} in annotations not run, {o.invalid} not valid Python, {o.seconds:.0f} s)",
        flush=True,
    )
    for s in o.survivors:
        print(f"    survived: {s}")
    for s in o.equivalent:
        print(f"    equivalent: {s}")
    for s in o.incompetent:
        print(f"    not decided (the test selection failed): {s}")
    for s in o.off_path:
        print(f"    not scored (off the target's path, Target.off_path): {s}")
