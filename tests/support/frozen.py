"""Write frozen-level IR (hl ops between quant.qcast/dcast pairs, docs/design.md "The frozen level") from Python.

Tests describe a small graph with numpy weights and scales; `FrozenBuilder.module()` gives the parsed,
verified irq Module that `lower-bpu` consumes, exactly as `irq.freeze` lays it out.
"""

from __future__ import annotations

import numpy as np

import irq


def ttype(shape, elem: str = "f32") -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def qtype(shape, scale: float, dtype: str = "i8") -> str:
    return ttype(shape, f"!quant.uniform<{dtype}:f32, {float(scale)!r}>")


def wqtype(shape, scales, axis: int = 0) -> str:
    body = ",".join(repr(float(s)) for s in np.ravel(scales))
    return ttype(shape, f"!quant.uniform<i8<-127:127>:f32:{axis}, {{{body}}}>")


class FrozenBuilder:
    def __init__(self, inputs: list[tuple[str, tuple[int, ...]]]) -> None:
        self.args = inputs
        self.lines: list[str] = []
        self.shapes: dict[str, tuple[int, ...]] = {name: shape for name, shape in inputs}
        self.n = 0

    def fresh(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def qdq(self, x: str, scale: float, dtype: str = "i8") -> str:
        """qcast + dcast of activation `x`; returns the dcast's name."""
        shape = self.shapes[x]
        q, d = self.fresh("q"), self.fresh("d")
        self.lines.append(f"%{q} = quant.qcast %{x} : {ttype(shape)} to {qtype(shape, scale, dtype)}")
        self.lines.append(f"%{d} = quant.dcast %{q} : {qtype(shape, scale, dtype)} to {ttype(shape)}")
        self.shapes[d] = shape
        return d

    def const(self, data: np.ndarray) -> str:
        name = self.fresh("c")
        vals = np.asarray(data, dtype=np.float32)
        if vals.size > 64:  # MLIR's hex form (raw little-endian bytes): large weights parse fast
            text = '"0x' + vals.astype("<f4").tobytes().hex().upper() + '"'
        else:
            text = str(vals.astype(np.float64).tolist())  # nested lists of shortest round-trip decimals
        self.lines.append(f"%{name} = torch.constant dense<{text}> : {ttype(vals.shape)}")
        self.shapes[name] = vals.shape
        return name

    def weight(self, data: np.ndarray, scales, axis: int = 0) -> str:
        c = self.const(data)
        shape = data.shape
        q, d = self.fresh("wq"), self.fresh("wd")
        self.lines.append(f"%{q} = quant.qcast %{c} : {ttype(shape)} to {wqtype(shape, scales, axis)}")
        self.lines.append(f"%{d} = quant.dcast %{q} : {wqtype(shape, scales, axis)} to {ttype(shape)}")
        self.shapes[d] = shape
        return d

    def op(self, text: str, operands: list[str], out_shape, keywords: dict[str, str] | None = None,
           attrs: str = "") -> str:
        name = self.fresh("v")
        keywords = keywords or {}
        ops = ", ".join(f"%{o}" for o in operands)
        kw = "".join(f" {k} %{v}" for k, v in keywords.items())
        types = ", ".join(ttype(self.shapes[o]) for o in [*operands, *keywords.values()])
        attr_text = f" {{{attrs}}}" if attrs else ""
        self.lines.append(f"%{name} = {text} {ops}{kw}{attr_text} : ({types}) -> {ttype(out_shape)}")
        self.shapes[name] = tuple(out_shape)
        return name

    def module(self, outputs: list[str]):
        args = ", ".join(f"%{n}: {ttype(s)}" for n, s in self.args)
        res = ", ".join(ttype(self.shapes[o]) for o in outputs)
        body = "\n    ".join(self.lines)
        ret = ", ".join(f"%{o}" for o in outputs)
        text = (f"module {{\n  func.func @main({args}) -> ({res}) {{\n    {body}\n"
                f"    return {ret} : {res}\n  }}\n}}\n")
        m = irq.parse_module(text)
        irq.verify(m)
        return m
