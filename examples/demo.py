"""irq's main job (until the end-to-end quantization flow lands): the IR toolchain on an example.

Parses examples/quantized_block.irq (quant types, a resource blob, unregistered ops),
verifies it, runs `canonicalize, cse`, prints the result, and checks the text laws:
custom and generic forms both re-parse to the same IR.
"""

from __future__ import annotations

import sys
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


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
