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
    python bench/mutation.py lower-bpu --keep D --per-function 8 --functions constant_operand   # new code only

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

Adding a module is one line in TARGETS (bench/_mutation_targets.py): name -> (source files, test files,
lit files). The tool by concept: this file is the command line; _mutation_runner.py the scratch copies,
executors and subsets; _mutation_exec.py test selection and the fork server; _mutation_replay.py the
replay; _mutation_report.py the score; _mutation_equivalents.py the reviewed equivalent mutants.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _mutation_replay import replay, replay_exec
from _mutation_report import Outcome, _report, score_session
from _mutation_runner import _run_lit, execute, run_target, run_target_tests
from _mutation_targets import TARGETS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"targets (default: all): {', '.join(TARGETS)}")
    ap.add_argument("--sample", type=int, help="run at most this many mutants per target, drawn at random")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample")
    ap.add_argument("--per-function", type=int, metavar="K", help="a deterministic stratified subset: at most K "
                    "mutants per function (those already run count); the rest stay pending for a later full run")
    ap.add_argument("--functions", help="with --per-function: only these functions (comma-separated names, as "
                    "`def` names them): new code inside a long module, without a subset of all the rest")
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
        return status or (_run_lit(TARGETS[name].lit, show_failures=True) if TARGETS[name].lit else 0)
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
            if t.env:
                print(f"{'':18s} env: {' '.join(f'{k}={v}' for k, v in t.env)}")
        return 0
    if args.functions and args.per_function is None:
        ap.error("--functions needs --per-function K")
    functions = frozenset(args.functions.split(",")) if args.functions else None
    unknown = [n for n in args.targets if n not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    results: dict[str, Outcome] = {}
    for name in args.targets or list(TARGETS):
        if args.keep:
            work = Path(args.keep).resolve() / name
            work.mkdir(parents=True, exist_ok=True)
            results[name] = o = run_target(name, work, args.sample, args.time_box, args.seed, args.jobs,
                                           args.per_function, functions)
        else:
            with tempfile.TemporaryDirectory(prefix=f"irq-mutation-{name}-") as tmp:
                results[name] = o = run_target(name, Path(tmp), args.sample, args.time_box, args.seed, args.jobs,
                                               args.per_function, functions)
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
