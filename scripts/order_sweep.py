"""Order-dependence sweep: does every test pass alone, and in another order?

A test that leans on state another test left behind (a registered pass, an environment variable,
a cache, the working directory, a seeded RNG's position) passes in the usual order and fails when
run alone or after different neighbours. This script runs:

    python scripts/order_sweep.py alone              # each tests/test_*.py in its own pytest
    python scripts/order_sweep.py reverse            # the whole suite, every test in reverse order
    python scripts/order_sweep.py shuffle --seed 1   # the whole suite, files and tests shuffled
    python scripts/order_sweep.py shuffle --seed 1 2 3 --files tests/test_cli.py tests/test_pass_manager.py
    python scripts/order_sweep.py shuffle --seed 7 --xdist 2   # shuffled, split over 2 workers
    python scripts/order_sweep.py alone --files tests/test_cli.py tests/test_fuzz.py

Orders come from tests/conftest.py (IRQ_TEST_ORDER); the whole-suite orders run in one process
(no xdist unless --xdist), so each test really follows the one before it. It prints one line per file (status and
seconds) or pytest's summary, and exits 1 if anything failed. Not part of CI: `alone` costs the
suite's time plus one interpreter start per file; docs/design.md (Test strength) records the last sweep.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]


def run_alone(files: list[Path], timeout: float) -> int:
    failed = []
    for f in files:
        started = time.monotonic()
        try:
            r = subprocess.run([*PYTEST, str(f.relative_to(ROOT))], cwd=ROOT, capture_output=True, text=True,
                               timeout=timeout)
            status, tail = r.returncode, r.stdout.strip().splitlines()[-1:] or [""]
        except subprocess.TimeoutExpired:
            status, tail = "timeout", [f"over {timeout:.0f} s"]
        ok = status in (0, 5)  # 5: a file that only holds helpers collects no test
        print(f"{'ok  ' if ok else 'FAIL'} {f.relative_to(ROOT)}  {time.monotonic() - started:6.1f} s  {tail[0]}",
              flush=True)
        if not ok:
            failed.append(str(f.relative_to(ROOT)))
            print(r.stdout[-4000:] if status != "timeout" else "", flush=True)
    print(f"\n{len(files) - len(failed)}/{len(files)} files pass alone" + (f"; failing: {failed}" if failed else ""))
    return 1 if failed else 0


def run_ordered(order: str, files: list[str] | None = None, xdist: int = 0) -> int:
    """One run of `files` (default: the suite) in `order`; the order is printed first, so a failure is
    reproduced by setting IRQ_TEST_ORDER to it. With `xdist`, the shuffled list is split over workers: each
    worker still runs its tests in the shuffled order, with other neighbours than usual."""
    env = dict(os.environ, IRQ_TEST_ORDER=order)
    cmd = [*PYTEST, *(files or ["tests"])]
    if xdist:
        cmd = [c for c in cmd if c not in ("-p", "no:xdist")] + ["-n", str(xdist)]
    print(f"IRQ_TEST_ORDER={order} {' '.join(cmd[1:])}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("alone", "reverse", "shuffle"))
    ap.add_argument("--seed", type=int, nargs="+", default=[0], help="seed(s) of the shuffle: one run each")
    ap.add_argument("--files", nargs="*", help="test files (default: every tests/test_*.py)")
    ap.add_argument("--xdist", type=int, default=0, help="for reverse/shuffle: split the run over N workers")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per file for `alone`")
    args = ap.parse_args(argv)
    if args.mode == "alone":
        files = [Path(f).resolve() for f in args.files] if args.files else sorted((ROOT / "tests").glob("test_*.py"))
        return run_alone(files, args.timeout)
    if args.mode == "reverse":
        return run_ordered("reverse", args.files, args.xdist)
    failed = [seed for seed in args.seed if run_ordered(f"shuffle:{seed}", args.files, args.xdist) != 0]
    if len(args.seed) > 1:
        print(f"\n{len(args.seed) - len(failed)}/{len(args.seed)} shuffled orders pass"
              + (f"; failing seeds: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
