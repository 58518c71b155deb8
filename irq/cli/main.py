"""`irq`: the command-line workflow for users who do not write Python glue.

    irq quantize model.py:build_model --example-input 1x3x224x224 --calib data.npz \\
                 [--qconfig default_qat_8bit] [--march bayes] [--qat-epochs N] -o model.irq
    irq check    model.py:build_model --example-input 1x3x224x224 [--march bayes] [-o model_check_result.txt]
    irq run      model.irq --input x.npy --output y.npy [--runtime numba|reference] [--profile]   (= irq-run)
    irq opt      in.irq -p '<pipeline>' [-o out.irq] ...                                        (= irq-opt)

`quantize` is the Python flow of examples/demo.py: prepare, calibrate on the .npz's inputs (`x`, or
`x0`, `x1`, ... for several inputs; a progress bar), optionally QAT when the file also holds integer
labels `y` (a classifier trained with cross-entropy: the one QAT loop the CLI can run honestly without
the user's training code), convert and save. It ends with a summary: ops, file size, and how far
VALIDATION (what the program computes, bit for bit) is from the float model on the calibration data.
A bad input (a syntax error in the model file, a missing factory, wrong input shapes, a corrupt
calibration file, an unknown qconfig) is one line on stderr, `irq: error: ...`, and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from irq.cli.model_loading import CLIError, build_model, load_npz, one_line, parse_shape
from irq.cli.pipes import quiet_on_broken_pipe

DELEGATED = {"run": "irq.cli.run", "opt": "irq.cli.opt"}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="irq", description="Quantize, check, run and transform models with irq.")
    sub = ap.add_subparsers(dest="command", metavar="{quantize,check,run,opt}")
    q = sub.add_parser("quantize", help="float torch model -> deployable int8 program (.irq)")
    q.add_argument("model", help="file.py:factory, a function returning the float torch.nn.Module")
    q.add_argument("--example-input", action="append", required=True, metavar="SHAPE",
                   help="input shape like 1x3x224x224 (repeat for several inputs)")
    q.add_argument("--calib", required=True, metavar="DATA.npz", help="calibration inputs x (and labels y for QAT)")
    q.add_argument("--qconfig", default="default_qat_8bit", help="qconfig template (default: default_qat_8bit)")
    q.add_argument("--march", default="bayes", help="target march: bayes or nash (default: bayes)")
    q.add_argument("--batch-size", type=int, default=32, help="calibration / QAT batch size (default: 32)")
    q.add_argument("--qat-epochs", type=int, default=0, help="QAT epochs on (x, y) after calibration (default: 0)")
    q.add_argument("--qat-lr", type=float, default=1e-4, help="QAT learning rate (Adam; default: 1e-4)")
    q.add_argument("-o", "--output", required=True, metavar="MODEL.irq", help="where to write the program")
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    c = sub.add_parser("check", help="the model check: fusions, ops left in float, ops the march does not support")
    c.add_argument("model", help="file.py:factory")
    c.add_argument("--example-input", action="append", required=True, metavar="SHAPE")
    c.add_argument("--march", default="bayes")
    c.add_argument("-o", "--output", default="model_check_result.txt", help="report file")
    sub.add_parser("run", help="run a .irq program on .npy inputs (irq-run; see irq run --help)", add_help=False)
    sub.add_parser("opt", help="parse, transform and print IR (irq-opt; see irq opt --help)", add_help=False)
    return ap


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        import importlib
        return importlib.import_module(DELEGATED[argv[0]]).main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help(sys.stderr)
        return 2
    try:
        return quantize(args) if args.command == "quantize" else check(args)
    except CLIError as e:
        print(f"irq: error: {one_line(e)}", file=sys.stderr)
        return 1


def _march(name: str) -> str:
    from irq.march import March
    known = [m.value for m in March]
    if name not in known:
        raise CLIError(f"--march '{name}': unknown march (known: {', '.join(known)})")
    return name


def _example_inputs(model, shapes: list[str]):
    """Random example inputs of the given shapes, checked by running the model once."""
    import torch
    examples = tuple(torch.rand(parse_shape(s)) for s in shapes)
    try:
        with torch.no_grad():
            model(*examples)
    except Exception as e:  # noqa: BLE001 - the model's own error, reported against the shapes given
        given = ", ".join(shapes)
        raise CLIError(f"the model does not run on inputs of shape {given}: "
                       f"{type(e).__name__}: {one_line(e)}") from None
    return examples


def check(args: argparse.Namespace) -> int:
    import irq
    march = _march(args.march)
    model = build_model(args.model)
    examples = _example_inputs(model, args.example_input)
    module = irq.import_torch(model, examples)
    irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    result = irq.check_model(module, march=march, path=args.output)
    print(f"irq check ({march}): {result.num_ops} ops, {len(result.fused_groups)} fused groups, "
          f"{len(result.float_ops)} left in float, {len(result.unsupported)} unsupported by the march, "
          f"{len(result.torch_calls)} torch.call; report: {args.output}")
    return 1 if result.unsupported else 0


def quantize(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import torch.nn.functional as F

    import irq
    from irq.workflow import calibrate, predict, train_qat
    march = _march(args.march)
    if args.qconfig not in irq.qconfig.TEMPLATES:
        raise CLIError(f"--qconfig '{args.qconfig}': unknown template (known: {', '.join(irq.qconfig.TEMPLATES)})")
    if args.batch_size <= 0 or args.qat_epochs < 0:
        raise CLIError("--batch-size must be positive and --qat-epochs non-negative")
    model = build_model(args.model)
    examples = _example_inputs(model, args.example_input)
    inputs, labels = load_npz(args.calib, len(examples))
    for i, (x, example) in enumerate(zip(inputs, examples)):
        if x.ndim != example.ndim or tuple(x.shape[1:]) != tuple(example.shape[1:]):
            shape = "x".join(map(str, x.shape))
            raise CLIError(f"{args.calib}: calibration input {i} has shape {shape}, but --example-input is "
                           f"{args.example_input[i]} (they must agree except in the batch size)")
        if not np.issubdtype(x.dtype, np.floating):
            raise CLIError(f"{args.calib}: calibration input {i} is {x.dtype}, expected floating point")
    if len({len(x) for x in inputs}) != 1:
        raise CLIError(f"{args.calib}: the calibration inputs have different numbers of samples")
    if args.qat_epochs and labels is None:
        raise CLIError(f"--qat-epochs needs integer labels 'y' in {args.calib} (it has none)")
    if args.qat_epochs and not np.issubdtype(np.asarray(labels).dtype, np.integer):
        raise CLIError(f"{args.calib}: labels 'y' are {np.asarray(labels).dtype}, expected integer class indices")
    if args.qat_epochs and len(examples) != 1:
        raise CLIError("--qat-epochs supports single-input classifiers only")
    tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in inputs]
    n = len(tensors[0])
    batches = [tuple(t[i:i + args.batch_size] for t in tensors) for i in range(0, n, args.batch_size)]
    progress = not args.no_progress

    qat = irq.prepare(model, examples, qconfig=args.qconfig, march=march, check_model=False)
    calibrate(qat, batches, progress=progress)
    if args.qat_epochs:
        y = torch.from_numpy(np.asarray(labels)).long()
        if len(y) != n:
            raise CLIError(f"{args.calib}: {n} inputs but {len(y)} labels")
        train_qat(qat, tensors[0], y, epochs=args.qat_epochs, lr=args.qat_lr, batch_size=args.batch_size,
                  progress=progress)
    try:
        program = irq.convert(qat, march=march)
    except irq.IRError as e:
        raise CLIError(f"convert ({march}): {one_line(e)}") from None
    out = Path(args.output)
    program.save(out)

    first = batches[0]
    if len(first) == 1:
        ref, val = predict(model, first[0]), predict(qat, first[0])
    else:
        with torch.no_grad():
            ref, val = model(*first), qat(*first)
    ref, val = (t[0] if isinstance(t, (tuple, list)) else t for t in (ref, val))
    cos = F.cosine_similarity(ref.flatten(1).double(), val.flatten(1).double(), dim=1).mean().item()
    n_ops = sum(op.name.startswith("bpu.") for op in program.walk())
    qat_note = f", QAT {args.qat_epochs} epoch(s)" if args.qat_epochs else ""
    print(f"irq quantize: {args.model} -> {out} ({out.stat().st_size / 1e3:.1f} KB, {n_ops} bpu ops, {march}, "
          f"{args.qconfig}); calibrated on {n} samples in {len(batches)} batches{qat_note}; "
          f"int8 vs float on the first calibration batch: output cosine {cos:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
