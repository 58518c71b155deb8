"""Mutation testing: how many small, plausible bugs in the modules that decide numbers and shapes
does the test suite catch?

cosmic-ray (`pip install -e ".[mutation]"`) generates the mutants of each target module and applies
them one at a time; this script decides which tests run against each and prints per module: mutants
killed / non-equivalent mutants run, and every survivor (file:line, operator, the mutated line). Not
part of CI. docs/design.md ("Test strength") records the last figures.

    python bench/mutation.py --list                              # targets and their tests
    python bench/mutation.py fixedpoint --keep .mutation-runs --jobs 2   # unsampled; resumable
    python bench/mutation.py fixedpoint --replay .mutation-runs  # survivors against the current tests
    python bench/mutation.py cse --sample 40 --time-box 900      # at most 40 mutants / 15 min

How a run stays bounded without sampling (bench/_mutation_exec.py): one unmutated run of the
target's tests under coverage.py records which tests execute each line; a mutant inside a function
body runs only the tests that execute its statement, fastest first, `-x`, in a forked child of a
process that imported torch, irq and the tests once (the mutant's code objects are swapped into the
live functions). A mutant that acts at import time (a module constant, a default, a decorator)
runs all the target's tests in a fresh pytest. A mutant is killed when its tests fail or time out.
Mutants judged equivalent (no behaviour can tell them apart) are listed in EQUIVALENT with the
reason and left out of the score; mutants inside annotations are not run (never evaluated).

Each target runs in scratch copies of the working tree (one per --jobs executor; the source is
never mutated in place, so other runs of the suite are unaffected). `--keep DIR` keeps the session
(cosmic-ray's database, the coverage map, the copies) in DIR/<target>: running the same command
again resumes the mutants not yet run. `--replay DIR` re-applies every survivor of a kept session
to a copy of the current tree and runs its tests again plus the target's tests/test_mutation_kills_*
files (and test files added to the target since), so a new test is credited only with the mutants it
fails against; `--fresh` runs each in a new pytest, an independent check of the fork server.

Adding a module is one line in TARGETS: name -> (source files, test files, lit files).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: cosmic-ray's own dependency reads TOML too
    import toml as tomllib

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    sources: tuple[str, ...]
    tests: tuple[str, ...]
    lit: tuple[str, ...] = ()


_LIT_PASSES = "tests/filecheck/passes/"

#: name -> the modules mutated and the tests that decide their behaviour (paths from the repo root)
TARGETS: dict[str, Target] = {
    "frontend-mapping": Target(
        ("irq/frontend/mapping.py", "irq/frontend/module_mapping.py", "irq/frontend/emit.py"),
        (
            "tests/test_op_options.py",
            "tests/test_shape_rules.py",
            "tests/test_static_shapes.py",
            "tests/test_frontend_zoo.py",
        ),
    ),
    "dialect-shapes": Target(
        ("dialects/_shapes.py",),
        ("tests/test_op_options.py", "tests/test_shape_rules.py", "tests/test_torch_dialect.py"),
    ),
    "frontend-shapes": Target(
        ("irq/frontend/shapes.py",),
        ("tests/test_static_shapes.py", "tests/test_op_options.py", "tests/test_shape_rules.py"),
    ),
    "torch-executor": Target(
        ("runtime/torch/builder.py", "runtime/torch/functions.py", "runtime/torch/resolve.py"),
        ("tests/test_op_options.py", "tests/test_fused_executor.py"),
    ),
    "rewrite-driver": Target(
        ("irq/rewrite/driver.py",),
        (
            "tests/test_rewrite_driver.py",
            "tests/test_canonicalize_pass.py",
            "tests/test_driver_seed_order.py",
            "tests/test_pass_semantics.py",
            "tests/test_dag_matcher.py",
        ),
        (_LIT_PASSES + "canonicalize.irq", _LIT_PASSES + "canonicalize-multi-result.irq"),
    ),
    "cse": Target(
        ("passes/cse.py",),
        ("tests/test_pass_semantics.py",),
        (_LIT_PASSES + "cse.irq", _LIT_PASSES + "cse-regions.irq"),
    ),
    "canonicalize": Target(
        ("passes/canonicalize.py",),
        ("tests/test_canonicalize_pass.py", "tests/test_rewrite_driver.py", "tests/test_pass_semantics.py"),
        (_LIT_PASSES + "canonicalize.irq", _LIT_PASSES + "canonicalize-multi-result.irq"),
    ),
    # The fixed-point modules run unsampled: each mutant runs only the tests that execute its statement
    # (bench/_mutation_exec.py), so their lists can hold every fast test that checks their numbers against
    # an oracle. Left out for time: test_chain_consistency.py and test_mixed_precision.py (minutes each).
    # the fixed-point contract: multipliers/shifts, quantized biases and weights, lookup tables, softmax and
    # layer norm parameters, accumulator widths
    "fixedpoint": Target(
        ("irq/fixedpoint.py",),
        (
            "tests/test_fixedpoint.py",
            "tests/test_mutation_kills_fixedpoint.py",
            "tests/test_reference_requantize.py",
            "tests/test_reference_ops.py",
            "tests/test_lower_bpu.py",
            "tests/test_quant_validation.py",
            "tests/test_transformer_quant.py",
        ),
    ),
    # the reference runtime: the integer arithmetic (requantize, rounding shifts), the bpu ops, the float
    # islands and the interpreter
    "reference-runtime": Target(
        (
            "runtime/reference/arithmetic.py",
            "runtime/reference/ops.py",
            "runtime/reference/float_ops.py",
            "runtime/reference/interpreter.py",
        ),
        (
            "tests/test_reference_requantize.py",
            "tests/test_reference_ops.py",
            "tests/test_reference_without_torch.py",
            "tests/test_mutation_kills_reference.py",
            "tests/test_float_islands.py",
            "tests/test_lower_bpu.py",
            "tests/test_transformer_quant.py",
            "tests/test_convert_artifact.py",
        ),
    ),
    # lowering's parameter code: requantize insertion, weight/bias codes, multipliers and shifts, LUTs,
    # rescaled add/cat, accumulator widths
    "lower-bpu": Target(
        ("passes/lower_bpu.py", "passes/_lowering.py", "passes/_lower_ops.py"),
        (
            "tests/test_lower_bpu.py",
            "tests/test_mutation_kills_lower_bpu.py",
            "tests/test_transformer_quant.py",
            "tests/test_convert_artifact.py",
            "tests/test_embedding_quant.py",
            "tests/test_mutation_kills_validation.py",
        ),
    ),
    # VALIDATION: the integer arithmetic quantized models run in torch, checked against the deployed program
    # (bit for bit) and the numpy emulator
    "quant-validation": Target(
        ("irq/quant/validation.py",),
        ("tests/test_quant_validation.py", "tests/test_transformer_quant.py", "tests/test_qat_operand_slot.py",
         "tests/test_mutation_kills_validation.py", "tests/test_embedding_quant.py"),
    ),
    # arith's folds and canonicalization patterns: the integer arithmetic canonicalize applies
    "arith-folds": Target(
        ("dialects/arith.py", "dialects/_arith_semantics.py"),
        ("tests/test_canonicalize_pass.py", "tests/test_rewrite_driver.py", "tests/test_pass_semantics.py"),
        (_LIT_PASSES + "canonicalize.irq",),
    ),
}

from _mutation_equivalents import EQUIVALENT  # noqa: E402  (bench/ is on sys.path when run)


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


def _env(copy: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["IRQ_CACHE_DIR"] = str(cache)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"  # one core per run on a shared machine
    env["HYPOTHESIS_PROFILE"] = "ci"  # derandomized: a mutant is killed or not, the same every run
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
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


def _run_lit(files: tuple[str, ...]) -> int:
    out = tempfile.mkdtemp(prefix="irq-mut-lit-")
    try:
        env = dict(os.environ, IRQ_LIT_OUTPUT=out)
        return subprocess.run(
            [sys.executable, "-c", "import lit.main; lit.main.main()", "-q", *files],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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
            tests, why = select_tests(cmap, index[src], src, *m.start_pos)
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
def stratified_subset(copy: Path, pending: list, done: list, per_function: int, seed: int) -> set[str]:
    """At most `per_function` mutants of every function (module level counts as one), those in `done` included.

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
        items.sort(key=lambda w: (tuple(w.mutations[0].start_pos), w.mutations[0].operator_name,
                                  w.mutations[0].occurrence))
        room = max(0, per_function - quota.get(key, 0))
        rng = random.Random(f"{seed}:{key[0]}:{key[1]}")
        chosen.update(w.job_id for w in rng.sample(items, min(room, len(items))))
    return chosen


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


def run_target(name: str, work: Path, sample: int | None, time_box: float, seed: int, jobs: int = 1,
               per_function: int | None = None) -> Outcome:

    t = TARGETS[name]
    session = work / "session.sqlite"
    digests = {src: hashlib.sha256((ROOT / src).read_bytes()).hexdigest() for src in t.sources}
    if session.exists():  # resume a kept session: the pending mutants only
        if json.loads((work / "sources.json").read_text()) != digests:
            raise SystemExit(f"{name}: the sources changed since the session in {work} began; delete it to start over")
        copy, cache, cmap = work / "tree", work / "cache", work / "coverage.json"
        for src in t.sources:  # undo a mutation left by an interrupted run
            shutil.copy2(ROOT / src, copy / src)
        env = _env(copy, cache)
        started = time.monotonic()
        print(f"[{name}] resuming the session in {work}", flush=True)
        return _run_session(name, t, copy, env, session, cmap, started, None, sample, seed, time_box, jobs,
                            per_function)
    copy = make_scratch_copy(work / "tree")
    cache = work / "cache"
    cache.mkdir()
    env = _env(copy, cache)
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
                        per_function)


def _run_session(name: str, t: Target, copy: Path, env: dict[str, str], session: Path, cmap: Path, started: float,
                 base_seconds: float | None, sample: int | None, seed: int, time_box: float, jobs: int = 1,
                 per_function: int | None = None) -> Outcome:
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
            chosen = stratified_subset(copy, [w for w in items if w.job_id in set(pending)], done, per_function, seed)
    only = session.with_suffix(".only.json")
    only.unlink(missing_ok=True)
    if chosen is not None:
        only.write_text(json.dumps(sorted(chosen)))
        print(f"[{name}] stratified subset: {len(chosen)} of the {len(pending)} pending mutants, at most "
              f"{per_function} per function (run so far included; seed {seed}); the rest stay pending", flush=True)
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
        for src in (*t.sources, "bench/mutation.py", "bench/_mutation_exec.py"):  # sources unmutated, tool current
            shutil.copy2(ROOT / src, tree / src)
        procs.append(subprocess.Popen(
            [sys.executable, str(tree / "bench" / "mutation.py"), "--execute", name, str(session), str(cmap),
             "--stride", str(i), str(jobs), *(["--only", str(only)] if chosen is not None else [])],
            cwd=tree,
            env=_env(tree, copy.parent / "cache"),
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


def score_session(name: str, session: Path, seconds: float | None = None) -> Outcome:
    """Score a session (running, stopped or finished) from cosmic-ray's database; lines from the worktree."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    t = TARGETS[name]
    tree = session.parent / "tree"
    annotations = {src: _annotation_spans(ROOT / src) for src in t.sources}
    killed, survivors, equivalent, incompetent, ran, invalid, test_seconds = 0, [], [], [], 0, 0, 0.0
    functions = {src: _enclosing_functions(ROOT / src) for src in t.sources}
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
            line = _line(ROOT, path, m.start_pos[0])
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
                   in_annotations, incompetent, invalid, pending)


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


def _session_sources(work: Path, sources: tuple[str, ...]) -> dict[str, str]:
    """The text each source had when the kept session in `work` was taken (its mutants are numbered in it).

    The session's scratch tree holds it, unless a run was interrupted mid-mutant; sources.json's digests
    tell, and the worktree's file stands in when it is still the same.
    """
    digests = json.loads((work / "sources.json").read_text())
    out = {}
    for src in sources:
        for candidate in (work / "tree" / src, ROOT / src):
            if candidate.exists() and hashlib.sha256(candidate.read_bytes()).hexdigest() == digests.get(src):
                out[src] = candidate.read_text()
                break
        else:
            raise SystemExit(f"{src}: neither {work / 'tree'} nor the worktree holds the text the session was "
                             "taken from (a run interrupted mid-mutant after the file changed): run the target again")
    return out


def _collect(copy: Path, env: dict[str, str], files: list[str]) -> list[str]:
    """The ids of the tests `files` hold today (pytest --collect-only in the scratch copy)."""
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p",
                        "no:xdist", "-p", "no:randomly", *files], cwd=copy, env=env, capture_output=True, text=True)
    if r.returncode not in (0, 5):
        raise SystemExit(f"collecting {' '.join(files)} failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    return [x.strip() for x in r.stdout.splitlines() if "::" in x and not x.startswith(" ")]


def replay(name: str, work: Path, fresh: bool) -> int:
    """Re-apply every survivor of a kept session to a new scratch copy of the current tree and run its tests again.

    The tests are the target's tests/test_mutation_kills_*.py files, every test collected today that the
    session never saw, and the tests the session chose that still exist (_mutation_exec.replay_tests), so a
    new test is credited only with the mutants it fails against. A source changed since the session is
    handled by finding each mutant again by its line (_mutation_exec.relocate). `fresh` runs each in a new
    pytest process instead of the fork server (an independent check of the fork server's verdicts).
    """
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    t = TARGETS[name]
    session = work / "session.sqlite"
    old_tree = work / "tree"
    old_text = _session_sources(work, t.sources)
    functions = {src: _enclosing_functions_of(text) for src, text in old_text.items()}
    jobs = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.test_outcome != TestOutcome.SURVIVED:
                continue
            m = item.mutations[0]
            path = os.path.relpath(m.module_path, old_tree) if os.path.isabs(m.module_path) else str(m.module_path)
            fn = functions.get(path, {}).get(m.start_pos[0])
            line = old_text[path].splitlines()[m.start_pos[0] - 1].strip()
            if _equivalent_reason(path, line, fn, m.operator_name, m.start_pos[1]) is None:
                jobs.append(item.job_id)
    print(f"[{name}] replaying {len(jobs)} survivors{' in fresh processes' if fresh else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"irq-replay-{name}-") as tmp:
        copy = make_scratch_copy(Path(tmp) / "tree")
        (Path(tmp) / "cache").mkdir()
        env = _env(copy, Path(tmp) / "cache")
        old_dir = Path(tmp) / "session-sources"
        for src, text in old_text.items():
            (old_dir / src).parent.mkdir(parents=True, exist_ok=True)
            (old_dir / src).write_text(text)
        jobs_file = Path(tmp) / "jobs.json"
        current = _collect(copy, env, [x for x in t.tests if (copy / x).exists()])
        # the tests the session's map does not know (kill files, tests added since) get a map of their own on
        # the current tree, so each survivor runs only those of them that execute its statement
        cmap = json.loads((work / "coverage.json").read_text())
        known = set(cmap["order"])
        whole = [x for x in t.tests if (copy / x).exists() and ("mutation_kills" in x or not any(
            o.startswith(x + "::") for o in known))]
        new = whole + [x for x in current if x not in known and not x.startswith(tuple(f + "::" for f in whole))]
        new_map = Path(tmp) / "new-tests-coverage.json"
        if new:
            print(f"[{name}] mapping the coverage of {len(new)} test files/ids the session never ran", flush=True)
            code = ("import json, sys; sys.path.insert(0, 'bench'); from pathlib import Path; "
                    "from _mutation_exec import write_coverage_map; "
                    f"sys.exit(write_coverage_map({list(t.sources)!r}, json.loads(sys.argv[1]), Path(sys.argv[2])))")
            r = subprocess.run([sys.executable, "-c", code, json.dumps(new), str(new_map)], cwd=copy, env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{name}: the new tests fail on the unmutated tree:\n{r.stdout[-3000:]}"
                                 f"{r.stderr[-2000:]}")
        jobs_file.write_text(json.dumps({"jobs": jobs, "current": current, "old_sources": str(old_dir),
                                         "new_map": str(new_map) if new else None}))
        cmd = [sys.executable, str(copy / "bench" / "mutation.py"), "--replay-exec", name, str(session),
               str(work / "coverage.json"), str(jobs_file)]
        return subprocess.run(cmd + (["--fresh"] if fresh else []), cwd=copy, env=env).returncode


def replay_exec(name: str, session: Path, coverage_map: Path, jobs_file: Path, fresh: bool) -> int:
    """The replay's worker (cwd = the new scratch copy): one line per survivor, then the counts."""
    import cosmic_ray.plugins
    from _mutation_exec import (
        CoverageMap,
        ForkServer,
        StatementIndex,
        mutation_starts,
        relocate,
        replay_tests,
        run_fresh,
        select_tests,
        statement_lines,
    )
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.work_db import WorkDB, use_db

    t = TARGETS[name]
    copy = Path.cwd()
    cmap = CoverageMap.load(coverage_map)
    spec = json.loads(jobs_file.read_text())
    old_dir = Path(spec["old_sources"])
    # whole files: the kill tests, and test files added to the target after the session's coverage map
    whole_files = [x for x in t.tests if (copy / x).exists() and ("mutation_kills" in x or not any(
        o.startswith(x + "::") for o in cmap.order))]
    server = None if fresh else ForkServer(cmap, list(t.sources))
    old_index = {src: StatementIndex(old_dir / src) for src in t.sources}  # the map's lines are the session's
    index = {src: StatementIndex(copy / src) for src in t.sources}
    log = copy / "replay.child.log"
    jobs = set(spec["jobs"])
    new_map = CoverageMap.load(Path(spec["new_map"])) if spec.get("new_map") else None
    counts: dict[str, int] = {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = [item for item, _ in db.completed_work_items if item.job_id in jobs]
    for item in items:
        m = item.mutations[0]
        src = os.path.relpath(m.module_path, session.parent / "tree") if os.path.isabs(m.module_path) else str(
            m.module_path)
        old_line = (old_dir / src).read_text().splitlines()[m.start_pos[0] - 1].strip()
        operator = cosmic_ray.plugins.get_operator(m.operator_name)(**(m.operator_args or {}))
        occurrence = relocate((old_dir / src).read_text(), (copy / src).read_text(), operator, m.occurrence)
        if occurrence is None:
            counts["gone"] = counts.get("gone", 0) + 1
            print(f"  gone     {src}:{m.start_pos[0]} {m.operator_name} #{m.occurrence}: {old_line}  "
                  "(its line changed since the session: run the target again)", flush=True)
            continue
        selected, _ = select_tests(cmap, old_index[src], src, *m.start_pos)
        with use_mutation(copy / src, operator, occurrence) as (original, mutated):
            starts = mutation_starts(original, operator)
            at = starts[occurrence] if occurrence < len(starts) else tuple(m.start_pos)
            if new_map is None:
                tests = replay_tests(cmap, selected, spec["current"], whole_files)
            else:  # the new tests that execute the mutant's statement, then the session's that still exist
                fresh, _ = select_tests(new_map, index[src], src, *at)
                tests = replay_tests(cmap, selected, [x for x in spec["current"] if x in set(cmap.order)], [])
                tests = fresh + tests
            budget = 120 + 10 * sum(cmap.durations.get(x, 1.0) for x in tests)
            if mutated is None:
                verdict = "gone"
            elif server is not None and server.hot(src, statement_lines(index[src], *at)):
                verdict, _ = server.run_hot(src, original, mutated, tests, budget, log)
            else:
                verdict, _ = run_fresh(tests, budget, log)
            if verdict == "survived" and t.lit and _run_lit(t.lit) != 0:
                verdict = "killed"
        verdict = "killed" if verdict == "timeout" else verdict
        counts[verdict] = counts.get(verdict, 0) + 1
        print(f"  {verdict:8s} {src}:{m.start_pos[0]} (now {at[0]}) {m.operator_name} #{m.occurrence}: {old_line}",
              flush=True)
    undecided = {k: v for k, v in counts.items() if k not in ("killed", "survived")}
    print(f"[{name}] {counts.get('killed', 0)} of {len(items)} survivors killed now, {counts.get('survived', 0)} "
          f"survive" + (f", not decided: {undecided}" if undecided else ""), flush=True)
    return 0


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"targets (default: all): {', '.join(TARGETS)}")
    ap.add_argument("--sample", type=int, help="run at most this many mutants per target, drawn at random")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample")
    ap.add_argument("--per-function", type=int, metavar="K", help="a deterministic stratified subset: at most K "
                    "mutants per function (those already run count); the rest stay pending for a later full run")
    ap.add_argument("--only", help=argparse.SUPPRESS)
    ap.add_argument("--time-box", type=float, default=3600, help="seconds per target (default 3600)")
    ap.add_argument("--list", action="store_true", help="list the targets and their tests")
    ap.add_argument("--keep", metavar="DIR", help="keep each target's session in DIR/<target>; run again to resume it")
    ap.add_argument("--run-tests", metavar="TARGET", help=argparse.SUPPRESS)  # cosmic-ray's test command
    ap.add_argument("--replay", metavar="DIR", help="re-run the survivors of the sessions kept in DIR against the "
                    "current tests (new kill tests included)")
    ap.add_argument("--score", metavar="DIR", help="score the sessions kept in DIR as they stand (a run may "
                    "still be going)")
    ap.add_argument("--fresh", action="store_true", help="with --replay: a new pytest process per mutant")
    ap.add_argument("--replay-exec", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--stride", nargs=2, type=int, default=[0, 1], help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=1, help="executors per target, each on its own scratch copy "
                    "(default 1; the machine is shared)")
    ap.add_argument("--coverage-map", nargs=2, metavar=("TARGET", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--execute", nargs=3, metavar=("TARGET", "SESSION", "MAP"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_tests:
        return run_target_tests(args.run_tests)
    if args.coverage_map:
        from _mutation_exec import write_coverage_map

        name, out = args.coverage_map
        status = write_coverage_map(list(TARGETS[name].sources), list(TARGETS[name].tests), Path(out))
        return status or (_run_lit(TARGETS[name].lit) if TARGETS[name].lit else 0)
    if args.replay_exec:
        name, session, cmap, jobs = args.replay_exec
        return replay_exec(name, Path(session), Path(cmap), Path(jobs), args.fresh)
    if args.score:
        for n in args.targets or list(TARGETS):
            session = Path(args.score).resolve() / n / "session.sqlite"
            if session.exists():
                _report(n, score_session(n, session))
        return 0
    if args.replay:
        return max(replay(n, Path(args.replay).resolve() / n, args.fresh) for n in args.targets or list(TARGETS))
    if args.execute:
        name, session, cmap = args.execute
        return execute(name, Path(session), Path(cmap), tuple(args.stride), Path(args.only) if args.only else None)
    if args.list:
        for name, t in TARGETS.items():
            print(f"{name:18s} {' '.join(t.sources)}\n{'':18s} tests: {' '.join(t.tests + t.lit)}")
        return 0
    unknown = [n for n in args.targets if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    results: dict[str, Outcome] = {}
    for name in args.targets or list(TARGETS):
        if args.keep:
            work = Path(args.keep).resolve() / name
            work.mkdir(parents=True, exist_ok=True)
            results[name] = o = run_target(name, work, args.sample, args.time_box, args.seed, args.jobs,
                                           args.per_function)
        else:
            with tempfile.TemporaryDirectory(prefix=f"irq-mutation-{name}-") as tmp:
                results[name] = o = run_target(name, Path(tmp), args.sample, args.time_box, args.seed, args.jobs,
                                               args.per_function)
        _report(name, o)
    print("\nmodule              killed/non-equivalent   score   run/total")
    for name, o in results.items():
        print(
            f"{name:18s} {o.killed:6d}/{o.killed + len(o.survivors):<6d}          {100 * o.score:5.1f}%   "
            f"{o.run}/{o.total}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
