"""The op graph of a module as Graphviz DOT, for `irq-opt --view-op-graph` (MLIR's -view-op-graph).

One node per operation (named by op and, when it has one, its quantization owner) and per block
argument; one edge per use, labelled with the value's type, so a quantized program shows its
`!quant.uniform<i8:f32, s>` or `i8`/`i32` storage types on every edge: where a scale changes,
where a tensor widens to i32, where a float island starts. Nested regions become DOT clusters.
Needs neither torch nor graphviz; `write_op_graph` renders SVG too when the `dot` binary exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from irq.ir.operation import Operation
from irq.ir.values import OpResult, Value

#: ops left out of the drawing: structure, not dataflow
_STRUCTURAL = ("builtin.module",)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attr_text(attr) -> str:
    return attr.to_python() if hasattr(attr, "to_python") and isinstance(attr.to_python(), str) else str(attr)


def _op_label(op: Operation) -> str:
    label = op.name
    for key in ("owner", "sym_name"):
        attr = op.get_attr(key)
        if attr is not None:
            label += f"\n{_attr_text(attr)}"
            break
    return label


def op_graph_dot(module: Operation, *, name: str = "irq") -> str:
    """The DOT text of `module`'s op graph (deterministic: nodes in program order)."""
    ids: dict[int, str] = {}
    lines = [f"digraph {_quote(name)} {{", "  rankdir=TB;", '  node [shape=box, fontname="monospace", fontsize=10];',
             '  edge [fontname="monospace", fontsize=8];']
    edges: list[str] = []

    def node_of(value: Value) -> str | None:
        if isinstance(value, OpResult):
            return ids.get(id(value.op))
        return ids.get(id(value))

    def emit_op(op: Operation, indent: str) -> None:
        if op.name in _STRUCTURAL:
            for region in op.regions:
                emit_region(region, indent)
            return
        nid = f"op{len(ids)}"
        ids[id(op)] = nid
        style = ', style=filled, fillcolor="#eeeeee"' if op.name.endswith(".constant") else ""
        lines.append(f"{indent}{nid} [label={_quote(_op_label(op))}{style}];")
        for operand in op.operands:
            src = node_of(operand)
            if src is not None:
                edges.append(f"  {src} -> {nid} [label={_quote(str(operand.type))}];")
        for r_index, region in enumerate(op.regions):
            lines.append(f"{indent}subgraph cluster_{nid}_{r_index} {{")
            lines.append(f"{indent}  label={_quote(op.name)};")
            emit_region(region, indent + "  ")
            lines.append(f"{indent}}}")

    def emit_region(region, indent: str) -> None:
        for block in region.blocks:
            for arg in block.args:
                aid = f"arg{len(ids)}"
                ids[id(arg)] = aid
                lines.append(f"{indent}{aid} [label={_quote(f'%arg{arg.index}')}, shape=ellipse];")
            for op in block.ops:
                emit_op(op, indent)

    emit_op(module, "  ")
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_op_graph(module: Operation, path: str | Path) -> list[Path]:
    """Write `path` (DOT) and, when graphviz's `dot` is installed, `path` with suffix .svg.

    Both are written whole or not at all (irq.output_file); OutputError names the file and the reason
    (a missing directory, or graphviz failing on the SVG)."""
    from irq.output_file import OutputError, write_bytes, write_text
    path = Path(path)
    write_text(path, op_graph_dot(module, name=path.stem))
    written = [path]
    dot = shutil.which("dot")
    if dot is not None:
        svg = path.with_suffix(".svg")
        try:
            done = subprocess.run([dot, "-Tsvg", str(path)], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise OutputError(str(svg), f"graphviz 'dot' failed: {e}") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OutputError(str(svg), f"graphviz 'dot' failed: {reason[0] if reason else done.returncode}")
        write_bytes(svg, done.stdout)
        written.append(svg)
    return written


__all__ = ["op_graph_dot", "write_op_graph"]
