"""irq-opt: the mlir-opt of irq. File in, pass pipeline, file out.

    irq-opt in.irq -p 'builtin.module(func.func(canonicalize, cse))' -o out.irq

Flags follow mlir-opt / xdsl-opt: --split-input-file, --verify-diagnostics,
--allow-unregistered-dialect (strict by default, like mlir-opt), --generic,
--print-debuginfo, --print-ir-after-all, --timing, --pass-statistics,
--load-pass-plugin, --list-passes, --reproducer-file / --run-reproducer.
Errors print as `file:line:col: error: ...` and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import TextIO

from irq.cli.pipes import BROKEN_PIPE_STATUS, quiet_on_broken_pipe  # noqa: F401 (re-exported)

SPLIT_MARKER = "// -----"


def _parser(prog: str = "irq-opt") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description="Parse, transform and print irq IR.")
    ap.add_argument("input", nargs="?", default="-", help="input file ('-' for stdin)")
    ap.add_argument("-p", "--pass-pipeline", default="", help="pipeline, e.g. 'builtin.module(canonicalize, cse)'")
    ap.add_argument("-o", "--output", default="-", help="output file ('-' for stdout)")
    ap.add_argument("--generic", "--print-op-generic", dest="generic", action="store_true",
                    help="print every op in generic form")
    ap.add_argument("--print-debuginfo", "--mlir-print-debuginfo", dest="debuginfo", action="store_true",
                    help="print locations (through #loc aliases, as mlir-opt prints them)")
    ap.add_argument("--mlir-print-local-scope", "--print-local-scope", dest="local_scope", action="store_true",
                    help="with --print-debuginfo, print each location inline instead of through #loc aliases")
    ap.add_argument("--mlir-elide-elementsattrs-if-larger", "--elide-elementsattrs-if-larger", type=int,
                    dest="elide_elements", metavar="N", help="print dense values of more than N elements as "
                    "dense_resource<__elided__> (output for reading; it does not parse back)")
    ap.add_argument("--elide-resource-strings-if-larger", "--mlir-elide-resource-strings-if-larger", type=int,
                    dest="elide_resources", metavar="N", help="print resource blobs of more than N bytes as "
                    "\"__elided__\" (output for reading; it does not parse back)")
    ap.add_argument("--split-input-file", action="store_true", help="process chunks separated by '// -----'")
    ap.add_argument("--verify-diagnostics", action="store_true",
                    help="check diagnostics against '// expected-error {{...}}' annotations")
    ap.add_argument("--allow-unregistered-dialect", action="store_true", help="accept ops of unknown dialects")
    ap.add_argument("--load-pass-plugin", action="append", default=[], metavar="FILE.py",
                    help="import a Python file that registers passes or dialects")
    ap.add_argument("--view-op-graph", nargs="?", const="", default=None, metavar="FILE.dot",
                    help="write the op graph (after the pipeline) as DOT, types on the edges, and SVG when graphviz's "
                         "'dot' is installed; default FILE: the input's path with .dot (op_graph.dot for stdin)")
    ap.add_argument("--list-passes", action="store_true", help="list registered passes and exit")
    ap.add_argument("--print-ir-after-all", action="store_true")
    ap.add_argument("--print-ir-before-all", action="store_true")
    ap.add_argument("--print-ir-after", action="append", default=[], metavar="PASS")
    ap.add_argument("--print-ir-before", action="append", default=[], metavar="PASS")
    ap.add_argument("--print-ir-after-change", action="store_true", help="dump after a pass only if it changed IR")
    ap.add_argument("--timing", "--mlir-timing", dest="timing", action="store_true", help="per-pass wall time")
    ap.add_argument("--pass-statistics", "--mlir-pass-statistics", dest="statistics", action="store_true")
    ap.add_argument("--no-verify-each", action="store_true", help="do not verify after each pass")
    ap.add_argument("--reproducer-file", default=None, help="on pass failure, write the IR and pipeline here")
    ap.add_argument("--run-reproducer", action="store_true", help="run the pipeline recorded in the input")
    return ap


def load_plugin(path: str) -> None:
    """Import a user file (by path) so its @register_pass / dialect registrations take effect."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"pass plugin '{path}' not found")
    name = f"irq_plugin_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # the plugin's folder is importable while it loads, so it can import a helper module next to it
    folder = str(p.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass


def _chunks(text: str, split: bool) -> list[tuple[str, int]]:
    """(chunk text, line offset) pairs; offsets keep diagnostics on the original lines."""
    if not split:
        return [(text, 0)]
    out, cur, start = [], [], 0
    for i, line in enumerate(text.splitlines(keepends=True)):
        if line.strip() == SPLIT_MARKER:
            out.append(("".join(cur), start))
            cur, start = [], i + 1
        else:
            cur.append(line)
    out.append(("".join(cur), start))
    return out


def _process(chunk: str, offset: int, filename: str, args, ctx, diags: list) -> str | None:
    """Parse, verify, run the pipeline, print. Diagnostics go to `diags`; None on error."""
    from irq.diagnostics import Diagnostic, IRError, ParseError, VerifyError, capture_diagnostics
    from irq.text.parser import parse_module
    from irq.text.printer import print_module
    from irq.transform import IRPrinter, PassFailure, PassManager, Timing, reproducer_pipeline
    from irq.verifier import verify_ops

    with capture_diagnostics() as emitted:
        try:
            module = parse_module("\n" * offset + chunk, filename, context=ctx)
        except ParseError as e:
            diags.extend(emitted)
            diags.append(("error", e.line, e.column, e.message, str(e)))
            return None
        found = verify_ops(module)
        if found:
            diags.extend(emitted)
            diags.extend(found)
            return None
        pipeline = args.pass_pipeline
        if args.run_reproducer:
            pipeline = reproducer_pipeline(module) or ""
            if not pipeline:
                diags.append(Diagnostic("error", "--run-reproducer: the input records no pipeline"))
                return None
        if pipeline:
            instr = []
            if args.print_ir_after_all or args.print_ir_before_all or args.print_ir_after or args.print_ir_before:
                instr.append(IRPrinter(before="all" if args.print_ir_before_all else args.print_ir_before,
                                       after="all" if args.print_ir_after_all else args.print_ir_after,
                                       only_if_changed=args.print_ir_after_change, generic=args.generic))
            if args.timing:
                instr.append(Timing())
            try:
                pm = PassManager.parse(pipeline, verify_each=not args.no_verify_each,
                                       reproducer_file=args.reproducer_file, instrumentations=instr)
                if pm.anchor not in ("any", module.name):
                    raise PassFailure(f"pipeline anchored on '{pm.anchor}' cannot run on '{module.name}'")
                pm.run(module)
            except PassFailure as e:
                diags.extend(emitted)
                diags.extend(e.diagnostics or [Diagnostic("error", e.message)])
                if e.reproducer:
                    print(f"reproducer written to {e.reproducer}", file=sys.stderr)
                if e.reproducer_error:
                    print(f"{args.prog}: error: no reproducer: {e.reproducer_error}", file=sys.stderr)
                return None
            except (IRError, ValueError, VerifyError) as e:
                diags.extend(emitted)
                diags.append(Diagnostic("error", str(e)))
                return None
            if args.statistics:
                sys.stderr.write(pm.statistics())
        diags.extend(emitted)
    if args.view_op_graph is not None and not _view_op_graph(module, args, filename, offset):
        return None
    return print_module(module, generic=args.generic, debuginfo=args.debuginfo, local_scope=args.local_scope,
                        elide_elements_if_larger=args.elide_elements, elide_resources_if_larger=args.elide_resources)


def _view_op_graph(module, args, filename: str, offset: int) -> bool:
    """Write the DOT (and SVG) of `module`; chunks of a split input get their first line in the name.
    False (with one `<prog>: error:` line) when the file cannot be written."""
    from irq.graph_view import write_op_graph
    from irq.output_file import OutputError
    default = "op_graph.dot" if filename == "<stdin>" else Path(filename).with_suffix(".dot")
    path = Path(args.view_op_graph or default)
    if args.split_input_file and offset:
        path = path.with_name(f"{path.stem}.{offset + 1}{path.suffix}")
    try:
        written = write_op_graph(module, path)
    except OutputError as e:
        print(f"{args.prog}: error: --view-op-graph: {e}", file=sys.stderr)
        return False
    for name in written:
        print(f"{args.prog}: op graph written to {name}", file=sys.stderr)
    return True


def _format(d, filename: str) -> str:
    if isinstance(d, tuple):
        return d[4]
    return d.format(show_op=False)


def _joined(texts: list[str]) -> str:
    return ("\n" + SPLIT_MARKER + "\n").join(t.rstrip("\n") + "\n" for t in texts) if texts else ""


def _write(out: TextIO, texts: list[str]) -> None:
    out.write(_joined(texts))


#: Exit status when the reader of stdout went away: what a shell reports for a tool killed by SIGPIPE.
@quiet_on_broken_pipe
def main(argv: list[str] | None = None, prog: str = "irq-opt") -> int:
    """Run irq-opt; a reader that closes stdout early (`irq-opt big.irq | head -1`) ends it quietly."""
    try:
        return _main(argv, prog)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None, prog: str = "irq-opt") -> int:
    args = _parser(prog).parse_args(argv)
    args.prog = prog  # every message names the tool as it was invoked: `irq-opt`, or `irq opt`
    from irq.diagnostics import ParseError
    for plugin in args.load_pass_plugin:
        try:
            load_plugin(plugin)
        except Exception as e:
            print(f"{prog}: error: cannot load pass plugin '{plugin}': {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    if args.list_passes:
        from irq.transform import registered_passes
        for name, cls in registered_passes().items():
            print(f"  {name:24s} {cls.summary()}")
            for o in cls.option_defs():
                print(f"      {o.cli_name}={getattr(o.item_type, '__name__', o.item_type)}  {o.help}")
        return 0
    from irq.ir.dialect import default_context
    ctx = default_context().copy(allow_unregistered=args.allow_unregistered_dialect)
    filename = "<stdin>" if args.input == "-" else args.input
    try:
        raw = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
    except OSError as e:
        print(f"{prog}: error: cannot read '{args.input}': {e.strerror}", file=sys.stderr)
        return 1
    from irq.text.parser import _decode
    try:
        text = _decode(raw, filename)
    except ParseError as e:
        print(e, file=sys.stderr)
        return 1
    if args.pass_pipeline:
        from irq.transform import OptionError, PassManager
        try:
            PassManager.parse(args.pass_pipeline)
        except OptionError as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            return 1
    outputs: list[str] = []
    failed = False
    for chunk, offset in _chunks(text, args.split_input_file):
        diags: list = []
        result = _process(chunk, offset, filename, args, ctx, diags)
        if args.verify_diagnostics:
            from irq.cli.verify_diagnostics import check_diagnostics
            problems = check_diagnostics(chunk, offset, filename, diags)
            for p in problems:
                print(p, file=sys.stderr)
            failed |= bool(problems)
        else:
            for d in diags:
                print(_format(d, filename), file=sys.stderr)
            if result is None:
                failed = True
        if result is not None:
            outputs.append(result)
    if args.verify_diagnostics:
        if not failed and args.output != "-":
            return _write_output(args.output, "", prog)
        return 1 if failed else 0
    if failed and not args.split_input_file:
        return 1
    # with --split-input-file every chunk runs, as in mlir-opt: the outputs of those that
    # passed are written, the errors of the others went to stderr, and the status says so
    if args.output == "-":
        _write(sys.stdout, outputs)
        return 1 if failed else 0
    status = _write_output(args.output, _joined(outputs), prog)
    return status or (1 if failed else 0)


def _write_output(path: str, text: str, prog: str = "irq-opt") -> int:
    """Write the output file (see irq.output_file: FIFOs and devices written through, regular
    files replaced atomically); a failure is one `<prog>: error:` line and exit status 1."""
    from irq.output_file import OutputError, write_text
    try:
        write_text(path, text)
    except OutputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
