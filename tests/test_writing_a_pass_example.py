"""The guide's example (docs/writing-a-pass.md) works from the API, as documented."""

import runpy
from pathlib import Path

import numpy as np

import irq

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_pass_plugin.py"

SOURCE = """
func.func @f(%x: i32) -> i32 {
  %c4 = arith.constant 4 : i32
  %c2 = arith.constant 2 : i32
  %c3 = arith.constant 3 : i32
  %0 = arith.muli %x, %c4 : i32
  %1 = arith.muli %c2, %0 : i32
  %2 = arith.muli %1, %c3 : i32
  return %2 : i32
}
"""


def _eval(module, x):
    func = next(o for o in module.walk() if o.name == "func.func")
    env = {func.body.args[0]: np.int32(x)}
    for op in func.body.ops:
        if op.name == "func.return":
            return int(env[op.operands[0]])
        if op.name == "arith.constant":
            env[op.result] = np.int32(op.value.value)
        elif op.name == "arith.muli":
            env[op.result] = np.int32(np.int64(env[op.operands[0]]) * np.int64(env[op.operands[1]]) & 0xFFFFFFFF)
        elif op.name == "mylib.shl":
            env[op.result] = np.int32((np.int64(env[op.operands[0]]) << op.amount.value) & 0xFFFFFFFF)
    raise AssertionError


def test_strength_reduce_from_the_api():
    runpy.run_path(str(EXAMPLE))
    m = irq.parse_module(SOURCE)
    reference = [_eval(m, x) for x in (0, 1, -3, 12345, 2**30)]
    pm = irq.PassManager.parse("builtin.module(func.func(strength-reduce{max-shift=8}))")
    pm.run(m)
    names = [o.name for o in m.walk()]
    assert names.count("mylib.shl") == 1 and names.count("arith.muli") == 1  # x*4*2 -> shl 3, *3 stays
    shl = next(o for o in m.walk() if o.name == "mylib.shl")
    assert shl.amount.value == 3
    assert [_eval(m, x) for x in (0, 1, -3, 12345, 2**30)] == reference
    assert pm.items[0].items[0].statistics["multiplications removed"] == 2
    # the user op round-trips through text and verifies its own rule
    again = irq.parse_module(m.to_text())
    assert irq.structurally_equal(again, m)
    shl.amount = irq.IntegerAttr(99)
    try:
        irq.verify(m)
    except irq.VerifyError as e:
        assert "shift amount 99 is out of range" in str(e)
    else:
        raise AssertionError("verify_op must reject the shift")
