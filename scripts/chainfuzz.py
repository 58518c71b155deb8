"""Run the chain fuzzer (tests/support/model_gen.py) over a range of seeds and print every broken promise.

    nice -n 10 python scripts/chainfuzz.py 0 500            # seeds 0..499
    python scripts/chainfuzz.py 17 18 --verbose             # one case, with its source

Prints one line per case (seed, march, status, op kinds) and a summary per march; the failing seeds are
the ones to cut down by hand and keep in tests/test_chain_fuzz.py.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.chain_check import ChainBroken, check  # noqa: E402
from tests.support.model_gen import generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("start", type=int)
    ap.add_argument("stop", type=int)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures = []
    for seed in range(args.start, args.stop):
        try:
            case = generate(seed)
        except Exception as e:  # noqa: BLE001 - a generator bug: report it and go on
            print(f"seed {seed} GENERATOR {type(e).__name__}: {e}", flush=True)
            failures.append((seed, f"generator: {e}"))
            continue
        if args.verbose:
            print(case.describe())
        t0 = time.process_time()
        try:
            outcome = check(case)
            status, detail = outcome.status, outcome.detail
        except ChainBroken as e:
            status, detail = "BROKEN", str(e).split("\n---")[0]
            failures.append((seed, detail))
        except Exception as e:  # noqa: BLE001 - a crash of the harness itself is a finding too
            status, detail = "CRASH", f"{type(e).__name__}: {e}"
            failures.append((seed, detail))
            if args.verbose:
                traceback.print_exc()
        counts[case.march][status] += 1
        first = " / ".join(detail.splitlines()[:2])[:300] if detail else ""
        print(f"seed {seed} {case.march} {status} {time.process_time() - t0:.1f}s {','.join(case.ops)} | {first}",
              flush=True)
    print("\nsummary:", {m: dict(c) for m, c in counts.items()})
    for seed, detail in failures:
        print(f"FAIL seed {seed}: {detail[:400]}")


if __name__ == "__main__":
    main()
