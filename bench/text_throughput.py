"""Text parse/print throughput and memory of irq, side by side with xDSL and MLIR (C++) on the same MLIR text.

Why: irq's text format is the interface users edit and diff, and large imported
models are 1e4-1e5 ops plus tens of MB of weights. The targets (at N = 1e5, both
forms) are parse and print each at least 2x xDSL's ops/s, retained memory per op at
most xDSL's, and a 50 MB resource blob parsed at memory-copy speed. Both tools see
the very same text in the same process and run, so the ratios are meaningful even
on a noisy machine (absolute figures move by +-20% between runs).

Workloads:
* generic: `"builtin.module"() ({ "func.func"() <{...}> ({ ^bb0(...): ... }) })` holding
  a chain of unregistered `"test.op"` ops with tensor operands/results and an
  attribute dictionary (float, int array, string);
* custom: `module { func.func @main(...) { %i = arith.addf/mulf/subf ... return } }`;
* resource: one `dense_resource` op plus a blob of `--blob-mb` MB in the
  `{-# dialect_resources #-}` section, against a `str.find` + `bytes.fromhex` baseline.

Memory is measured with tracemalloc in a separate, untimed parse: "retained" is what
the parsed module still holds after `gc.collect()`, "peak" the high-water mark during
parsing (the input text is allocated before tracing starts and is not counted).

Usage: python bench/text_throughput.py [--sizes 1000,10000,100000] [--quick] [--no-xdsl] [--no-mlir] [--json out.json]
xDSL is optional (`pip install .[bench]`), and so is MLIR C++ (iree-base-compiler's bindings, in
the test extra); without them the irq columns are still printed.
A full run with xDSL takes 15-30 minutes on a 2-core box, mostly xDSL at N = 1e5 (once
timed, once under tracemalloc); `--no-memory` or smaller `--sizes` shorten it.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

TENSOR = "tensor<1x64x56x56xf32>"
_CUSTOM_OPS = ("addf", "mulf", "subf")


# ---------------------------------------------------------------------------------- inputs
def generic_text(n: int) -> str:
    """A module in generic form with `n` chained unregistered ops (irq's own generic output)."""
    t = TENSOR
    lines = [
        '"builtin.module"() ({',
        f'  "func.func"() <{{function_type = ({t}, {t}) -> {t}, sym_name = "main"}}> ({{',
        f"  ^bb0(%arg0: {t}, %arg1: {t}):",
    ]
    prev = "%arg0"
    sig = f"({t}, {t}) -> {t}"
    for i in range(n):
        alpha = (i % 8) * 0.25 + 0.5
        lines.append(
            f'    %{i} = "test.op"({prev}, %arg1) {{alpha = {alpha!r} : f32, dims = [{i % 4}, 1, 2], '
            f'name = "layer{i}"}} : {sig}'
        )
        prev = f"%{i}"
    lines += [f'    "func.return"({prev}) : ({t}) -> ()', "  }) : () -> ()", "}) : () -> ()"]
    return "\n".join(lines) + "\n"


def custom_text(n: int) -> str:
    """The same chain as registered arith ops in custom form (MLIR syntax both tools accept)."""
    t = TENSOR
    lines = ["module {", f"  func.func @main(%arg0: {t}, %arg1: {t}) -> {t} {{"]
    prev = "%arg0"
    for i in range(n):
        lines.append(f"    %{i} = arith.{_CUSTOM_OPS[i % 3]} {prev}, %arg1 : {t}")
        prev = f"%{i}"
    lines += [f"    return {prev} : {t}", "  }", "}"]
    return "\n".join(lines) + "\n"


def resource_text(nbytes: int) -> str:
    """One op using a `dense_resource` of `nbytes` float32 bytes, and its blob section."""
    import numpy as np

    count = nbytes // 4
    data = (np.arange(count, dtype=np.uint32) * np.uint32(2654435761)).tobytes()  # not all-zero, cheap to make
    head = (
        f'module {{\n  "test.weights"() {{value = dense_resource<blob> : tensor<{count}xf32>}} : () -> ()\n}}\n'
        '\n{-#\n  dialect_resources: {\n    builtin: {\n      blob: "0x04000000'
    )
    return head + data.hex().upper() + '"\n    }\n  }\n#-}\n'


# ---------------------------------------------------------------------------------- tools
class IrqTool:
    name = "irq"

    def __init__(self) -> None:
        import irq

        self.irq = irq

    def reset(self) -> None:
        pass

    def parse(self, text: str) -> Any:
        return self.irq.parse_module(text)

    def print(self, module: Any, generic: bool) -> str:
        return self.irq.print_module(module, generic=generic)

    @staticmethod
    def count_ops(module: Any) -> int:
        return sum(1 for _ in module.walk())


class XdslTool:
    name = "xdsl"

    def __init__(self) -> None:
        from xdsl.context import Context
        from xdsl.dialects.arith import Arith
        from xdsl.dialects.builtin import Builtin
        from xdsl.dialects.func import Func
        from xdsl.parser import Parser
        from xdsl.printer import Printer

        self._Parser, self._Printer = Parser, Printer
        self._dialects = (Builtin, Func, Arith)
        self._Context = Context
        self.reset()

    def reset(self) -> None:
        """A fresh context and empty blob storage.

        xDSL keeps resource blobs in the dialect's OpAsmDialectInterface, shared by all
        contexts in the process, and renames a key declared again (`blob` -> `blob_0`),
        so a second parse of the same file would lose its blob without this.
        """
        from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface

        self.ctx = self._Context(allow_unregistered=True)
        for d in self._dialects:
            self.ctx.load_dialect(d)
            if d.has_interface(OpAsmDialectInterface):
                d.get_interface(OpAsmDialectInterface)._blob_storage.clear()

    def parse(self, text: str) -> Any:
        return self._Parser(self.ctx, text).parse_module()

    def print(self, module: Any, generic: bool) -> str:
        import io

        s = io.StringIO()
        p = self._Printer(stream=s, print_generic_format=generic)
        p.print_op(module)
        p.print_metadata(self.ctx.loaded_dialects)  # the resource section, if any resource was referenced
        return s.getvalue()

    @staticmethod
    def count_ops(module: Any) -> int:
        return sum(1 for _ in module.walk())


class MlirTool:
    """MLIR itself (C++), through the Python bindings iree-base-compiler ships (the test extra).

    Its context registers builtin, func and arith, and accepts the unregistered `test.op`s.
    Memory is not traced (tracemalloc sees only Python allocations).
    """

    name = "mlir"

    def __init__(self) -> None:
        from iree.compiler import ir

        self._ir = ir
        self.reset()

    def reset(self) -> None:
        self.ctx = self._ir.Context()
        self.ctx.allow_unregistered_dialects = True
        self.ctx.enable_multithreading(False)  # one thread, as irq: CPU time is then comparable

    def parse(self, text: str) -> Any:
        return self._ir.Module.parse(text, self.ctx)

    def print(self, module: Any, generic: bool) -> str:
        return module.operation.get_asm(print_generic_op_form=generic)

    @staticmethod
    def count_ops(module: Any) -> int:
        count = 0

        def visit(op: Any) -> None:
            nonlocal count
            count += 1
            for region in op.regions:
                for block in region.blocks:
                    for child in block.operations:
                        visit(child.operation)

        visit(module.operation)
        return count


# ---------------------------------------------------------------------------------- measuring
def best_time(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Best wall time of `reps` calls (GC enabled, as users run) and the last result."""
    best, _, result = best_times(fn, reps)
    return best, result


def best_times(fn: Callable[[], Any], reps: int) -> tuple[float, float, Any]:
    """Best wall time and best CPU time (this process) of `reps` calls, and the last result.

    CPU time is what the ratios against MLIR use: on a box shared by other jobs wall time
    includes waiting for a core, and both tools run single-threaded here (MLIR's context is
    made without its thread pool), so CPU time is the work each one did.
    """
    best = best_cpu = float("inf")
    result = None
    for _ in range(reps):
        result = None
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = fn()
        t1 = time.perf_counter()
        c1 = time.process_time()
        best = min(best, t1 - t0)
        best_cpu = min(best_cpu, c1 - c0)
    return best, best_cpu, result


def traced(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """(retained bytes after gc, peak bytes, result) of one call under tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current, peak, result


@dataclass
class Row:
    form: str
    n: int
    tool: str
    ops: int
    parse_s: float
    print_s: float
    retained_b: int
    peak_b: int
    parse_cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def parse_cpu_ops(self) -> float:
        return self.ops / self.parse_cpu_s if self.parse_cpu_s > 0 else 0.0

    @property
    def parse_ops(self) -> float:
        return self.ops / self.parse_s

    @property
    def print_ops(self) -> float:
        return self.ops / self.print_s


def run_text(tool: Any, form: str, n: int, text: str, reps: int, memory: bool) -> Row:
    generic = form == "generic"
    parse_s, parse_cpu_s, module = best_times(lambda: tool.parse(text), reps)
    ops = tool.count_ops(module)
    print_s, out = best_time(lambda: tool.print(module, generic), reps)
    notes = []
    if tool.name == "irq" and out != text:
        notes.append("ROUND-TRIP MISMATCH")
    del module, out
    retained = peak = 0
    if memory and tool.name != "mlir":
        retained, peak, module = traced(lambda: tool.parse(text))
        del module
    gc.collect()
    return Row(form, n, tool.name, ops, parse_s, print_s, retained, peak, parse_cpu_s, notes)


def run_resource(tools: list[Any], mb: float) -> dict[str, Any]:
    nbytes = int(mb * 1e6) // 4 * 4
    text = resource_text(nbytes)
    hex_mb = (2 * nbytes + 8) / 1e6
    out: dict[str, Any] = {"blob_mb": nbytes / 1e6, "hex_text_mb": hex_mb}

    def baseline() -> bytes:
        start = text.index('"0x') + 3
        end = text.find('"', start)
        return bytes.fromhex(text[start:end])

    t, raw = best_time(baseline, 3)
    out["baseline_fromhex"] = {"parse_s": t, "parse_mb_s": hex_mb / t}
    t = best_time(lambda: raw.hex().upper(), 3)[0]
    out["baseline_hex_upper"] = {"print_s": t, "print_mb_s": hex_mb / t}
    raw = b""
    for tool in tools:
        entry: dict[str, Any] = {}
        try:
            entry.update(_resource_one(tool, text, hex_mb))
        except Exception as e:  # report, never crash the whole benchmark on a peer's limitation
            entry["error"] = f"{type(e).__name__}: {str(e)[:120]}"
        gc.collect()
        out[tool.name] = entry
    return out


def _resource_one(tool: Any, text: str, hex_mb: float) -> dict[str, Any]:
    """Parse/print times of the resource module; irq also gets a round-trip check and its memory."""
    entry: dict[str, Any] = {}
    best = float("inf")
    module = None
    for _ in range(3):
        module = None
        tool.reset()  # xDSL keeps blobs in its context and renames a key declared twice
        gc.collect()
        t0 = time.perf_counter()
        module = tool.parse(text)
        best = min(best, time.perf_counter() - t0)
    entry["parse_s"], entry["parse_mb_s"] = best, hex_mb / best
    t, printed = best_time(lambda: tool.print(module, False), 3)
    entry["print_s"], entry["print_mb_s"] = t, hex_mb / t
    entry["blob_printed"] = '"0x04000000' in printed and printed.count('"0x') == 1
    if tool.name == "irq":
        entry["round_trip"] = printed == text
        del module, printed
        retained, peak, module = traced(lambda: tool.parse(text))
        entry["retained_mb"], entry["peak_mb"] = retained / 1e6, peak / 1e6
    return entry


def startup(tool: str, reps: int = 3) -> dict[str, float] | None:
    """Fresh-interpreter import time and first parse of a tiny module (best of `reps`)."""
    if tool == "irq":
        code = (
            "import time; t0 = time.perf_counter(); import irq; t1 = time.perf_counter(); "
            "irq.parse_module('module {\\n}\\n'); t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
        )
    else:
        code = (
            "import time; t0 = time.perf_counter(); from xdsl.context import Context; "
            "from xdsl.parser import Parser; from xdsl.dialects.builtin import Builtin; "
            "t1 = time.perf_counter(); c = Context(); c.load_dialect(Builtin); "
            "Parser(c, 'builtin.module {\\n}\\n').parse_module(); t2 = time.perf_counter(); "
            "print(t1 - t0, t2 - t1)"
        )
    best: tuple[float, float] | None = None
    for _ in range(reps):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        imp, first = (float(x) for x in r.stdout.split())
        if best is None or imp + first < sum(best):
            best = (imp, first)
    assert best is not None
    return {"import_s": best[0], "first_parse_s": best[1], "total_s": best[0] + best[1]}


# ---------------------------------------------------------------------------------- report
def _k(x: float) -> str:
    return f"{x / 1e3:.1f}k" if x < 1e6 else f"{x / 1e6:.2f}M"


def print_table(rows: list[Row]) -> None:
    hdr = (
        f"{'form':8} {'N':>7} {'tool':5} {'parse ops/s':>12} {'print ops/s':>12} "
        f"{'retained B/op':>14} {'peak B/op':>10}  notes"
    )
    print(hdr)
    print("-" * len(hdr))
    by_key: dict[tuple[str, int], dict[str, Row]] = {}
    for r in rows:
        by_key.setdefault((r.form, r.n), {})[r.tool] = r
    for (form, n), d in by_key.items():
        for tool in ("irq", "xdsl", "mlir"):
            r = d.get(tool)
            if r is None:
                continue
            ret = f"{r.retained_b / r.ops:.0f}" if r.retained_b else "-"
            pk = f"{r.peak_b / r.ops:.0f}" if r.peak_b else "-"
            print(
                f"{form:8} {n:>7} {tool:5} {_k(r.parse_ops):>12} {_k(r.print_ops):>12} {ret:>14} {pk:>10}  "
                + ", ".join(r.notes)
            )
        a, b = d.get("irq"), d.get("xdsl")
        if a and b:
            mem = f"{(a.retained_b / a.ops) / (b.retained_b / b.ops):.2f}" if a.retained_b and b.retained_b else "-"
            pk = f"{(a.peak_b / a.ops) / (b.peak_b / b.ops):.2f}" if a.peak_b and b.peak_b else "-"
            speed = f"{a.parse_ops / b.parse_ops:>11.2f}x {a.print_ops / b.print_ops:>11.2f}x"
            print(
                f"{form:8} {n:>7} {'ratio':5} {speed} {mem:>14} {pk:>10}  irq/xdsl (speed: higher is better; "
                "memory: lower)"
            )
        c = d.get("mlir")
        if a and c:
            speed = f"{a.parse_ops / c.parse_ops:>11.2f}x {a.print_ops / c.print_ops:>11.2f}x"
            print(f"{form:8} {n:>7} {'ratio':5} {speed} {'-':>14} {'-':>10}  irq/mlir, wall time")
            cpu = a.parse_cpu_s and c.parse_cpu_s and a.parse_cpu_ops / c.parse_cpu_ops
            print(
                f"{form:8} {n:>7} {'cpu':5} {cpu:>11.3f}x {'':>12} {'-':>14} {'-':>10}  irq/mlir parse, CPU time "
                f"(irq {_k(a.parse_cpu_ops)}, mlir {_k(c.parse_cpu_ops)} ops/s; aim >= 0.2x)"
            )


def print_targets(rows: list[Row]) -> None:
    """The issue's targets, checked at the largest N measured with both tools."""
    pairs = {}
    for r in rows:
        pairs.setdefault((r.form, r.n), {})[r.tool] = r
    both = [k for k, d in pairs.items() if "irq" in d and "xdsl" in d]
    if not both:
        return
    n = max(k[1] for k in both)
    parts = []
    for form in ("generic", "custom"):
        d = pairs.get((form, n))
        if not d or "xdsl" not in d:
            continue
        a, b = d["irq"], d["xdsl"]
        checks = [
            ("parse", a.parse_ops / b.parse_ops >= 2, f"{a.parse_ops / b.parse_ops:.1f}x"),
            ("print", a.print_ops / b.print_ops >= 2, f"{a.print_ops / b.print_ops:.1f}x"),
        ]
        if a.retained_b and b.retained_b:
            ratio = (a.retained_b / a.ops) / (b.retained_b / b.ops)
            checks.append(("memory", ratio <= 1, f"{ratio:.2f}"))
        parts.append(f"{form}: " + ", ".join(f"{name} {val} {'ok' if ok else 'MISSED'}" for name, ok, val in checks))
    print(f"\ntargets at N={n} (speed >= 2x xDSL, memory/op <= xDSL): " + "; ".join(parts))


def print_resource(res: dict[str, Any]) -> None:
    print(f"\ndense_resource: {res['blob_mb']:.1f} MB blob = {res['hex_text_mb']:.1f} MB of hex text")
    b = res["baseline_fromhex"]
    print(f"  {'str.find + bytes.fromhex':28} parse {b['parse_mb_s']:8.0f} MB/s ({b['parse_s'] * 1e3:.0f} ms)")
    b = res["baseline_hex_upper"]
    print(f"  {'bytes.hex().upper()':28} print {b['print_mb_s']:8.0f} MB/s ({b['print_s'] * 1e3:.0f} ms)")
    for tool in ("irq", "xdsl"):
        e = res.get(tool)
        if e is None:
            continue
        if "error" in e:
            print(f"  {tool:28} not supported here: {e['error']}")
            continue
        extra = ""
        if tool == "irq":
            extra = (
                f", round-trip {'ok' if e.get('round_trip') else 'MISMATCH'}, "
                f"retained {e['retained_mb']:.0f} MB, peak {e['peak_mb']:.0f} MB"
            )
        elif not e.get("blob_printed"):
            extra = ", blob NOT printed back"
        else:
            extra = " (xDSL keeps the hex text as a str; it never decodes the bytes)"
        print(
            f"  {tool:28} parse {e['parse_mb_s']:8.0f} MB/s ({e['parse_s'] * 1e3:.0f} ms), "
            f"print {e['print_mb_s']:8.0f} MB/s ({e['print_s'] * 1e3:.0f} ms){extra}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=None, help="comma-separated op counts (default 1000,10000,100000)")
    ap.add_argument("--quick", action="store_true", help="sizes up to 1e4 and a 5 MB blob (CI smoke)")
    ap.add_argument("--no-xdsl", action="store_true", help="do not measure xDSL")
    ap.add_argument("--no-mlir", action="store_true", help="do not measure MLIR C++ (iree-base-compiler)")
    ap.add_argument("--forms", default="generic,custom")
    ap.add_argument("--blob-mb", type=float, default=None, help="resource blob size in MB (default 50; 0 to skip)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    ap.add_argument("--json", metavar="PATH", help="also write all figures as JSON")
    args = ap.parse_args(argv)

    sizes = [int(float(s)) for s in args.sizes.split(",")] if args.sizes else [1000, 10000, 100000]
    if args.quick:
        sizes = [s for s in sizes if s <= 10000] or [1000]
    blob_mb = args.blob_mb if args.blob_mb is not None else (5.0 if args.quick else 50.0)
    forms = [f for f in args.forms.split(",") if f]

    tools: list[Any] = [IrqTool()]
    xdsl_note = ""
    if not args.no_xdsl:
        try:
            tools.append(XdslTool())
        except ImportError:
            xdsl_note = "xDSL not installed (pip install .[bench])"
    if not args.no_mlir:
        try:
            tools.append(MlirTool())
        except ImportError:
            xdsl_note += ("; " if xdsl_note else "") + "MLIR bindings not installed (pip install iree-base-compiler)"
    print(f"python {sys.version.split()[0]}; sizes {sizes}; forms {forms}" + (f"; {xdsl_note}" if xdsl_note else ""))

    # Warm up: the first parse compiles the grammar / builds caches; not what we measure.
    for tool in tools:
        tool.print(tool.parse(custom_text(3)), False)
        tool.print(tool.parse(generic_text(3)), True)

    rows: list[Row] = []
    for n in sizes:
        reps = max(1, min(5, 20000 // n))
        for form in forms:
            text = generic_text(n) if form == "generic" else custom_text(n)
            for tool in tools:
                row = run_text(tool, form, n, text, reps, not args.no_memory)
                rows.append(row)
            counts = {r.tool: r.ops for r in rows[-len(tools) :]}
            if len(set(counts.values())) > 1:
                rows[-1].notes.append(f"OP COUNT MISMATCH {counts}")
            print(f"  done {form} N={n}", file=sys.stderr, flush=True)
    print()
    print_table(rows)
    print_targets(rows)

    res = run_resource([t for t in tools if t.name != "mlir"], blob_mb) if blob_mb > 0 else None
    if res is not None:
        print_resource(res)

    start: dict[str, Any] = {}
    if not args.no_startup:
        for tool in tools:
            start[tool.name] = startup(tool.name)
        print(
            "\nstart-up (fresh interpreter, best of 3): "
            + "; ".join(
                f"{k}: import {v['import_s']:.2f} s + first parse {v['first_parse_s']:.2f} s = {v['total_s']:.2f} s"
                for k, v in start.items()
                if v
            )
        )

    if args.json:
        payload = {
            "rows": [
                dict(asdict(r), parse_ops_s=r.parse_ops, print_ops_s=r.print_ops, parse_cpu_ops_s=r.parse_cpu_ops)
                for r in rows
            ],
            "resource": res,
            "startup": start,
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
