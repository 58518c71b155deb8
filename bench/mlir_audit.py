"""Audit irq's text format against MLIR's own test files (issue 13).

Why: MLIR's test files (mlir/test/IR, Dialect/Quant, Builtin, Arith, Func) are the
specification of the syntax irq claims. Each file is split on `// -----` as
`mlir-opt --split-input-file` splits it, and every chunk is judged by the rule of
its kind:

* a *valid* chunk (no `expected-error`) that uses no foreign dialect's custom syntax
  must parse, verify and round-trip to a byte-identical fixpoint in generic and in
  custom form (print, parse, print again: the same text; the custom text read back
  prints the same generic text);
* an *invalid* chunk (`expected-error`) must be rejected, by the parser or the
  verifier, and at a line one of its `expected-error` annotations names (messages
  are irq's own, so only the line is compared); a file run as `not mlir-opt %s`
  without annotations is invalid as a whole, rejected at any line.

Chunks that write a foreign dialect's op in custom form (`affine.for`, `test.op %x`,
`memref.alloc`) say nothing about irq's syntax and are counted apart; generic ops of
any dialect and opaque `!d.t` / `#d.a` types and attributes are in scope. Counted apart
too, as rules irq, not having those dialects, cannot know: invalid chunks whose every
expected error is a rule of MLIR's test dialect (an ODS constraint of a `test.*` op:
"failed to satisfy constraint", "allowed ... cases", `test::` enums; IR/attribute.mlir) or
sits on a generic op of another upstream dialect (`"affine.apply"`; IR/invalid-ops.mlir)
or uses that dialect's attributes (`#dlti.dl_spec`; IR/module-op.mlir), and chunks using
the test dialect's attributes or resources (IR/*file-metadata*.mlir). Parsing allows
unregistered dialects (`-allow-unregistered-dialect`, which most of these
files pass; MLIR's test dialect is registered in its own runs).

MLIR's files are not vendored (license and size): pass the folder or files holding
the copies you audit. The last figures and the copy's provenance are in
docs/design.md ("Audit against MLIR's test files").

Usage: python bench/mlir_audit.py DIR_OR_FILE... [--failures] [--only valid|invalid]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_SPLIT = "// -----"
_EXPECTED_ERROR = re.compile(r"expected-error\s*(?:@\s*(above|below|[+-]?\d+))?\s*\{\{")
_ANNOTATION = re.compile(r"expected-(?:error|warning|note|remark)")
# an op in custom form at a statement start: optional results, then `dialect.op` not followed by `=`
_CUSTOM_OP = re.compile(
    r"^\s*(?:%[\w$.\-#:]+(?:\s*,\s*%[\w$.\-#:]+)*\s*=\s*)?([A-Za-z_][\w$]*)\.[A-Za-z_][\w$.]*\b(?!\s*=)"
)
#: an error many upstream chunks trigger besides the one they test (they declare public functions
#: without a body to hold a type): not evidence that the tested rule holds
_INCIDENTAL = re.compile(r"declaration \(no body\) cannot be public")
_TESTS_PUBLIC_DECLARATION = re.compile(r"expected-error[^\n]*declaration cannot have public visibility")
#: an expected error that is a rule of MLIR's test dialect (its ops' ODS constraints), not of the syntax
_TEST_DIALECT_RULE = re.compile(
    r"failed to satisfy constraint|allowed \d+-bit signless integer cases|test::|TestBitEnum"
    r"|invalid to use 'test\."  # the test dialect's attribute verifier (IR/invalid-func-op.mlir)
)
#: a file MLIR must fail on without naming where (`// RUN: not mlir-opt %s`, no annotation): each of
#: its chunks is invalid, and a rejection at any line counts (IR/fail-invalid-tensor-encoding.mlir)
_RUN_MUST_FAIL = re.compile(r"//\s*RUN:\s*not\s+mlir-opt\b")
#: dialects whose custom forms irq knows (the others are foreign in the audit)
OWN_DIALECTS = frozenset({"builtin", "func", "arith", "quant"})
#: MLIR's other upstream dialects: an expected error on a generic op of one of them is that
#: dialect's verifier rule (`"affine.apply"` without its map), which irq, without the dialect, cannot know
_MLIR_DIALECTS = (
    "acc|affine|amdgpu|amx|arm_neon|arm_sme|arm_sve|async|bufferization|cf|complex|dlti|emitc|gpu|index|irdl"
    "|linalg|llvm|math|memref|mesh|ml_program|mpi|nvgpu|nvvm|omp|pdl|pdl_interp|ptr|rocdl|scf|shape|shard|smt"
    "|sparse_tensor|spirv|tensor|tosa|transform|ub|vector|x86vector|xegpu"
)
_FOREIGN_GENERIC = re.compile(rf'"(?:{_MLIR_DIALECTS})\.\w')
#: an attribute of another upstream dialect in an invalid chunk: the error is that dialect's rule
#: (two `#dlti.dl_spec` data layouts on one module; IR/module-op.mlir)
_FOREIGN_ATTRIBUTE = re.compile(rf"#(?:{_MLIR_DIALECTS})\.\w")
#: MLIR's test dialect (registered in mlir-opt's runs, not in the MLIR C++ the tests run): its
#: attributes and its resource section (`test: {blob: "0x..."}` under `dialect_resources`)
_TEST_DIALECT_USE = re.compile(r"#test\.|^\s*test\s*:\s*\{", re.M)


@dataclass
class FileCounts:
    """Per-file tallies; `failures` keeps (kind, first line of the chunk, reason) for --failures."""
    valid_ok: int = 0
    valid_total: int = 0
    invalid_at_line: int = 0
    invalid_rejected: int = 0
    invalid_total: int = 0
    foreign: int = 0
    failures: list[tuple[str, int, str]] = field(default_factory=list)


def split_chunks(text: str) -> list[tuple[str, int]]:
    """(chunk, line offset) as `irq-opt --split-input-file` splits it."""
    from irq.cli.opt import _chunks
    return _chunks(text, True)


def foreign_dialect(chunk: str) -> str | None:
    """The first foreign dialect written in custom form in `chunk`, or None."""
    for line in chunk.splitlines():
        code = line.split("//", 1)[0]
        m = _CUSTOM_OP.match(code)
        if m and m.group(1) not in OWN_DIALECTS:
            return m.group(1)
    return None


def _only_test_dialect_rules(chunk: str) -> bool:
    """Whether every `expected-error` of the chunk is a rule of MLIR's test dialect."""
    from irq.cli.verify_diagnostics import _expectations
    messages = [msg for sev, _line, msg, _at in _expectations(chunk, 0) if sev == "error"]
    return bool(messages) and all(_TEST_DIALECT_RULE.search(m) for m in messages)


def _only_foreign_generic_ops(chunk: str, offset: int) -> bool:
    """Whether every `expected-error` of the chunk points at a generic op of another MLIR dialect."""
    lines = chunk.splitlines()
    targets = expected_error_lines(chunk, offset)
    return bool(targets) and all(
        0 < t - offset <= len(lines) and _FOREIGN_GENERIC.search(lines[t - offset - 1].split("//", 1)[0])
        for t in targets
    )


def expected_error_lines(chunk: str, offset: int) -> set[int]:
    """The absolute lines `expected-error` annotations in the chunk point at."""
    from irq.cli.verify_diagnostics import _expectations
    return {line for sev, line, _msg, _at in _expectations(chunk, offset) if sev == "error"}


def _diagnostics(chunk: str, offset: int, ctx) -> tuple[object | None, list[tuple[int | None, str]]]:
    """Parse and verify; (module or None, [(line, message)] of the errors). The incidental
    public-declaration error counts when the chunk's own annotation tests that rule (MLIR's
    "symbol declaration cannot have public visibility", IR/invalid-func-op.mlir)."""
    incidental = None if _TESTS_PUBLIC_DECLARATION.search(chunk) else _INCIDENTAL
    from irq.diagnostics import ParseError, capture_diagnostics
    from irq.text.parser import parse_module
    from irq.verifier import verify_ops
    errors: list[tuple[int | None, str]] = []
    with capture_diagnostics() as emitted:
        try:
            module = parse_module("\n" * offset + chunk, "audit.mlir", context=ctx)
        except ParseError as e:
            return None, [(e.line, e.message)]
        except Exception as e:  # a crash is a finding, not an abort of the audit
            return None, [(None, f"CRASH {type(e).__name__}: {e}")]
        try:
            found = verify_ops(module)
        except Exception as e:
            return None, [(None, f"CRASH in verify {type(e).__name__}: {e}")]
    for d in list(emitted) + list(found):
        if getattr(d, "severity", "error") != "error" or (incidental and incidental.search(d.message)):
            continue
        flc = d.location.file_line_col() if d.location is not None else None
        errors.append((flc[1] if flc else None, d.message))
    return module, errors


def round_trip(module, ctx) -> str | None:
    """None when generic and custom prints reach a byte-identical fixpoint, else why not."""
    from irq.diagnostics import ParseError
    from irq.text.parser import parse_module
    from irq.text.printer import print_module
    try:
        g1 = print_module(module, generic=True)
        try:
            g2 = print_module(parse_module(g1, "generic", context=ctx), generic=True)
        except ParseError as e:
            return f"generic print does not parse: {e.message} ({e.line}:{e.column})"
        if g1 != g2:
            return "generic print is not a fixpoint"
        c1 = print_module(module)
        try:
            m3 = parse_module(c1, "custom", context=ctx)
        except ParseError as e:
            return f"custom print does not parse: {e.message} ({e.line}:{e.column})"
        if print_module(m3) != c1:
            return "custom print is not a fixpoint"
        if print_module(m3, generic=True) != g1:
            return "custom print reads back as other IR"
    except Exception as e:
        return f"CRASH in round trip {type(e).__name__}: {e}"
    return None


def audit_file(path: Path, only: str | None = None) -> FileCounts:
    from irq.ir.dialect import default_context
    ctx = default_context().copy(allow_unregistered=True)
    counts = FileCounts()
    text = path.read_text(encoding="utf-8")
    must_fail = bool(_RUN_MUST_FAIL.search(text))
    for chunk, offset in split_chunks(text):
        body = "\n".join(ln for ln in chunk.splitlines() if not ln.lstrip().startswith("// RUN"))
        if not body.strip() or all(ln.lstrip().startswith("//") or not ln.strip() for ln in body.splitlines()):
            continue
        annotated = bool(_EXPECTED_ERROR.search(chunk))
        invalid = annotated or must_fail
        if only and only != ("invalid" if invalid else "valid"):
            continue
        if (foreign_dialect(chunk) or _TEST_DIALECT_USE.search(chunk)
                or (annotated and (_only_test_dialect_rules(chunk) or _only_foreign_generic_ops(chunk, offset)
                                   or _FOREIGN_ATTRIBUTE.search(chunk)))):
            counts.foreign += 1
            continue
        first = offset + 1
        module, errors = _diagnostics(chunk, offset, ctx)
        if invalid:
            counts.invalid_total += 1
            if not errors:
                counts.failures.append(("accepted", first, "no error"))
                continue
            counts.invalid_rejected += 1
            targets = expected_error_lines(chunk, offset)
            if not annotated or any(line in targets for line, _ in errors):  # `not mlir-opt`: any line
                counts.invalid_at_line += 1
            else:
                where = ", ".join(f"{line}: {msg}" for line, msg in errors[:2])
                counts.failures.append(("wrong line", first, f"expected at {sorted(targets)}, got {where}"))
            continue
        counts.valid_total += 1
        if errors:
            counts.failures.append(("rejected", first, f"{errors[0][0]}: {errors[0][1]}"))
            continue
        why = round_trip(module, ctx)
        if why:
            counts.failures.append(("round trip", first, why))
        else:
            counts.valid_ok += 1
    return counts


def _files(args: list[str]) -> list[Path]:
    out: list[Path] = []
    for a in args:
        p = Path(a)
        out.extend(sorted(p.rglob("*.mlir")) if p.is_dir() else [p])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="copies of MLIR test files, or folders of them")
    ap.add_argument("--failures", action="store_true", help="print every chunk that fails, with its reason")
    ap.add_argument("--only", choices=("valid", "invalid"))
    args = ap.parse_args(argv)
    total = FileCounts()
    reasons: Counter[str] = Counter()
    print(f"{'file':52s} {'valid ok/total':>15s} {'invalid at line/rejected/total':>31s} {'foreign':>8s}")
    for path in _files(args.paths):
        c = audit_file(path, args.only)
        print(f"{path.name:52s} {c.valid_ok:>7d}/{c.valid_total:<7d} {c.invalid_at_line:>13d}/{c.invalid_rejected}/"
              f"{c.invalid_total:<8d} {c.foreign:>8d}")
        for name in ("valid_ok", "valid_total", "invalid_at_line", "invalid_rejected", "invalid_total", "foreign"):
            setattr(total, name, getattr(total, name) + getattr(c, name))
        for kind, line, why in c.failures:
            reasons[f"{kind}: {re.sub(r'[0-9]+', 'N', why)[:90]}"] += 1
            if args.failures:
                print(f"    {path.name}:{line}: {kind}: {why}")
    print(f"{'total':52s} {total.valid_ok:>7d}/{total.valid_total:<7d} {total.invalid_at_line:>13d}/"
          f"{total.invalid_rejected}/{total.invalid_total:<8d} {total.foreign:>8d}")
    if reasons:
        print("\nfailures by reason (numbers as N):")
        for why, n in reasons.most_common():
            print(f"  {n:4d}  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
