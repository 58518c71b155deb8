"""The fast half of bench/mutation.py: which tests can kill a mutant, and running them in a forked child.

Why: an unsampled run is thousands of mutants. Running a target's whole test list in a fresh
`python -m pytest` per mutant costs the interpreter, torch's import and collecting every test file
each time (10 s per mutant for the fixed-point target, most of it start-up), so only samples fitted
in a session. Two things make every mutant cheap without weakening the verdict:

- **Coverage per test.** One unmutated run of the target's tests under coverage.py, with one
  coverage context per test, says which tests execute each line of the mutated files. A mutant
  inside a function body can only be killed by a test that executes its statement, so only those
  run, fastest first, `-x`. A mutant outside function bodies (module constants, defaults,
  decorators, class bodies) acts at import time, so every test of the target runs. Tests that start
  a subprocess or fork (their child's execution is invisible to coverage) run for every mutant.
- **A fork server.** The runner imports the third-party modules the tests need (torch, numpy,
  pytest, hypothesis...) once, never irq; each mutant is written to disk by cosmic-ray
  (`use_mutation`, which puts the original back), and a forked child imports irq from the mutated
  tree and runs pytest in-process. A child that overruns its time is killed with its process group
  (an infinite loop is a killed mutant, as in cosmic-ray).

The mutants themselves, their application and the session database are cosmic-ray's.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import sys
import time
import types
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

# ----------------------------------------------------------------------------- coverage map


def write_coverage_map(sources: list[str], tests: list[str], out: Path) -> int:
    """Run `tests` once under coverage (cwd = the scratch copy); write the map to `out`; pytest's status.

    The map: per source file, line -> ids of the tests that executed it; the tests that spawn
    processes; every test's duration; the third-party modules imported (for the fork server).
    """
    import subprocess

    import coverage
    import pytest

    files = [str(Path(s).resolve()) for s in sources]
    cov = coverage.Coverage(include=files, data_file=None, branch=False)
    spawning: set[str] = set()
    durations: dict[str, float] = {}
    order: list[str] = []
    current: list[str] = [""]

    real_popen_init = subprocess.Popen.__init__
    real_fork = os.fork

    def popen_init(self, *a, **k):
        spawning.add(current[0])
        real_popen_init(self, *a, **k)

    def fork():
        spawning.add(current[0])
        return real_fork()

    class Plugin:
        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_protocol(self, item, nextitem):
            current[0] = item.nodeid
            order.append(item.nodeid)
            cov.switch_context(item.nodeid)

        def pytest_runtest_logreport(self, report):
            durations[report.nodeid] = durations.get(report.nodeid, 0.0) + report.duration

    subprocess.Popen.__init__ = popen_init
    os.fork = fork
    cov.start()
    try:
        status = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", *tests],
                             plugins=[Plugin()])
    finally:
        cov.stop()
        subprocess.Popen.__init__ = real_popen_init
        os.fork = real_fork
    data = cov.get_data()
    lines: dict[str, dict[int, list[str]]] = {}
    for src, path in zip(sources, files):
        by_line = data.contexts_by_lineno(path) if path in data.measured_files() else {}
        lines[src] = {int(n): sorted(c for c in ctx if c) for n, ctx in by_line.items()}
    modules = [m for m, mod in list(sys.modules.items()) if _third_party(m, mod)]
    tree = [m for m, mod in list(sys.modules.items()) if mod is not None and m not in modules and m != "__main__"
            and _in_tree(mod)]
    out.write_text(json.dumps({"lines": lines, "spawning": sorted(s for s in spawning if s), "durations": durations,
                               "order": order, "modules": modules, "tree": tree}))
    return int(status)


def _in_tree(module) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and str(Path(file).resolve()).startswith(str(Path.cwd().resolve()) + os.sep)


def _third_party(name: str, module) -> bool:
    """Modules the fork server may import up front: none of the tree being mutated (irq, its tests)."""
    if module is None or name.split(".", 1)[0] in ("irq", "tests", "conftest", "__main__", "__mp_main__"):
        return False
    return not _in_tree(module)


# ----------------------------------------------------------------------------- per-mutant test selection


@dataclass(frozen=True)
class CoverageMap:
    lines: dict[str, dict[int, list[str]]]
    spawning: list[str]
    durations: dict[str, float]
    order: list[str]
    modules: list[str]
    tree: list[str]

    @classmethod
    def load(cls, path: Path) -> CoverageMap:
        raw = json.loads(path.read_text())
        lines = {src: {int(k): v for k, v in by.items()} for src, by in raw["lines"].items()}
        return cls(lines, raw["spawning"], raw["durations"], raw["order"], raw["modules"], raw["tree"])


class StatementIndex:
    """Where a mutant sits: the innermost statement around it, and whether that runs at import time."""

    def __init__(self, path: Path):
        tree = ast.parse(path.read_text())
        self._stmts: list[tuple[ast.stmt, bool]] = []  # (statement, inside a function body)

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._stmts.append((child, in_function))
                body_is_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, in_function or body_is_function)

        visit(tree, False)

    def locate(self, line: int, col: int) -> tuple[ast.stmt | None, bool]:
        best, best_in_fn, best_size = None, False, None
        for stmt, in_fn in self._stmts:
            start, end = _start(stmt), (stmt.end_lineno, stmt.end_col_offset)
            if start <= (line, col) < end:
                size = (stmt.end_lineno - start[0], stmt.end_col_offset - start[1])
                if best_size is None or size <= best_size:
                    best, best_in_fn, best_size = stmt, in_fn, size
        return best, best_in_fn


def _start(stmt: ast.stmt) -> tuple[int, int]:
    """Where a statement starts, decorators included: ast puts a decorated def's or class's `lineno` on
    the `def`/`class` line, so a mutant of its decorator (`@dataclass` removed, `@impl("bpu.x")` changed)
    would otherwise fall outside it, be taken for no statement at all, and run as a hot (function body)
    mutant whose swapped code objects never see the change: a survivor whatever the tests."""
    decorators = getattr(stmt, "decorator_list", [])
    return min([(stmt.lineno, stmt.col_offset)] + [(d.lineno, d.col_offset - 1) for d in decorators])


def _header_lines(stmt: ast.stmt) -> range:
    """The lines coverage can attribute to `stmt` itself (a compound statement's header, not its body)."""
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    body = getattr(stmt, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.stmt) and body[0].lineno > stmt.lineno:
        return range(first, body[0].lineno)
    return range(first, stmt.end_lineno + 1)


def statement_lines(index: StatementIndex, line: int, col: int) -> list[int]:
    """The lines of the statement around a mutant (all of them: for the import-time check)."""
    stmt, _ = index.locate(line, col)
    return [] if stmt is None else list(range(_start(stmt)[0], stmt.end_lineno + 1))


def select_tests(cmap: CoverageMap, index: StatementIndex, src: str, line: int, col: int,
                 at_import: Collection[int] = ()) -> tuple[list[str], str]:
    """The tests that can kill a mutant at (line, col) of `src`, fastest first, and why those.

    `at_import`: the lines of `src` executed while importing it (ForkServer.import_lines). A function body
    can run then: a handler factory called to fill a table at module level (`_simple("relu", ...)` in
    irq/frontend/mapping.py). Coverage attributes those lines to no test (they ran before the first test's
    context), yet every test that uses the table meets the mutant, so such a statement selects all tests
    (run in a fresh pytest: ForkServer.hot refuses it) instead of being scored a survivor no test executes.
    """
    stmt, in_function = index.locate(line, col)
    everything = list(cmap.order)
    if stmt is None or not in_function:
        return _fastest_first(cmap, everything), "import time: all tests"
    if at_import and set(at_import).intersection(range(_start(stmt)[0], stmt.end_lineno + 1)):
        return _fastest_first(cmap, everything), "runs while importing: all tests"
    by_line = cmap.lines.get(src, {})
    hits: set[str] = set()
    for n in _header_lines(stmt):
        hits.update(by_line.get(n, ()))
    if not hits:  # a header coverage does not record (e.g. `try:`): anything executed inside it
        for n in range(stmt.lineno, stmt.end_lineno + 1):
            hits.update(by_line.get(n, ()))
    hits.update(cmap.spawning)
    why = f"{len(hits)} covering" if hits else "no test executes it"
    return _fastest_first(cmap, [t for t in everything if t in hits]), why


def _fastest_first(cmap: CoverageMap, tests: list[str]) -> list[str]:
    return sorted(tests, key=lambda t: cmap.durations.get(t, 0.0))


# ----------------------------------------------------------------------------- the fork server


_PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist",
                "-p", "no:unraisableexception", "--timeout", "0"]


class ForkServer:
    """Holds the third-party modules, irq and the test modules imported once; runs each mutant's tests.

    A mutant inside a function body that did not run while importing is applied to the live
    process by swapping the code objects of the mutated file's functions (`fn.__code__`, so every
    module that imported the function sees the mutant), then the tests run in a forked child.
    Anything else (module constants, defaults, decorators, code run at import time) runs in a fresh
    `python -m pytest` on the mutated tree.
    """

    def __init__(self, cmap: CoverageMap, sources: list[str]):
        import gc
        import importlib
        import warnings

        import coverage

        self.paths = {src: os.path.realpath(src) for src in sources}
        cov = coverage.Coverage(include=list(self.paths.values()), data_file=None, branch=False)
        tests_dir = str(Path.cwd() / "tests")
        if tests_dir not in sys.path:
            sys.path.insert(0, tests_dir)  # pytest's prepend import mode: test modules by their file name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in cmap.modules:
                if name not in sys.modules:
                    try:
                        importlib.import_module(name)
                    except BaseException:  # noqa: BLE001 - not importable alone: just not preloaded
                        pass
            cov.start()
            for name in cmap.tree:
                if name not in sys.modules:
                    try:
                        importlib.import_module(name)
                    except BaseException:  # noqa: BLE001
                        pass
            cov.stop()
        data = cov.get_data()
        #: lines of each source executed while importing: a mutant there needs a fresh process
        self.import_lines = {src: set(data.lines(path) or ()) for src, path in self.paths.items()}
        self.functions: dict[str, list] = {src: [] for src in sources}
        by_path = {path: src for src, path in self.paths.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # isinstance on torch's deprecated aliases warns
            for obj in gc.get_objects():
                if isinstance(obj, types.FunctionType):
                    src = by_path.get(os.path.realpath(obj.__code__.co_filename))
                    if src is not None:
                        self.functions[src].append(obj)
        gc.freeze()  # the children's collections skip everything imported here

    def hot(self, src: str, lines: list[int]) -> bool:
        """Whether a mutant on these statement lines can be applied to the live process (never one outside
        every statement: only a fresh import sees it)."""
        return bool(lines) and bool(self.functions[src]) and not self.import_lines[src].intersection(lines)

    def run_hot(self, src: str, original: str, mutated: str, tests: list[str], timeout: float, log: Path):
        """Swap the mutated code objects in, in a forked child, and run `tests`; (verdict, seconds)."""
        path = self.paths[src]
        try:
            new = {k: c for c, k in _code_keys(compile(mutated, path, "exec")).items()}
        except SyntaxError:
            return "invalid", 0.0  # cosmic-ray can print an AST Python does not parse (`2.0**not 24`)
        old = _code_keys(compile(original, path, "exec"))

        def child() -> int:
            for fn in self.functions[src]:
                key = old.get(fn.__code__)
                if key is None:
                    key = _key_of(fn.__code__, old)
                if key is not None and key in new:
                    fn.__code__ = new[key]
            import pytest

            return int(pytest.main([*_PYTEST_ARGS, *tests]))

        return _fork(child, timeout, log)


def _walk_codes(code: types.CodeType):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _walk_codes(c)


def _code_keys(module_code: types.CodeType) -> dict[types.CodeType, tuple[str, int, int]]:
    """Code object -> (qualified name, first line, n-th of that pair): the same key before and after a mutation."""
    seen: dict[tuple[str, int], int] = {}
    out = {}
    for c in _walk_codes(module_code):
        pair = (c.co_qualname, c.co_firstlineno)
        seen[pair] = seen.get(pair, -1) + 1
        out[c] = (*pair, seen[pair])
    return out


def _key_of(code: types.CodeType, keys: dict[types.CodeType, tuple[str, int, int]]):
    """The key of a live code object (loaded from a .pyc, so not the same object as a fresh compile's)."""
    matches = [k for c, k in keys.items() if c.co_qualname == code.co_qualname and c.co_firstlineno ==
               code.co_firstlineno and c.co_code == code.co_code]
    return matches[0] if len(matches) == 1 else None


def run_fresh(tests: list[str], timeout: float, log: Path) -> tuple[str, float]:
    """Run `tests` in a new `python -m pytest` (the mutant acts at import time); (verdict, seconds)."""
    import subprocess

    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *_PYTEST_ARGS, *tests], stdout=out, stderr=out,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout", time.monotonic() - started
    if code == 4 and _collection_failed(log):
        return "killed", time.monotonic() - started
    return _verdict(code), time.monotonic() - started


def _collection_failed(log: Path) -> bool:
    """Whether pytest could not import a test module: a mutant that breaks an import (a module constant
    `np.zeros((-1, ...))`) makes the selected test ids "not found", pytest's usage error 4, which alone reads
    as a wrong selection; the collection error in the log says the mutant was caught."""
    import re

    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"^ERROR \S+\.py - ", text, re.M) is not None or "ERROR collecting" in text


def _fork(body, timeout: float, log: Path) -> tuple[str, float]:
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a timeout kills what it spawned too
        status = 3
        try:
            os.setpgid(0, 0)
            sys.dont_write_bytecode = True
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            status = body()
        finally:
            os._exit(status)
    deadline = started + timeout
    while True:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - started
        time.sleep(0.01)
    seconds = time.monotonic() - started
    if os.WIFSIGNALED(raw):
        return "killed", seconds  # a crash (segfault, abort) under the mutant
    return _verdict(os.WEXITSTATUS(raw)), seconds


def _verdict(code: int) -> str:
    # pytest: 0 passed, 1 failed, 2 interrupted (collection error), 3 internal error; 4 usage and 5 no
    # tests mean the selection is wrong, not that the mutant was caught
    if code == 0:
        return "survived"
    if code in (1, 2, 3):
        return "killed"
    return f"error:{code}"


# ----------------------------------------------------------------------------- replaying a kept session


def replay_tests(cmap: CoverageMap, selected: list[str], current: list[str], whole_files: list[str]) -> list[str]:
    """The tests a replayed survivor runs: `whole_files` (the kill-test files), then every test collected
    today that the session's coverage map never saw (tests added since, in any file), then the session's
    own selection minus the tests that no longer exist.

    Why each part: a test added to an existing file after the session is not in the map, so the map
    cannot select it, yet it is exactly the test written to kill the survivor; and a test id that was
    renamed or re-parametrized since makes pytest stop with "not found" (exit 4) before running any
    test, a survivor by default. Either way the replay under-counted kills.
    """
    now = set(current)
    known = set(cmap.order)
    in_files = tuple(f + "::" for f in whole_files)
    new = [x for x in current if x not in known and not x.startswith(in_files)]
    return list(whole_files) + _fastest_first(cmap, new) + [x for x in selected if x in now]


def mutation_starts(source: str, operator) -> list[tuple[int, int]]:
    """The start (line, column) of each occurrence of `operator` in `source`, in cosmic-ray's numbering."""
    from cosmic_ray.ast import ast_nodes, get_ast

    return [tuple(start) for node in ast_nodes(get_ast(source)) for start, _ in operator.mutation_positions(node)]


def relocate(old_source: str, new_source: str, operator, occurrence: int) -> int | None:
    """The occurrence in `new_source` of the mutant `occurrence` of `operator` planted in `old_source`.

    A kept session numbers its mutants in the source it was taken from; once that file changes, the same
    number names another spot (or none). The mutant is found again by its line's text and its column in
    that line (nearest to where it was, when the line now appears more than once); None when its line is
    gone, so a changed statement is not replayed as if it were the old one.
    """
    if old_source == new_source:
        return occurrence
    old_starts = mutation_starts(old_source, operator)
    if occurrence >= len(old_starts):
        return None
    (line, col) = old_starts[occurrence]
    rank = old_starts[:occurrence].count((line, col))  # several mutations of one node share a start
    old_lines, new_lines = old_source.splitlines(), new_source.splitlines()
    text = old_lines[line - 1]
    offset = col - (len(text) - len(text.lstrip()))
    new_starts = mutation_starts(new_source, operator)
    candidates = sorted(
        {
            (n, c)
            for n, c in new_starts
            if new_lines[n - 1].strip() == text.strip()
            and c - (len(new_lines[n - 1]) - len(new_lines[n - 1].lstrip())) == offset
        },
        key=lambda s: abs(s[0] - line),
    )
    if not candidates:
        return None
    matches = [i for i, s in enumerate(new_starts) if s == candidates[0]]
    return matches[rank] if rank < len(matches) else None
