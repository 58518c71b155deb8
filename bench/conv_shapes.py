"""Conv layers of other model families, one at a time: irq's Numba runtime next to onnxruntime int8 and
torch.ao int8, same process, in turns.

    python bench/conv_shapes.py [--threads 1] [--min-time 0.3] [--only NAME ...]

Why: bench/runtime.py times one 3x3 conv, one matmul and MobileNetV2, whose layers are all 1x1, 3x3
depthwise and a 3-channel stem. Other families meet routes those never take: ResNet's 7x7 stride-2
stem, ResNeXt's and ShuffleNet's grouped convs, MobileNetV3's and EfficientNet's 5x5 depthwise and their
40/112/240-channel outputs (a last 64-column panel of 3 vectors), stride-2 3x3 convs. A per-shape sweep
of those (2026-12-03, session 24) found three of them 2-13x slower than the route a better rule gives
(docs/design.md, "A last panel of 3 vectors", "Strided convs run direct", "Grouped convs of few
channels"); this script keeps them measured against the peers.

irq runs a bpu program (int8 codes in, conv + per-channel requantize, int8 codes out, NCHW at the
boundary); onnxruntime a QLinearConv (uint8 in and out, int8 weights, per-tensor scales); torch.ao an
`nn.Conv2d` through `convert_fx` (float in and out: it quantizes and dequantizes at its boundaries).
Each workload's runtimes are timed in turns (`runtime.interleaved_best`); the table prints best wall
times and irq's speed-up against each peer. irq's codes are checked against its reference runtime first.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, ROOT)


@functools.cache
def _bench_runtime():
    """bench/runtime.py as a module, loaded once (the checkout's `runtime/` package shadows its name on sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_runtime", os.path.join(ROOT, "bench", "runtime.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

#: name: (input channels, output channels, input size, kernel, stride, groups)
SHAPES = {
    "resnet stem 7x7 s2 3->64 @224": (3, 64, 224, 7, 2, 1),
    "resnet 3x3 s2 64->128 @56": (64, 128, 56, 3, 2, 1),
    "resnext 3x3 g32 128 @56": (128, 128, 56, 3, 1, 32),
    "resnext 3x3 g32 256 @28": (256, 256, 28, 3, 1, 32),
    "shufflenet 1x1 g3 240 @28": (240, 240, 28, 1, 1, 3),
    "mnv3 1x1 72->40 @28": (72, 40, 28, 1, 1, 1),
    "effnet 1x1 480->112 @14": (480, 112, 14, 1, 1, 1),
    "mnv3 dw 5x5 72 @28": (72, 72, 28, 5, 1, 72),
    "mnv3 dw 5x5 s2 72 @56": (72, 72, 56, 5, 2, 72),
    "mnv2 dw 3x3 144 @56": (144, 144, 56, 3, 1, 144),
}
PEERS = ["onnxruntime int8", "torch.ao int8"]


def irq_conv(cin: int, cout: int, hw: int, k: int, stride: int, groups: int):
    """irq's compiled program and an int8 input for it."""
    from _bpu_programs import _Net
    from irq.runtime import numba as rn
    from irq.runtime import reference

    from tests.support.bpu_text import ProgramText

    p = ProgramText([("x", (1, cin, hw, hw), "i8")])
    y, _ = _Net(p, np.random.default_rng(0)).conv("x", (1, cin, hw, hw), cout, k, stride, groups, relu6=False)
    program = p.module([y])
    run = rn.compile(program)
    x = np.random.default_rng(1).integers(-128, 128, size=(1, cin, hw, hw)).astype(np.int8)
    # a fast wrong answer is no result: the codes are the reference runtime's, checked once per shape
    if not np.array_equal(run(x), reference.run(program, x)[0]):
        raise AssertionError(f"irq's numba runtime disagrees with its reference runtime on {cin}->{cout} {k}x{k} "
                             f"s{stride} g{groups} @{hw}")
    return lambda: run(x)


def ort_conv(cin: int, cout: int, hw: int, k: int, stride: int, groups: int, threads: int):
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, size=(cout, cin // groups, k, k)).astype(np.int8)
    def scalars(prefix: str, scale: float, zp: int, dtype) -> list:
        return [helper.make_tensor(f"{prefix}_s", TensorProto.FLOAT, [], [scale]),
                helper.make_tensor(f"{prefix}_z", dtype, [], [zp])]

    inits = (scalars("x", 0.02, 128, TensorProto.UINT8) + scalars("w", 0.01, 0, TensorProto.INT8)
             + scalars("y", 0.5, 128, TensorProto.UINT8)
             + [helper.make_tensor("w", TensorProto.INT8, w.shape, w.tobytes(), raw=True)])
    node = helper.make_node("QLinearConv", ["x", "x_s", "x_z", "w", "w_s", "w_z", "y_s", "y_z"], ["y"],
                            pads=[k // 2] * 4, strides=[stride] * 2, group=groups)
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, cin, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = rng.integers(0, 256, size=(1, cin, hw, hw)).astype(np.uint8)
    return lambda: sess.run(None, {"x": x})


def ao_conv(cin: int, cout: int, hw: int, k: int, stride: int, groups: int):
    import torch

    x = torch.randn(1, cin, hw, hw)
    q = _bench_runtime()._ao_int8(torch.nn.Sequential(torch.nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups)), x)
    return lambda: q(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds of repeated runs per runtime and workload")
    ap.add_argument("--only", nargs="+", help="substrings of the workload names to run")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numba, torch and onnxruntime are imported
    import torch

    interleaved_best = _bench_runtime().interleaved_best
    torch.set_num_threads(args.threads)
    shapes = {k: v for k, v in SHAPES.items() if not args.only or any(s in k for s in args.only)}
    fns, errors = {}, {}
    for name, shape in shapes.items():
        fns[f"{name}/irq numba"] = irq_conv(*shape)
        for peer, make, extra in (("onnxruntime int8", ort_conv, (args.threads,)), ("torch.ao int8", ao_conv, ())):
            try:
                fns[f"{name}/{peer}"] = make(*shape, *extra)
            except Exception as e:  # noqa: BLE001 - a peer that cannot run the shape is reported, not fatal
                errors[f"{name}/{peer}"] = f"{type(e).__name__}: {e}"[:160]
    with torch.no_grad():
        res = interleaved_best(fns, args.min_time, args.threads)
    print(f"== {args.threads} thread(s): best wall ms; irq speed-up vs each peer (in turns, same process) ==")
    print(f"{'workload':<32} {'MMAC':>7} {'irq ms':>8} " + " ".join(f"{p:>22}" for p in PEERS))
    for name, (cin, cout, hw, k, stride, groups) in shapes.items():
        oh = (hw + 2 * (k // 2) - k) // stride + 1
        mmac = oh * oh * cout * (cin // groups) * k * k / 1e6
        irq_t = res[f"{name}/irq numba"][0]
        cells = []
        for peer in PEERS:
            t = res.get(f"{name}/{peer}")
            cells.append(f"{t[0] * 1e3:8.3f} ms {t[0] / irq_t:6.2f}x" if t else f"{'-':>22}")
        print(f"{name:<32} {mmac:7.1f} {irq_t * 1e3:8.3f} " + " ".join(f"{c:>22}" for c in cells))
    for key, err in errors.items():
        print(f"  {key}: {err}")


if __name__ == "__main__":
    main()
