"""Write small bpu programs as text, with weights, biases and tables as `bpu.constant` hex literals.

The runtimes are compared on programs as a user's file would hold them: parameters are constants
(the numba runtime packs them once), activations are function arguments.
"""

from __future__ import annotations

import numpy as np

import irq

_DT = {"i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64, "f32": np.float32}


def ttype(shape, dtype: str) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + dtype + ">"


def fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float):
        return repr(v) + " : f64"
    if isinstance(v, (int, np.integer)):
        return f"{int(v)} : i64"
    if isinstance(v, tuple) and v and v[0] == "array":
        return "array<i64: " + ", ".join(str(int(x)) for x in v[1]) + ">"
    if isinstance(v, tuple) and v and v[0] == "farray":
        return "array<f64: " + ", ".join(repr(float(x)) for x in v[1]) + ">"
    return "[" + ", ".join(str(int(x)) for x in v) + "]"


class ProgramText:
    """Accumulates `%name = op ...` lines; `module()` parses and verifies the result."""

    def __init__(self, args: list[tuple[str, tuple, str]]):
        self.args = args  # (name, shape, dtype)
        self.lines: list[str] = []
        self.types = {name: ttype(shape, dt) for name, shape, dt in args}

    def const(self, name: str, arr: np.ndarray, dtype: str) -> str:
        data = np.ascontiguousarray(np.asarray(arr).astype(_DT[dtype]))
        t = ttype(data.shape, dtype)
        hexdata = data.tobytes().hex().upper()
        self.lines.append(f'%{name} = bpu.constant dense<"0x{hexdata}"> : {t}')
        self.types[name] = t
        return name

    def op(self, name: str, opname: str, operands: list[str], result: tuple[tuple, str], attrs: dict | None = None,
           keywords: dict[int, str] | None = None) -> str:
        keywords = keywords or {}
        pos = [f"%{o}" for i, o in enumerate(operands) if i not in keywords]
        kw = [f"{keywords[i]} %{o}" for i, o in enumerate(operands) if i in keywords]
        text = ", ".join(pos) + (" " + " ".join(kw) if kw else "")
        attr_text = " {" + ", ".join(f"{k} = {fmt(v)}" for k, v in attrs.items()) + "}" if attrs else ""
        rt = ttype(*result)
        if opname in ("bpu.quantize", "bpu.dequantize"):
            sig = f"{self.types[operands[0]]} to {rt}"
        else:
            sig = "(" + ", ".join(self.types[o] for o in operands) + f") -> {rt}"
        self.lines.append(f"%{name} = {opname} {text}{attr_text} : {sig}")
        self.types[name] = rt
        return name

    def text(self, results: list[str]) -> str:
        """The program's text, not parsed: for tests that need a program the verifier would refuse."""
        args = ", ".join(f"%{n}: {ttype(s, d)}" for n, s, d in self.args)
        rts = ", ".join(self.types[r] for r in results)
        body = "\n".join("    " + line for line in self.lines)
        return (f"func.func @main({args}) -> ({rts}) {{\n{body}\n"
                f"    return {', '.join('%' + r for r in results)} : {rts}\n}}\n")

    def module(self, results: list[str]):
        m = irq.parse_module(self.text(results))
        irq.verify(m)
        return m
