"""irq against MLIR C++ on MLIR's own test files: prints read both ways, and locations (issue 13).

Why: bench/mlir_audit.py judges irq alone (a valid chunk parses and reaches a fixpoint, an
invalid one is rejected at its line). This script puts MLIR C++ (iree-base-compiler's Python
bindings, the oracle the tests run) next to it on the same chunks: every valid chunk that
mlir_audit.py counts in scope and both parsers read is checked three ways, each in generic
and in custom form:

* MLIR C++ reads what irq prints;
* irq reads what MLIR C++ prints back to IR structurally equal to its own reading of the chunk;
* both give every op, block or function argument and the module the same location (printed
  with locations, inline), the implicit ones included.

Differences irq keeps on purpose (docs/design.md) show up under their own reasons: affine maps
and sets kept as written where MLIR prints them simplified, `distinct[N]` ids renumbered, sparse
literals kept as written, fused locations kept as built where MLIR's FusedLoc::get normalizes them.

Usage: python bench/mlir_audit_interop.py DIR_OR_FILE... [--failures]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

from mlir_audit import _EXPECTED_ERROR, _RUN_MUST_FAIL, _files, foreign_dialect, split_chunks

# a `loc(...)` with its nested parentheses and strings, as both printers write it inline
_LOC = re.compile(r'loc\((?:[^()"]|"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*")*\))*\)')


def _mlir_module(ir, text: str):
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    return ir.Module.parse(text, ctx)


def check_chunk(ir, text: str) -> tuple[str, str | None]:
    """('skipped', why) when one of the parsers rejects the chunk, else ('checked', None) or
    ('checked', the first difference)."""
    import irq
    from irq.text.printer import print_module

    try:
        theirs = _mlir_module(ir, text)
    except Exception:
        return "skipped", "MLIR C++ rejects the chunk"
    try:
        mine = irq.parse_module(text, filename="-")
        irq.verify(mine)
    except Exception:
        return "skipped", "irq rejects the chunk"
    for generic in (True, False):
        form = "generic" if generic else "custom"
        printed = print_module(mine, generic=generic)
        try:
            _mlir_module(ir, printed)
        except Exception as e:
            return "checked", f"MLIR C++ rejects irq's {form} print: {str(e).splitlines()[-1].strip()[:120]}"
        back_text = theirs.operation.get_asm(print_generic_op_form=generic)
        try:
            back = irq.parse_module(back_text)
        except Exception as e:
            return "checked", f"irq rejects MLIR's {form} print: {str(e).splitlines()[0][:120]}"
        diff = irq.structural_diff(back, mine)
        if diff is not None:
            return "checked", f"MLIR's {form} print reads back as other IR: {diff[:120]}"
        located_mlir = theirs.operation.get_asm(
            enable_debug_info=True, use_local_scope=True, print_generic_op_form=generic
        )
        located_irq = print_module(mine, generic=generic, debuginfo=True, local_scope=True)
        locs_mlir, locs_irq = _LOC.findall(located_mlir), _LOC.findall(located_irq)
        if locs_irq != locs_mlir:
            if len(locs_irq) != len(locs_mlir):
                return "checked", f"locations differ ({form}): {len(locs_mlir)} printed by MLIR, {len(locs_irq)} by irq"
            a, b = next((a, b) for a, b in zip(locs_mlir, locs_irq) if a != b)
            return "checked", f"locations differ ({form}): MLIR {a} vs irq {b}"
    return "checked", None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="copies of MLIR test files, or folders of them")
    ap.add_argument("--failures", action="store_true", help="print every chunk that differs, with the difference")
    args = ap.parse_args(argv)
    try:
        from iree.compiler import ir
    except ImportError:
        print("MLIR C++ is not installed (pip install iree-base-compiler, the test extra)", file=sys.stderr)
        return 2
    checked = agreed = 0
    skipped: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for path in _files(args.paths):
        text = path.read_text(encoding="utf-8")
        if _RUN_MUST_FAIL.search(text):
            continue
        for chunk, offset in split_chunks(text):
            code = [ln for ln in chunk.splitlines() if ln.strip() and not ln.lstrip().startswith("//")]
            if not code or _EXPECTED_ERROR.search(chunk) or foreign_dialect(chunk):
                continue
            status, why = check_chunk(ir, "\n" * offset + chunk)
            if status == "skipped":
                skipped[why] += 1
                continue
            checked += 1
            if why is None:
                agreed += 1
                continue
            reasons[re.sub(r"[0-9]+", "N", why)[:100]] += 1
            if args.failures:
                print(f"    {path.name}:{offset + 1}: {why}")
    print(f"valid in-scope chunks both read: {checked}; no difference in the six checks: {agreed}")
    for why, n in skipped.most_common():
        print(f"  skipped {n:4d}: {why}")
    if reasons:
        print("differences by reason (numbers as N):")
        for why, n in reasons.most_common():
            print(f"  {n:4d}  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
