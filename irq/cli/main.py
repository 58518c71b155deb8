"""`irq`: the command-line workflow for users who do not write Python glue.

    irq quantize model.py:build_model --example-input 1x3x224x224 --calib data.npz \\
                 [--qconfig default_qat_8bit] [--march bayes] [--qat-epochs N] -o model.irq
    irq check    model.py:build_model --example-input 1x3x224x224 [--march bayes] [-o model_check_result.txt]
    irq check    model.irq [--march bayes]     (a converted program: its march, format version and ops)
    irq run      model.irq --input x.npy --output y.npy [--runtime numba|reference] [--profile]   (= irq-run)
    irq opt      in.irq -p '<pipeline>' [-o out.irq] ...                                        (= irq-opt)

`quantize` is the Python flow of examples/demo.py: prepare, calibrate on the .npz's inputs (`x`, or
`x0`, `x1`, ... for several inputs; a .npy for a single input; a progress bar), optionally QAT when the
file also holds integer labels `y` (a classifier trained with cross-entropy: the one QAT loop the CLI can
run honestly without the user's training code), convert and save. It ends with a summary: ops, file
size, and how far VALIDATION (what the program computes, bit for bit) is from the float model on the
first calibration batch. `--example-input` takes `SHAPE[:DTYPE]`, several joined by commas; the factory
may be called with literal arguments, `model.py:build(10, width=0.5)`.

A bad input (a syntax error in the model file, a missing factory, a model irq cannot trace, wrong input
shapes, a corrupt, empty or non-finite calibration file, an unknown qconfig, an output path that cannot
be written) is one line on stderr, `irq: error: ...`, and exit status 1; the output path is checked
before any work, and the program is written whole at the end or not at all. Ctrl-C prints
`irq: interrupted` and exits with 130 (the shell's status for SIGINT), leaving nothing written.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TextIO

from irq.cli.model_loading import CLIError, InputSpec, build_model, load_npz, one_line, parse_example_inputs
from irq.cli.pipes import quiet_on_broken_pipe

#: exit status after Ctrl-C, as a shell reports a command ended by SIGINT (128 + 2)
INTERRUPTED_STATUS = 130

DELEGATED = {"run": "irq.cli.run", "opt": "irq.cli.opt"}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="irq", description="Quantize, check, run and transform models with irq.")
    sub = ap.add_subparsers(dest="command", metavar="{quantize,check,run,opt}")
    q = sub.add_parser("quantize", help="float torch model -> deployable int8 program (.irq)")
    q.add_argument("model", help="file.py:factory, a function returning the float torch.nn.Module; arguments "
                                 "as Python literals: 'file.py:factory(10, width=0.5)'")
    q.add_argument("--example-input", action="append", required=True, metavar="SHAPE[:DTYPE]",
                   help="input shape like 1x3x224x224; several inputs: 1x3x32x32,1x10 (or repeat the flag); "
                        "integer inputs (token ids): 1x16:int64")
    q.add_argument("--calib", required=True, metavar="DATA.npz",
                   help="calibration inputs: x (x0, x1, ... for several inputs; or a .npy for one input), and "
                        "integer labels y for --qat-epochs")
    q.add_argument("--qconfig", default="default_qat_8bit", help="qconfig template (default: default_qat_8bit)")
    q.add_argument("--march", default="bayes", help="target march: bayes or nash (default: bayes)")
    q.add_argument("--batch-size", type=int, default=32, help="calibration / QAT batch size (default: 32)")
    q.add_argument("--qat-epochs", type=int, default=0, help="QAT epochs on (x, y) after calibration (default: 0)")
    q.add_argument("--qat-lr", type=float, default=1e-4, help="QAT learning rate (Adam; default: 1e-4)")
    q.add_argument("-o", "--output", required=True, metavar="MODEL.irq",
                   help="where to write the program ('-': stdout, the summary then goes to stderr)")
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    c = sub.add_parser("check", help="the model check: fusions, ops left in float, ops the march does not support",
                       description="Write the model check report. Exit status 1 when the march cannot run some op "
                                   "(each is listed in the report with its source line), 0 otherwise.")
    c.add_argument("model", help="file.py:factory or file.py:factory(arg, key=value); or a converted program "
                                 "(.irq), whose march, format version and ops are printed")
    c.add_argument("--example-input", action="append", metavar="SHAPE[:DTYPE]",
                   help="as for quantize: 1x3x224x224, 1x3x32x32,1x10 or 1x16:int64 (required for a model)")
    c.add_argument("--march", default=None, help="the target march (default: bayes); for a .irq program: refuse "
                                                 "it unless it was converted for this march")
    c.add_argument("-o", "--output", default="model_check_result.txt", help="report file ('-': stdout)")
    sub.add_parser("run", help="run a .irq program on .npy inputs (irq-run; see irq run --help)", add_help=False)
    sub.add_parser("opt", help="parse, transform and print IR (irq-opt; see irq opt --help)", add_help=False)
    return ap


@quiet_on_broken_pipe
def main(argv: list[str] | None = None) -> int:
    if argv is None:
        _launcher_is_not_the_model()
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in DELEGATED:
            import importlib
            return importlib.import_module(DELEGATED[argv[0]]).main(argv[1:], prog=f"irq {argv[0]}")
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help(sys.stderr)
            return 2
        command = quantize if args.command == "quantize" else check
        if args.output != "-":
            return command(args, sys.stdout)
        # `-o -`: stdout carries the program (report) only; whatever the user's model prints (at import, in
        # its factory or forward) goes to stderr, so `irq quantize ... -o - > model.irq` is a loadable file
        out = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return command(args, out)
    except CLIError as e:
        print(f"irq: error: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C is the user's decision, not a failure to explain: one line, the shell's status for
        # SIGINT, and nothing written (the program and the report are written whole at the end)
        print("irq: interrupted", file=sys.stderr)
        return INTERRUPTED_STATUS


def _launcher_is_not_the_model() -> None:
    """The `irq` console script (bin/irq) is the outermost frame of every trace: an op with no frame of the
    user's own (an nn.Sequential's conv runs in torch's forward) would be located at bin/irq:8. Its folder
    holds launchers, not models: mark it as library code so such an op's location stays unknown."""
    launcher = sys.argv[0] if sys.argv else ""
    if launcher and not launcher.endswith(".py") and Path(launcher).is_file():
        from irq.frontend.errors import register_library_dir
        register_library_dir(str(Path(launcher).resolve().parent))


def _march(name: str) -> str:
    from irq.march import March
    known = [m.value for m in March]
    if name not in known:
        raise CLIError(f"--march '{name}': unknown march (known: {', '.join(known)})")
    return name


def _check_output(path: str) -> None:
    """Fail before any work when the output cannot be written (a missing directory, a directory)."""
    from irq.output_file import OutputError, check_writable
    if path == "-":
        return
    try:
        check_writable(path)
    except OutputError as e:
        raise CLIError(str(e)) from None


def _example_inputs(model, specs: list[InputSpec]):
    """Example inputs of the given shapes (random floats; zeros for integer inputs, a valid id for any
    embedding table), checked by running the model once."""
    import torch
    examples = tuple(torch.rand(s.shape, dtype=getattr(torch, s.dtype)) if s.is_float
                     else torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in specs)
    try:
        with torch.no_grad():
            model(*examples)
    except Exception as e:  # noqa: BLE001 - the model's own error, reported against the shapes given
        given = ", ".join(s.text for s in specs)
        raise CLIError(f"the model does not run on inputs of shape {given}: "
                       f"{type(e).__name__}: {one_line(e)}") from None
    return examples


def _irq_errors():
    """The exceptions irq raises for a model it cannot handle: each message names the user's file:line."""
    import irq
    return (irq.IRError, irq.FrontendError)


def check_program(args: argparse.Namespace, out: TextIO) -> int:
    """`irq check model.irq`: load and validate a converted program (irq.load) and print what it was made for."""
    import irq
    from irq.artifact import program_march
    from irq.convert_bpu import VERSION_ATTR
    try:
        program = irq.load(args.model, march=args.march)
    except irq.IRError as e:
        raise CLIError(one_line(e)) from None
    recorded = program_march(program)
    march = repr(recorded) if recorded is not None else "unknown (the file predates the record)"
    ops = [op for op in program.walk() if op.dialect_name in ("bpu", "hl", "torch", "arith")]
    islands = sum(op.dialect_name != "bpu" for op in ops)
    print(f"irq check: {args.model}: a bpu program for march {march}, format version "
          f"{program.get_attr(VERSION_ATTR).value}, {len(ops) - islands} bpu ops, {islands} float-island ops; "
          "verified", file=out)
    return 0


def check(args: argparse.Namespace, report_out: TextIO) -> int:
    if args.model.endswith(".irq"):
        return check_program(args, report_out if args.output == "-" else sys.stdout)
    if not args.example_input:
        raise CLIError("check: --example-input is required for a model (file.py:factory)")
    specs = parse_example_inputs(args.example_input)
    _check_output(args.output)
    import irq
    march = _march(args.march or "bayes")
    model = build_model(args.model)
    examples = _example_inputs(model, specs)
    try:
        module = irq.import_torch(model, examples)
        irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
        result = irq.check_model(module, march=march, path=None)
    except _irq_errors() as e:
        raise CLIError(one_line(e)) from None
    from irq.output_file import OutputError, write_text
    if args.output == "-":
        report_out.write(result.text())
    else:
        try:
            write_text(args.output, result.text())  # whole or not at all
        except OutputError as e:
            raise CLIError(str(e)) from None
    print(f"irq check ({march}): {result.num_ops} ops, {len(result.fused_groups)} fused groups, "
          f"{len(result.float_ops)} left in float, {len(result.unsupported)} unsupported by the march, "
          f"{len(result.torch_calls)} torch.call; report: {'stdout' if args.output == '-' else args.output}",
          file=sys.stderr if args.output == "-" else sys.stdout)
    return 1 if result.unsupported else 0


def _calibration_tensors(path: str, specs: list[InputSpec], arrays: list) -> list:
    """The calibration arrays as tensors, each checked against its --example-input: shape (but the
    batch), kind (floats for float inputs, integers for integer ones), at least one sample, finite."""
    import numpy as np
    import torch
    names = ["x"] if len(specs) == 1 else [f"x{i}" for i in range(len(specs))]
    tensors = []
    for i, (x, spec) in enumerate(zip(arrays, specs)):
        what = f"{path}: calibration input {i} ('{names[i]}')"
        if x.ndim != len(spec.shape) or tuple(x.shape[1:]) != spec.shape[1:]:
            shape = "x".join(map(str, x.shape))
            raise CLIError(f"{what} has shape {shape}, but --example-input is {spec.text} "
                           "(they must agree except in the batch size)")
        if len(x) == 0:
            raise CLIError(f"{what} holds no samples")
        if spec.is_float:
            if not np.issubdtype(x.dtype, np.floating):
                raise CLIError(f"{what} is {x.dtype}, expected floating point")
            bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
            if bad:
                # a NaN makes every observer's range NaN: convert would fail far away, naming no input
                raise CLIError(f"{what} holds {bad} NaN or infinite value(s)")
        elif not (np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_):
            raise CLIError(f"{what} is {x.dtype}, expected integer values for --example-input {spec.text}")
        tensors.append(torch.from_numpy(np.ascontiguousarray(x, dtype=np.dtype(spec.dtype))))
    if len({len(t) for t in tensors}) != 1:
        raise CLIError(f"{path}: the calibration inputs have different numbers of samples")
    return tensors


def _tensor_leaves(y) -> list:
    """The tensors of a model output: a tensor, or a tuple / list / dict of them (nested)."""
    if isinstance(y, dict):
        return [t for v in y.values() for t in _tensor_leaves(v)]
    if isinstance(y, (tuple, list)):
        return [t for v in y for t in _tensor_leaves(v)]
    return [y] if hasattr(y, "flatten") else []


def _output_cosine(model, qat, batch: tuple) -> float:
    """The worst per-output mean cosine, per sample, of VALIDATION (the program's numbers) to float."""
    import torch
    import torch.nn.functional as F
    def rows(t):
        return t.reshape(t.shape[0] if t.ndim else 1, -1).double()
    with torch.no_grad():
        ref, val = _tensor_leaves(model(*batch)), _tensor_leaves(qat(*batch))
    return min(F.cosine_similarity(rows(r), rows(v), dim=1).mean().item() for r, v in zip(ref, val, strict=True))


def _check_march(qat, march: str) -> None:
    """Refuse, before calibration and QAT, what convert would refuse after them: the march profile's
    violations (an op it lacks, an int16 activation on an int8-only march, a kernel over its limits),
    each with its source line, the list irq.check_model and irq.convert compute."""
    import irq
    from irq.quant.prepare import ir_of
    unsupported = irq.check_model(ir_of(qat), march=march, path=None).unsupported
    if unsupported:
        listed = "; ".join(f"{e.location}: '{e.op}' ({e.path}) {e.detail}" for e in unsupported)
        raise CLIError(f"march '{march}' cannot run {len(unsupported)} op(s) (nothing calibrated): {listed}")


def _qat_labels(args: argparse.Namespace, model, examples: tuple, labels, n: int):
    """The labels `y` as class indices for cross-entropy, checked against the model's logits: one per
    input sample, integers in [0, classes). torch would report a bad label from inside the loss."""
    import numpy as np
    import torch
    if labels is None:
        raise CLIError(f"--qat-epochs needs integer labels 'y' in {args.calib} (it has none)")
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise CLIError(f"{args.calib}: labels 'y' are {labels.dtype}, expected integer class indices")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # a column of class indices
    if labels.ndim != 1:
        raise CLIError(f"{args.calib}: labels 'y' have shape {'x'.join(map(str, labels.shape))}, expected one class "
                       "index per sample")
    if len(labels) != n:
        raise CLIError(f"{args.calib}: {n} inputs but {len(labels)} labels")
    if len(examples) != 1:
        raise CLIError("--qat-epochs supports single-input classifiers only")
    with torch.no_grad():
        logits = model(*examples)
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise CLIError("--qat-epochs trains a classifier with cross-entropy: the model must return one "
                       "(batch, classes) tensor of logits")
    classes = logits.shape[1]
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.size:
        raise CLIError(f"{args.calib}: label {int(bad[0])} is not a class index of the model's {classes} "
                       f"outputs ({bad.size} label(s) outside 0..{classes - 1})")
    return torch.from_numpy(labels).long()


def quantize(args: argparse.Namespace, program_out: TextIO) -> int:
    # the command line's own mistakes first, before importing torch (seconds on a loaded machine)
    specs = parse_example_inputs(args.example_input)
    _check_output(args.output)
    if args.batch_size <= 0 or args.qat_epochs < 0:
        raise CLIError("--batch-size must be positive and --qat-epochs non-negative")
    import irq
    from irq.workflow import calibrate, train_qat
    march = _march(args.march)
    if args.qconfig not in irq.qconfig.TEMPLATES:
        raise CLIError(f"--qconfig '{args.qconfig}': unknown template (known: {', '.join(irq.qconfig.TEMPLATES)})")
    to_stdout = args.output == "-"
    model = build_model(args.model)
    examples = _example_inputs(model, specs)
    inputs, labels = load_npz(args.calib, len(examples))
    tensors = _calibration_tensors(args.calib, specs, inputs)
    n = len(tensors[0])
    y = _qat_labels(args, model, examples, labels, n) if args.qat_epochs else None
    batches = [tuple(t[i:i + args.batch_size] for t in tensors) for i in range(0, n, args.batch_size)]
    progress = not args.no_progress

    try:
        qat = irq.prepare(model, examples, qconfig=args.qconfig, march=march, check_model=False)
        _check_march(qat, march)
        calibrate(qat, batches, progress=progress)
        if y is not None:
            train_qat(qat, tensors[0], y, epochs=args.qat_epochs, lr=args.qat_lr, batch_size=args.batch_size,
                      progress=progress)
        program = irq.convert(qat, march=march)
    except _irq_errors() as e:
        raise CLIError(f"{one_line(e)}") from None
    cos = _output_cosine(model, qat, batches[0])  # before writing: a failure here leaves no file behind
    from irq.output_file import OutputError
    from irq.text.printer import print_module
    text = print_module(program, debuginfo=True)
    if to_stdout:
        program_out.write(text)
        program_out.flush()
        where, size = "stdout", len(text.encode("utf-8"))
    else:
        try:
            program.save(args.output)
        except OutputError as e:
            raise CLIError(str(e)) from None
        where, size = args.output, Path(args.output).stat().st_size
    n_ops = sum(op.name.startswith("bpu.") for op in program.walk())
    qat_note = f", QAT {args.qat_epochs} epoch(s)" if args.qat_epochs else ""
    print(f"irq quantize: {args.model} -> {where} ({size / 1e3:.1f} KB, {n_ops} bpu ops, {march}, "
          f"{args.qconfig}); calibrated on {n} samples in {len(batches)} batch(es){qat_note}; "
          f"quantized (VALIDATION) vs float on the first calibration batch: output cosine {cos:.6f}",
          file=sys.stderr if to_stdout else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
