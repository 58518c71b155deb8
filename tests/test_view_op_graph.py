"""irq-opt --view-op-graph: the DOT of a small quantized module has one node per op and block
argument, one edge per use, and the quantization types on the edges (the bug it catches: a graph
that drops edges, draws them backwards or hides where a scale changes)."""

from __future__ import annotations

import re

import torch
from torch import nn

import irq
from irq.cli.opt import main as irq_opt
from irq.graph_view import op_graph_dot

_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"')
_EDGE = re.compile(r'^\s*(\w+) -> (\w+) \[label="((?:[^"\\]|\\.)*)"\];$')


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def _frozen_text() -> str:
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 4)
    qat = irq.prepare(Small().eval(), (x,), check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    return irq.print_module(irq.freeze(qat))


def _parse(dot: str):
    nodes, edges = {}, []
    for line in dot.splitlines():
        if (m := _EDGE.match(line)):
            edges.append((m[1], m[2], m[3]))
        elif (m := _NODE.match(line)):
            nodes[m[1]] = m[2].replace("\\n", "\n")
    return nodes, edges


def test_view_op_graph_writes_dot_with_quant_types_on_edges(tmp_path, capsys):
    src = tmp_path / "small.mlir"
    src.write_text(_frozen_text(), encoding="utf-8")
    assert irq_opt([str(src), "--view-op-graph", "-o", str(tmp_path / "out.mlir")]) == 0
    dot_path = tmp_path / "small.dot"
    assert f"op graph written to {dot_path}" in capsys.readouterr().err
    nodes, edges = _parse(dot_path.read_text(encoding="utf-8"))
    module = irq.parse_module(src.read_text(encoding="utf-8"))
    ops = [op for op in module.walk() if op.name != "builtin.module"]
    # one node per op plus the function's argument
    assert sorted(n.split("\n")[0] for n in nodes.values()) == sorted([op.name for op in ops] + ["%arg0"])
    # one edge per operand use, pointing from producer to consumer
    assert len(edges) == sum(len(op.operands) for op in ops)
    by_label = {v.split("\n")[0]: k for k, v in nodes.items()}
    conv = next(k for k, v in nodes.items() if v.startswith("hl.conv2d"))
    assert nodes[conv].endswith("\nconv")  # its owner
    into_conv = [e for e in edges if e[1] == conv]
    assert any("!quant.uniform<i8:f32" not in e[2] and "f32" in e[2] for e in into_conv)
    # the input is quantized: an edge out of the qcast carries the quantized type
    qcast = [k for k, v in nodes.items() if v.startswith("quant.qcast")]
    assert qcast and any("!quant.uniform<i8:f32, " in e[2] for e in edges if e[0] == qcast[0])
    assert any(e[0] == by_label["%arg0"] for e in edges)
    ret = by_label["func.return"]
    assert [e for e in edges if e[1] == ret]


def test_op_graph_of_the_bpu_program_shows_storage_types():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 4)
    qat = irq.prepare(Small().eval(), (x,), check_model=False)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        qat(x)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    nodes, edges = _parse(op_graph_dot(irq.convert(qat)))
    conv = next(k for k, v in nodes.items() if v.startswith("bpu.conv2d"))
    out_of_conv = {e[2] for e in edges if e[0] == conv}
    assert out_of_conv and all("xi32>" in t for t in out_of_conv)  # the accumulator is i32
    assert any("xi8>" in e[2] for e in edges if e[1] == conv)
