"""Scaling of the paths that used to be quadratic, each against its linear twin in the same run.

Why: a parser or verifier that is quadratic on some shape of input is a denial of
service waiting for a large model. Each row times a "hard" input next to an "easy"
input of the same size that was always linear, and prints hard/easy. If the hard
path is linear the ratio stays flat as N grows; a quadratic path's ratio grows
with N (before the fixes: 8,000 forward references took 9.8x the defined-first
parse, and 8,000 blocks took 6.2 s and 2 GB to verify).

Rows:
* forward-refs: N ops each using a value defined further down (`"t.use"(%vK)` first,
  `%vK = "t.def"()` after), against the same ops with the definitions first;
* dominance: a function of N blocks in a chain, each using a value from the entry
  block (N cross-block dominance queries), against N such uses in one block;
* deep-arrays: `structurally_equal` on an attribute nested N deep, against a flat
  array of N elements (it used to recurse and fail past ~300 levels).

Usage: python bench/scaling.py [--sizes 1000 8000] [--repeat 3]
Timing is best of --repeat; nothing here is asserted (tests check behaviour only).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import irq
from irq.ir import structurally_equal
from irq.text.lexer import MAX_NESTING


def forward_refs(n: int, *, defined_first: bool) -> str:
    uses = [f'"t.use"(%v{k}) : (i32) -> ()' for k in range(n)]
    defs = [f'%v{k} = "t.def"() : () -> i32' for k in range(n)]
    body = defs + uses if defined_first else uses + defs
    return '"t.graph"() ({\n' + "\n".join(body) + "\n}) : () -> ()\n"


def block_chain(n: int, *, one_block: bool) -> str:
    lines = ['"func.func"() <{function_type = () -> (), sym_name = "f"}> ({', '  %x = "t.def"() : () -> i32']
    for k in range(n):
        if not one_block:
            lines.append(f'  "t.br"()[^b{k}] : () -> ()')
            lines.append(f"^b{k}:")
        lines.append('  "t.use"(%x) : (i32) -> ()')
    lines += ['  "func.return"() : () -> ()', "}) : () -> ()"]
    return "\n".join(lines) + "\n"


def nested_array(n: int, *, flat: bool) -> str:
    value = "[" + ", ".join(["1"] * n) + "]" if flat else "[" * n + "1" + "]" * n
    return f'"t.op"() {{a = {value}}} : () -> ()\n'


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(n: int, repeat: int) -> list[tuple[str, int, float, float]]:
    """(case, N, hard seconds, easy seconds) for each case at size n."""
    parse = irq.parse_module
    hard_text, easy_text = forward_refs(n, defined_first=False), forward_refs(n, defined_first=True)
    rows = [("forward-refs", n, best(partial(parse, hard_text), repeat), best(partial(parse, easy_text), repeat))]

    chain, single = parse(block_chain(n, one_block=False)), parse(block_chain(n, one_block=True))
    rows.append(("dominance", n, best(partial(irq.verify, chain), repeat), best(partial(irq.verify, single), repeat)))

    depth = min(n, MAX_NESTING - 8)  # the lexer refuses deeper brackets (the op adds a few levels)
    deep = parse(nested_array(depth, flat=False)), parse(nested_array(depth, flat=False))
    flat = parse(nested_array(depth, flat=True)), parse(nested_array(depth, flat=True))
    assert structurally_equal(*deep) and structurally_equal(*flat)
    rows.append(
        (
            "deep-arrays",
            depth,
            best(partial(structurally_equal, *deep), repeat),
            best(partial(structurally_equal, *flat), repeat),
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 8000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'case':14s} {'N':>7s} {'hard s':>9s} {'easy s':>9s} {'hard/easy':>10s}")
    for n in args.sizes:
        for name, size, hard, easy in measure(n, args.repeat):
            print(f"{name:14s} {size:7d} {hard:9.4f} {easy:9.4f} {hard / easy:10.2f}")


if __name__ == "__main__":
    main()
