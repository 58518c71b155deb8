"""Random arith programs and an independent evaluator for them (test support).

The evaluator interprets arith ops with numpy scalars (wrapping integers,
IEEE float32), independently of irq's folders, so it can judge whether a pass
preserved a program's meaning.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import irq

INT_OPS = ["arith.addi", "arith.subi", "arith.muli", "arith.maxsi", "arith.minsi"]
FLOAT_OPS = ["arith.addf", "arith.subf", "arith.mulf"]


@st.composite
def arith_programs(draw, max_ops: int = 25, floats: bool = True) -> str:
    """A func.func @f(%a: i32, %b: i32, %x: f32) computing a random DAG, returning several values."""
    ints = ["%a", "%b"]
    flts = ["%x"]
    lines = []
    n = draw(st.integers(1, max_ops))
    for i in range(n):
        kinds = ["const_i", "int", "int", "int"] + (["const_f", "float", "float"] if floats else [])
        kind = draw(st.sampled_from(kinds))
        name = f"%v{i}"
        if kind == "const_i":
            v = draw(st.sampled_from([0, 1, 2, -1, 7, 2**31 - 1, -(2**31)]))
            lines.append(f"  {name} = arith.constant {v} : i32")
            ints.append(name)
        elif kind == "const_f":
            v = draw(st.sampled_from(["0.0", "-0.0", "1.0", "2.5", "-3.0"]))
            lines.append(f"  {name} = arith.constant {v} : f32")
            flts.append(name)
        elif kind == "int":
            op = draw(st.sampled_from(INT_OPS))
            a, b = draw(st.sampled_from(ints)), draw(st.sampled_from(ints))
            lines.append(f"  {name} = {op} {a}, {b} : i32")
            ints.append(name)
        else:
            op = draw(st.sampled_from(FLOAT_OPS))
            a, b = draw(st.sampled_from(flts)), draw(st.sampled_from(flts))
            lines.append(f"  {name} = {op} {a}, {b} : f32")
            flts.append(name)
    ri = draw(st.lists(st.sampled_from(ints), min_size=1, max_size=3))
    rf = draw(st.lists(st.sampled_from(flts), min_size=0, max_size=2))
    rets = ri + rf
    types = ["i32"] * len(ri) + ["f32"] * len(rf)
    sig = ", ".join(types)
    body = "\n".join(lines)
    return (f"func.func @f(%a: i32, %b: i32, %x: f32) -> ({sig}) {{\n{body}\n"
            f"  return {', '.join(rets)} : {sig}\n}}\n")


def _wrap32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def evaluate(module, a: int, b: int, x: float) -> list:
    """Run @f on (a, b, x); floats come back as float32 bit patterns (so NaN == NaN)."""
    func = next(op for op in module.walk() if op.name == "func.func")
    env = {}
    args = func.regions[0].blocks[0].args
    env[args[0]] = a
    env[args[1]] = b
    env[args[2]] = np.float32(x)
    for op in func.regions[0].blocks[0].ops:
        name = op.name
        if name == "func.return":
            out = []
            for v in op.operands:
                r = env[v]
                out.append(int(np.float32(r).view(np.uint32)) if isinstance(r, np.floating) else r)
            return out
        if name == "arith.constant":
            val = op.value
            env[op.results[0]] = np.float32(val.value) if isinstance(val, irq.FloatAttr) else int(val.value)
            continue
        p, q = (env[v] for v in op.operands)
        if name.endswith("f"):
            with np.errstate(all="ignore"):
                r = {"arith.addf": p + q, "arith.subf": p - q, "arith.mulf": p * q}[name]
            env[op.results[0]] = np.float32(r)
        else:
            r = {"arith.addi": p + q, "arith.subi": p - q, "arith.muli": p * q,
                 "arith.maxsi": max(p, q), "arith.minsi": min(p, q)}[name]
            env[op.results[0]] = _wrap32(r)
    raise AssertionError("no return")


INPUTS = [(0, 0, 0.0), (3, -5, -0.0), (2**31 - 1, 1, float("inf")), (-7, 123456, float("nan")), (1, 1, 1.5)]
