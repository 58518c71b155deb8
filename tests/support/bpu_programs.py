"""Build one-op bpu programs from Python for runtime tests (the op under test between function arguments)."""

from __future__ import annotations

import irq


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float):
        return repr(v) + " : f64"
    if isinstance(v, int):
        return f"{v} : i64"
    if isinstance(v, tuple) and v and v[0] == "array":  # ("array", [..]) -> array<i64: ...>
        return "array<i64: " + ", ".join(str(int(x)) for x in v[1]) + ">"
    if isinstance(v, tuple) and v and v[0] == "farray":
        return "array<f64: " + ", ".join(repr(float(x)) for x in v[1]) + ">"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(str(int(x)) for x in v) + "]"
    return str(v)


def tensor_type(shape, dtype: str) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + dtype + ">"


def one_op_program(op_name: str, operand_types: list[str], result_type: str, attrs: dict | None = None,
                   keywords: dict[int, str] | None = None):
    """`func.func @main(args) { %r = op %a0, %a1 ... {attrs}; return %r }`, verified.

    `keywords` maps an operand index to the keyword it is printed with (`bias`, `residual`).
    """
    keywords = keywords or {}
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(operand_types))
    positional = [f"%a{i}" for i in range(len(operand_types)) if i not in keywords]
    kw = " ".join(f"{keywords[i]} %a{i}" for i in sorted(keywords))
    attr_text = ""
    if attrs:
        attr_text = " {" + ", ".join(f"{k} = {_fmt(v)}" for k, v in attrs.items()) + "}"
    ops_text = ", ".join(positional) + (" " + kw if kw else "")
    if op_name in ("bpu.quantize", "bpu.dequantize"):
        signature = f"{operand_types[0]} to {result_type}"
    else:
        signature = f"({', '.join(operand_types)}) -> {result_type}"
    text = (f"func.func @main({args}) -> {result_type} {{\n"
            f"  %r = {op_name} {ops_text}{attr_text} : {signature}\n"
            f"  return %r : {result_type}\n}}\n")
    m = irq.parse_module(text)
    irq.verify(m)
    return m
