"""bench/mutation.py's runner: scratch copies, the per-mutant test command, executors and subsets.

The source is never mutated in place: each executor works on a scratch copy of the working tree, so other
runs of the suite are unaffected. How a mutant's tests are chosen and run fast is bench/_mutation_exec.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _mutation_report import Outcome, _annotation_spans, _enclosing_functions, score_session
from _mutation_targets import ROOT, TARGETS, Target

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: cosmic-ray's own dependency reads TOML too
    import toml as tomllib

#: the tool's own files, copied into every executor's scratch copy so it runs the current tool (found by name:
#: a fixed list missed a new equivalents module, and a resumed session then failed to import the tool)
TOOL_FILES = ("bench/mutation.py", *sorted(f"bench/{f.name}" for f in (ROOT / "bench").glob("_mutation_*.py")))


# ----------------------------------------------------------------------------- scratch copy
def _package_links() -> dict[str, str]:
    """Subpackages that pyproject maps outside irq/ (irq.dialects -> dialects/): link name -> directory."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dirs = cfg["tool"]["setuptools"]["package-dir"]
    return {pkg.split(".", 1)[1]: d for pkg, d in dirs.items() if pkg.startswith("irq.")}


def make_scratch_copy(dest: Path) -> Path:
    """Copy the working tree (tracked and untracked, not ignored files) to `dest`, importable as irq.

    The editable install maps irq.dialects etc. to the original tree; in the copy, symlinks
    irq/dialects -> ../dialects make the copy's files the ones imported when it is first on
    PYTHONPATH.
    """
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
        )
        .stdout.decode()
        .split("\0")
    )
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    for name, d in _package_links().items():
        link = dest / "irq" / name
        if not link.exists():
            link.symlink_to(Path("..") / d, target_is_directory=True)
    # Byte-compile once: cosmic-ray runs tests with PYTHONDONTWRITEBYTECODE, so otherwise every
    # pytest and irq-opt process compiles all of irq again. A mutated file (new mtime) is still
    # recompiled from source; mutations happen well after this second, so no stale .pyc is used.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            str(dest / "irq"),
            str(dest / "dialects"),
            str(dest / "passes"),
            str(dest / "runtime"),
            str(dest / "tests"),
        ],
        check=True,
    )
    return dest



def _env(copy: Path, cache: Path, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """The environment of a target's runs in `copy`; `extra` is the target's own (Target.env)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["IRQ_CACHE_DIR"] = str(cache)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"  # one core per run on a shared machine
    env["HYPOTHESIS_PROFILE"] = "ci"  # derandomized: a mutant is killed or not, the same every run
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


# ----------------------------------------------------------------------------- the test command
def run_target_tests(name: str) -> int:
    """What cosmic-ray runs for each mutant (cwd = the scratch copy): pytest -x, then lit."""
    t = TARGETS[name]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--timeout",
            "600",
            *t.tests,
        ]
    )
    if r.returncode != 0:
        return 1
    if t.lit:
        out = tempfile.mkdtemp(prefix="irq-mut-lit-")
        try:
            env = dict(os.environ, IRQ_LIT_OUTPUT=out)
            r = subprocess.run([sys.executable, "-c", "import lit.main; lit.main.main()", "-q", *t.lit], env=env)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if r.returncode != 0:
            return 1
    return 0


def _run_lit(files: tuple[str, ...], show_failures: bool = False) -> int:
    """lit over `files`; `show_failures` prints the failing tests' output (the unmutated baseline's)."""
    out = tempfile.mkdtemp(prefix="irq-mut-lit-")
    try:
        env = dict(os.environ, IRQ_LIT_OUTPUT=out)
        return subprocess.run(
            [sys.executable, "-c", "import lit.main; lit.main.main()", "-v" if show_failures else "-q", *files],
            env=env,
            stdout=None if show_failures else subprocess.DEVNULL,
            stderr=None if show_failures else subprocess.DEVNULL,
        ).returncode
    finally:
        shutil.rmtree(out, ignore_errors=True)


def execute(name: str, session: Path, coverage_map: Path, stride: tuple[int, int] = (0, 1),
            only: Path | None = None) -> int:
    """Run every pending mutant of the session (cwd = the scratch copy); results go to the session as they come.

    Each mutant runs the tests that execute its statement (bench/_mutation_exec.py): in a forked
    child of a process that imported everything once, or, when the mutant acts at import time, in a
    fresh pytest. A survivor of the pytest tests then meets the target's lit tests.
    """
    import cosmic_ray.plugins
    from _mutation_exec import CoverageMap, ForkServer, StatementIndex, run_fresh, select_tests, statement_lines
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    t = TARGETS[name]
    copy = Path.cwd()
    cmap = CoverageMap.load(coverage_map)
    unmeasured = [src for src in t.sources if not cmap.lines.get(src)]
    if unmeasured:  # e.g. the editable install's finder imported the worktree's file instead of the copy's
        raise SystemExit(f"{name}: coverage saw nothing of {', '.join(unmeasured)} in the scratch copy")
    server = ForkServer(cmap, list(t.sources))
    index = {src: StatementIndex(copy / src) for src in t.sources}
    log = session.with_suffix(f".child-{stride[0]}.log")
    counts: dict[str, int] = {}
    started = time.monotonic()
    with use_db(str(session), WorkDB.Mode.open) as db:
        # partition by job id, not by position: the executors read the pending list at different moments,
        # after the others may have finished some mutants, so positions would shift between them
        items = [w for w in db.pending_work_items if int(w.job_id[:8], 16) % stride[1] == stride[0]]
        if only is not None:  # a stratified subset (--per-function)
            chosen = set(json.loads(only.read_text()))
            items = [w for w in items if w.job_id in chosen]
        for n, item in enumerate(items, 1):
            m = item.mutations[0]
            src = os.path.relpath(m.module_path, copy) if os.path.isabs(m.module_path) else str(m.module_path)
            tests, why = select_tests(cmap, index[src], src, *m.start_pos, server.import_lines[src])
            operator = cosmic_ray.plugins.get_operator(m.operator_name)(**(m.operator_args or {}))
            with use_mutation(copy / src, operator, m.occurrence) as (original, mutated):
                if mutated is None:
                    result = WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
                    verdict = "no-mutation"
                else:
                    verdict, seconds, how = "survived", 0.0, "not run"
                    if tests:
                        budget = 60 + 10 * sum(cmap.durations.get(x, 1.0) for x in tests)
                        if server.hot(src, statement_lines(index[src], *m.start_pos)):
                            how = "forked"
                            verdict, seconds = server.run_hot(src, original, mutated, tests, budget, log)
                        else:
                            how = "fresh process"
                            try:
                                compile(mutated, src, "exec")
                                verdict, seconds = run_fresh(tests, budget + 30, log)
                            except SyntaxError:
                                verdict = "invalid"
                    if verdict == "survived" and t.lit and _run_lit(t.lit) != 0:
                        verdict = "killed"
                    outcome = {
                        "killed": TestOutcome.KILLED,
                        "timeout": TestOutcome.KILLED,
                        "survived": TestOutcome.SURVIVED,
                    }.get(verdict, TestOutcome.INCOMPETENT)
                    note = f"{verdict}, {len(tests)} tests ({why}), {how}, {seconds:.1f} s"
                    result = WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=outcome, output=note)
            db.set_result(item.job_id, result)
            counts[verdict] = counts.get(verdict, 0) + 1
            if n % 50 == 0 or n == len(items):
                rate = (time.monotonic() - started) / n
                print(f"[{name}] {n}/{len(items)} mutants, {rate:.2f} s each: {counts}", flush=True)
    return 0


# ----------------------------------------------------------------------------- one target
def stratified_subset(copy: Path, pending: list, done: list, per_function: int, seed: int,
                      only: frozenset[str] | None = None, off_path: tuple[str, ...] = ()) -> set[str]:
    """At most `per_function` mutants of every function (module level counts as one), those in `done` included;
    of the functions named in `only`, when given (new code in a long module: `--functions`); never of
    the target's `off_path` functions (code no test of the target can execute).

    Why stratified rather than a plain sample: a few long functions hold most mutants (one lowering
    function can hold 200), so a uniform draw leaves short functions, often the ones that decide a single
    number, with no mutant at all. Each function's draw is seeded by its own name, so the choice is the
    same on every run and does not shift when another function changes.
    """
    functions: dict[str, dict[int, str]] = {}

    def group(item) -> tuple[str, str]:
        m = item.mutations[0]
        path = str(os.path.relpath(m.module_path, copy) if os.path.isabs(m.module_path) else m.module_path)
        if path not in functions:
            functions[path] = _enclosing_functions(copy / path)
        return path, functions[path].get(m.start_pos[0], "<module>")

    quota: dict[tuple[str, str], int] = {}
    for item in done:
        quota[group(item)] = quota.get(group(item), 0) + 1
    by_group: dict[tuple[str, str], list] = {}
    for item in pending:
        by_group.setdefault(group(item), []).append(item)
    chosen: set[str] = set()
    for key, items in sorted(by_group.items()):
        if (only is not None and key[1] not in only) or key[1] in off_path:
            continue
        items.sort(key=lambda w: (tuple(w.mutations[0].start_pos), w.mutations[0].operator_name,
                                  w.mutations[0].occurrence))
        room = max(0, per_function - quota.get(key, 0))
        rng = random.Random(f"{seed}:{key[0]}:{key[1]}")
        chosen.update(w.job_id for w in rng.sample(items, min(room, len(items))))
    return chosen



def run_target(name: str, work: Path, sample: int | None, time_box: float, seed: int, jobs: int = 1,
               per_function: int | None = None, functions: frozenset[str] | None = None) -> Outcome:

    t = TARGETS[name]
    session = work / "session.sqlite"
    digests = {src: hashlib.sha256((ROOT / src).read_bytes()).hexdigest() for src in t.sources}
    if session.exists():  # resume a kept session: the pending mutants only
        if json.loads((work / "sources.json").read_text()) != digests:
            raise SystemExit(f"{name}: the sources changed since the session in {work} began; delete it to start over")
        copy, cache, cmap = work / "tree", work / "cache", work / "coverage.json"
        for src in t.sources:  # undo a mutation left by an interrupted run
            shutil.copy2(ROOT / src, copy / src)
        env = _env(copy, cache, t.env)
        started = time.monotonic()
        print(f"[{name}] resuming the session in {work}", flush=True)
        return _run_session(name, t, copy, env, session, cmap, started, None, sample, seed, time_box, jobs,
                            per_function, functions)
    copy = make_scratch_copy(work / "tree")
    cache = work / "cache"
    cache.mkdir()
    env = _env(copy, cache, t.env)
    started = time.monotonic()
    cmap = work / "coverage.json"
    baseline = subprocess.run(
        [sys.executable, str(copy / "bench" / "mutation.py"), "--coverage-map", name, str(cmap)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    base_seconds = time.monotonic() - started
    if baseline.returncode != 0:
        raise SystemExit(f"{name}: the tests fail without any mutation:\n{baseline.stdout[-3000:]}{baseline.stderr}")
    config = work / "cosmic-ray.toml"
    modules = ", ".join(f'"{s}"' for s in t.sources)
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        "timeout = 600\n"
        "excluded-modules = []\n"
        f'test-command = "{sys.executable} bench/mutation.py --run-tests {name}"\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    subprocess.run(["cosmic-ray", "init", str(config), str(session)], cwd=copy, env=env, check=True)
    (work / "sources.json").write_text(json.dumps(digests))
    return _run_session(name, t, copy, env, session, cmap, started, base_seconds, sample, seed, time_box, jobs,
                        per_function, functions)


def _run_session(name: str, t: Target, copy: Path, env: dict[str, str], session: Path, cmap: Path, started: float,
                 base_seconds: float | None, sample: int | None, seed: int, time_box: float, jobs: int = 1,
                 per_function: int | None = None, functions: frozenset[str] | None = None) -> Outcome:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    annotations = {src: _annotation_spans(copy / src) for src in t.sources}

    def in_annotation(m) -> bool:
        path = os.path.relpath(m.module_path, copy) if os.path.isabs(m.module_path) else str(m.module_path)
        return any(a <= tuple(m.start_pos) < b for a, b in annotations.get(path, ()))

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = list(db.pending_work_items)
        every = list(db.work_items)
        total = len(every)
        # equivalent by construction: not worth a test run each (often a quarter of all mutants)
        unevaluated = [w.job_id for w in every if in_annotation(w.mutations[0])]
        pending = [w.job_id for w in items if not in_annotation(w.mutations[0])]
        skipped = [w.job_id for w in items if in_annotation(w.mutations[0])]
        if sample is not None and sample < len(pending):
            keep = set(random.Random(seed).sample(pending, sample))
            skipped += [j for j in pending if j not in keep]
        if skipped:
            db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        chosen = None
        if per_function is not None:
            done = [w for w, r in db.completed_work_items if r.worker_outcome != WorkerOutcome.SKIPPED]
            chosen = stratified_subset(copy, [w for w in items if w.job_id in set(pending)], done, per_function, seed,
                                       functions, t.off_path)
    only = session.with_suffix(".only.json")
    only.unlink(missing_ok=True)
    if chosen is not None:
        only.write_text(json.dumps(sorted(chosen)))
        print(f"[{name}] stratified subset: {len(chosen)} of the {len(pending)} pending mutants, at most "
              f"{per_function} per function (run so far included; seed {seed})"
              f"{f' of {len(functions)} named functions' if functions else ''}; the rest stay pending", flush=True)
    print(
        f"[{name}] {total} mutants, {len(unevaluated)} inside annotations (equivalent, not run)"
        f"{f', sampling {sample}' if sample and sample < len(pending) else ''}"
        + (f"; tests take {base_seconds:.0f} s unmutated under coverage" if base_seconds is not None else ""),
        flush=True,
    )
    # cosmic-ray restores each spot after its test run; a time box interrupts it mid-mutant, so keep
    # the unmutated text to put back and to read lines, functions and annotations from
    pristine = {src: (copy / src).read_text() for src in t.sources}
    procs = []
    for i in range(jobs):  # each executor mutates files on disk: one scratch copy per executor
        tree = copy if i == 0 else copy.parent / f"tree-{i}"
        if i and not tree.exists():
            make_scratch_copy(tree)
        for src in (*t.sources, *TOOL_FILES):  # sources unmutated, tool current
            shutil.copy2(ROOT / src, tree / src)
        procs.append(subprocess.Popen(
            [sys.executable, str(tree / "bench" / "mutation.py"), "--execute", name, str(session), str(cmap),
             "--stride", str(i), str(jobs), *(["--only", str(only)] if chosen is not None else [])],
            cwd=tree,
            env=_env(tree, copy.parent / "cache", t.env),
            start_new_session=True,
        ))
    deadline = time.monotonic() + time_box
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            print(f"[{name}] time box of {time_box:.0f} s reached: scoring the mutants run so far", flush=True)
    for src, text in pristine.items():
        (copy / src).write_text(text)
    return score_session(name, session, time.monotonic() - started)
