"""Numba runtime speed next to torch fp32, torch.ao int8 (x86, convert_fx) and onnxruntime int8, same run.

    python bench/runtime.py [--threads 1 2] [--no-mobilenet] [--min-time 0.5]

Workloads: (a) conv 64->64 3x3 on 56x56 (115.6 MMAC), (b) matmul 128x768 @ 768x768 (75.5 MMAC),
(c) MobileNetV2 224x224 at batch 1 and 8 (a bpu program with MobileNetV2's layers and random int8
weights, bench/_bpu_programs.py; onnxruntime runs torch's MobileNetV2 exported to ONNX and quantized
by onnxruntime.quantization, QDQ per channel). Each thread count runs in its own process with OMP/OpenBLAS/MKL/
Numba thread counts set before any import. Times are the best of repeated runs (the machine is shared);
GMAC/s and ratios to each peer are printed, then irq's first-call compile time (empty Numba cache)
and warm-cache start-up (second process), both measured in fresh processes.

irq's conv/matmul take int8 codes and return int8 codes (its requantize included); onnxruntime takes
uint8/int8 tensors (QLinearConv / QLinearMatMul); torch.ao's converted modules take float and
quantize/dequantize at their boundaries; torch fp32 is plain float.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONV_MACS = 56 * 56 * 64 * 64 * 9
MATMUL_MACS = 128 * 768 * 768


def interleaved_best(fns: dict, min_time: float, threads: int, rounds: int = 5) -> dict[str, list[float]]:
    """{key: [best wall seconds, best process CPU seconds]} of each callable, the runtimes of one workload
    (the key's part before "/") timed in turns: `rounds` rounds, each giving every runtime a turn of
    ``min_time / rounds`` seconds (at least 3 runs), and the best run of all its turns.

    Why in turns: on this box a runtime's speed moves by up to 1.5x from one minute to the next (the
    whole machine slows down and recovers), so runtimes timed one after the other compared different
    phases: the matmul's ratio to onnxruntime spread over 0.33-0.73x in three back-to-back runs of the
    sequential version. Why turns of several runs, not one run each: at 2 threads a runtime's pool keeps
    spinning after its call (OpenMP's and onnxruntime's waiting threads) and takes the next runtime's
    second core; alternating single calls gave irq's 2-thread matmul 1.02 ms against 0.43 at one thread.
    Why CPU time too: on a loaded box a run longer than a scheduler slice (a few ms) almost always waits
    for other processes' turns; the process's CPU time excludes those waits, and with one thread every
    runtime computes on its threads only. At 2 threads it sums both threads' time (and any spinning), so
    only the wall column means latency there.
    Why a pause between turns at 2 threads: onnxruntime's pool spins tens of milliseconds after its last
    call. Measured (2026-12-03, session 23): for about 60 ms after 40 onnxruntime matmul calls, irq's
    2-thread matmul took 0.2-1.0 ms per call against 0.1 undisturbed, so whichever runtime followed
    onnxruntime's turn (torch.ao's) lost its first 60 ms. A 0.1 s sleep lets every pool go idle first.
    """
    groups: dict[str, list[str]] = {}
    settle = 0.1 if threads > 1 else 0.0
    for key in fns:
        groups.setdefault(key.split("/")[0], []).append(key)
    out = {}
    for keys in groups.values():
        walls = {k: [] for k in keys}
        cpus = {k: [] for k in keys}
        for _ in range(rounds):
            for key in keys:
                time.sleep(settle)  # the previous runtime's pool goes idle first
                fns[key]()  # the first call of a turn meets the previous runtime's spinning threads
                start, runs = time.perf_counter(), 0
                while runs < 3 or time.perf_counter() - start < min_time / rounds:
                    t0, c0 = time.perf_counter(), time.process_time()
                    fns[key]()
                    cpus[key].append(time.process_time() - c0)
                    walls[key].append(time.perf_counter() - t0)
                    runs += 1
        out.update({k: [min(walls[k]), min(cpus[k])] for k in keys})
    return out


# -- peers --------------------------------------------------------------------------------------
def torch_peers(threads: int, mobilenet: bool) -> dict:
    """Callables (or an error string) per "workload/runtime" key; timed by `interleaved_best`."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    out = {}
    x = torch.randn(1, 64, 56, 56)
    w = torch.randn(64, 64, 3, 3)
    out["conv/torch fp32"] = lambda: F.conv2d(x, w, padding=1)
    a, b = torch.randn(128, 768), torch.randn(768, 768)
    out["matmul/torch fp32"] = lambda: a @ b
    try:
        conv = _ao_int8(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1)), x)
        lin = _ao_int8(nn.Sequential(nn.Linear(768, 768)), a)
        out["conv/torch.ao int8"] = lambda: conv(x)
        out["matmul/torch.ao int8"] = lambda: lin(a)
    except Exception as e:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
        out["error/torch.ao"] = f"{type(e).__name__}: {e}"[:200]
    if mobilenet:
        sys.path.insert(0, ROOT)
        from tests.models.mobilenet_v2 import MobileNetV2
        model = MobileNetV2().eval()
        for batch in (1, 8):
            xb = torch.randn(batch, 3, 224, 224)
            out[f"mobilenet_v2 b{batch}/torch fp32"] = lambda xb=xb: model(xb)
        try:
            q = _ao_int8(MobileNetV2().eval(), torch.randn(1, 3, 224, 224))
            for batch in (1, 8):
                xb = torch.randn(batch, 3, 224, 224)
                out[f"mobilenet_v2 b{batch}/torch.ao int8"] = lambda xb=xb: q(xb)
        except Exception as e:  # noqa: BLE001
            out["error/torch.ao mobilenet"] = f"{type(e).__name__}: {e}"[:200]
    return out


def _ao_int8(model, example):
    import warnings

    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(model.eval(), get_default_qconfig_mapping("x86"), (example,))
        with torch.no_grad():
            for _ in range(2):
                prepared(example)
        return convert_fx(prepared)


def onnxruntime_peers(threads: int) -> dict:
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)

    def session(graph):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    def scalars(prefix, scale, zp, dtype):
        return [helper.make_tensor(f"{prefix}_s", TensorProto.FLOAT, [], [scale]),
                helper.make_tensor(f"{prefix}_z", dtype, [], [zp])]

    w = rng.integers(-127, 128, size=(64, 64, 3, 3)).astype(np.int8)
    inits = (scalars("x", 0.02, 128, TensorProto.UINT8) + scalars("w", 0.01, 0, TensorProto.INT8)
             + scalars("y", 0.5, 128, TensorProto.UINT8)
             + [helper.make_tensor("w", TensorProto.INT8, w.shape, w.tobytes(), raw=True)])
    node = helper.make_node("QLinearConv", ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"], ["y"], pads=[1] * 4)
    g = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 64, 56, 56])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    sc = session(g)
    xc = rng.integers(0, 256, size=(1, 64, 56, 56)).astype(np.uint8)
    out = {"conv/onnxruntime int8": lambda: sc.run(None, {"x": xc})}
    wm = rng.integers(-127, 128, size=(768, 768)).astype(np.int8)
    inits = (scalars("a", 0.02, 128, TensorProto.UINT8) + scalars("b", 0.01, 0, TensorProto.INT8)
             + scalars("y", 0.5, 128, TensorProto.UINT8)
             + [helper.make_tensor("b", TensorProto.INT8, wm.shape, wm.tobytes(), raw=True)])
    node = helper.make_node("QLinearMatMul", ["a", "a_s", "a_z", "b", "b_s", "b_z", "y_s", "y_z"], ["y"])
    g = helper.make_graph([node], "mm", [helper.make_tensor_value_info("a", TensorProto.UINT8, [128, 768])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    sm = session(g)
    xa = rng.integers(0, 256, size=(128, 768)).astype(np.uint8)
    out["matmul/onnxruntime int8"] = lambda: sm.run(None, {"a": xa})
    return out


def onnxruntime_mobilenet(threads: int) -> dict:
    """MobileNetV2 exported from torch (legacy exporter), quantized by onnxruntime (QDQ, per channel)."""
    import io
    import warnings

    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    sys.path.insert(0, ROOT)
    from tests.models.mobilenet_v2 import MobileNetV2

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.batches = iter([{"x": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    ort.set_default_logger_severity(3)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        f32, q8 = os.path.join(d, "m.onnx"), os.path.join(d, "m.int8.onnx")
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(MobileNetV2().eval(), (torch.randn(1, 3, 224, 224),), buf, dynamo=False,
                              opset_version=13, input_names=["x"], dynamic_axes={"x": {0: "n"}})
        with open(f32, "wb") as fh:
            fh.write(buf.getvalue())
        quantize_static(f32, q8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(q8, opts, providers=["CPUExecutionProvider"])
        for batch in (1, 8):
            xb = np.random.default_rng(1).standard_normal((batch, 3, 224, 224)).astype(np.float32)
            out[f"mobilenet_v2 b{batch}/onnxruntime int8"] = lambda xb=xb: sess.run(None, {"x": xb})
    return out


def irq_numba(mobilenet: bool) -> dict:
    import numpy as np

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from _bpu_programs import conv_program, matmul_program, mobilenet_v2_program
    from irq.runtime import numba as rn

    rng = np.random.default_rng(0)
    out = {}
    conv = rn.compile(conv_program())
    x = rng.integers(-128, 128, size=(1, 64, 56, 56)).astype(np.int8)
    out["conv/irq numba"] = lambda: conv(x)
    matmul = rn.compile(matmul_program())
    a = rng.integers(-128, 128, size=(128, 768)).astype(np.int8)
    out["matmul/irq numba"] = lambda: matmul(a)
    if mobilenet:
        net = rn.compile(mobilenet_v2_program(1))
        for batch in (1, 8):
            xb = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
            out[f"mobilenet_v2 b{batch}/irq numba"] = lambda xb=xb: net(xb)
    return out


def child(threads: int, min_time: float, mobilenet: bool) -> None:
    fns = {}
    fns.update(irq_numba(mobilenet))
    try:
        fns.update(onnxruntime_peers(threads))
    except ImportError as e:
        fns["error/onnxruntime"] = f"not installed ({e}); pip install -e '.[bench]'"
    if mobilenet:
        try:
            fns.update(onnxruntime_mobilenet(threads))
        except Exception as e:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
            fns["error/onnxruntime mobilenet"] = f"{type(e).__name__}: {e}"[:200]
    fns.update(torch_peers(threads, mobilenet))
    import torch

    results = {k: v for k, v in fns.items() if k.startswith("error/")}
    with torch.no_grad():  # the torch peers' forwards, as in inference
        timed = {k: v for k, v in fns.items() if not k.startswith("error/")}
        results.update(interleaved_best(timed, min_time, threads))
    print(json.dumps(results))


# -- start-up ------------------------------------------------------------------------------------
STARTUP = """
import time, sys
t0 = time.perf_counter()
sys.path.insert(0, {bench!r})
import numpy as np
from _bpu_programs import mobilenet_v2_program
from irq.runtime import numba as rn
prog = mobilenet_v2_program(1)
t1, c1 = time.perf_counter(), time.process_time()
f = rn.compile(prog)
f(np.zeros((1, 3, 224, 224), np.float32))
t2, c2 = time.perf_counter(), time.process_time()
print(t1 - t0, t2 - t1, c2 - c1)
"""


def startup() -> tuple[list[float], list[float]]:
    """(cold, warm) [program build s, compile + first call s wall, the same in process CPU s], each in a
    fresh process, the same cache dir. CPU time because on the shared box the wall time of a 15 s
    compile mostly measures the other processes (48-86 s wall for the same 14 s of CPU at load 20-24)."""
    code = STARTUP.format(bench=os.path.join(ROOT, "bench"))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
            if r.returncode:
                raise RuntimeError(r.stderr)
            runs.append([float(v) for v in r.stdout.split()])
    return runs[0], runs[1]


WORKLOADS = [("conv", CONV_MACS), ("matmul", MATMUL_MACS), ("mobilenet_v2 b1", 300_774_272),
             ("mobilenet_v2 b8", 8 * 300_774_272)]
PEERS = ["onnxruntime int8", "torch.ao int8", "torch fp32"]


def report(threads: int, res: dict) -> None:
    print(f"\n== {threads} thread(s) ==  (wall: best elapsed; cpu: best process CPU time; a workload's runtimes "
          "timed in turns, see interleaved_best)")
    print(f"{'workload':<18} {'runtime':<18} {'wall ms':>9} {'GMAC/s':>8} {'cpu ms':>9}   "
          "irq speed-up vs peer: wall, cpu")
    for name, macs in WORKLOADS:
        irq_t = res.get(f"{name}/irq numba")
        for rt in ["irq numba"] + PEERS:
            t = res.get(f"{name}/{rt}")
            if t is None:
                continue
            wall, cpu = t
            ratio = "" if rt == "irq numba" or irq_t is None else \
                f"{wall / irq_t[0]:6.2f}x {cpu / max(irq_t[1], 1e-9):6.2f}x"
            print(f"{name:<18} {rt:<18} {wall * 1e3:9.2f} {macs / wall / 1e9:8.1f} {cpu * 1e3:9.2f}   {ratio}")
    for k, v in res.items():
        if k.startswith("error/"):
            print(f"  {k[6:]}: {v}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-mobilenet", action="store_true")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of repeated runs per measurement")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.min_time, not args.no_mobilenet)
        return
    for n in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n),
                   NUMBA_NUM_THREADS=str(n))
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), "--min-time", str(args.min_time)]
        if args.no_mobilenet:
            cmd.append("--no-mobilenet")
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if r.returncode:
            print(r.stderr, file=sys.stderr)
            sys.exit(1)
        report(n, json.loads(r.stdout.strip().splitlines()[-1]))
    if not args.no_mobilenet:
        cold, warm = startup()
        print(f"\nirq start-up, MobileNetV2 program: build {cold[0]:.2f} s; first call with an empty Numba cache "
              f"(JIT compile) {cold[1]:.2f} s wall, {cold[2]:.2f} s CPU; with the warm on-disk cache {warm[1]:.2f} s "
              f"wall, {warm[2]:.2f} s CPU (build {warm[0]:.2f} s)")


if __name__ == "__main__":
    main()
