"""Child process of tests/support/bounded.py: reads one JSON-encoded text per line from stdin and
answers each with one JSON line, `fuzz.check(text)` (None or the broken promise).

A MemoryError (the parent set RLIMIT_AS) is reported like any other exception, by check itself.
"""

from __future__ import annotations

import json
import sys

from tests.support import fuzz


def main() -> None:
    for line in sys.stdin.buffer:
        problem = fuzz.check(json.loads(line))
        sys.stdout.write(json.dumps(problem) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
