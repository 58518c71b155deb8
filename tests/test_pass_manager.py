"""Pass manager: pipelines, options, nesting, instrumentation, failure recovery, reproducers."""

import io
import subprocess
import sys
from pathlib import Path

import pytest

import irq
from irq.transform import (
    IRPrinter,
    Option,
    OptionError,
    Pass,
    PassFailure,
    PassManager,
    PipelineSyntaxError,
    Timing,
    register_pass,
)

PROGRAM = """
func.func @f(%a: i32) -> i32 {
  %c0 = arith.constant 0 : i32
  %0 = arith.addi %a, %c0 : i32
  %1 = arith.addi %a, %c0 : i32
  %2 = arith.muli %0, %1 : i32
  return %2 : i32
}
func.func private @dead() {
  return
}
"""


@register_pass("test-break-ir")
class BreakIR(Pass):
    """Makes the IR invalid (a func.return with the wrong operand count)."""

    def run(self, op):
        for r in list(op.walk()):
            if r.name == "func.return":
                r.set_operands([])


@register_pass("test-crash")
class Crash(Pass):
    """Raises an exception halfway through its changes."""

    def run(self, op):
        for c in list(op.walk()):
            if c.name == "arith.muli":
                c.set_attr("touched", irq.UnitAttr())
        raise RuntimeError("boom")


@register_pass("test-options")
class WithOptions(Pass):
    """Records its options."""

    count = Option(int, default=1)
    names = Option(list[str], default=["a"])
    flag = Option(bool, default=False)
    ratio = Option(float, default=0.5)

    def run(self, op):
        self.statistics["runs"] += 1


@pytest.mark.parametrize("text", [
    "builtin.module(func.func(canonicalize, cse), dce)",
    "builtin.module(func.func(canonicalize{max-iterations=3}, cse), symbol-dce)",
    "builtin.module(test-options{count=3 names=x,y flag=true})",
    "canonicalize, cse",
    "builtin.module(any(cse))",
])
def test_pipeline_prints_back_exactly(text):
    assert str(PassManager.parse(text)) == text


def test_options_are_typed():
    pm = PassManager.parse("builtin.module(test-options{count=3 names=x,y flag ratio=0.25})")
    p = pm.items[0]
    assert (p.count, p.names, p.flag, p.ratio) == (3, ["x", "y"], True, 0.25)
    with pytest.raises(OptionError, match="expects int"):
        PassManager.parse("builtin.module(test-options{count=many})")
    with pytest.raises(OptionError, match="no option 'colour'"):
        PassManager.parse("builtin.module(test-options{colour=red})")
    with pytest.raises(OptionError, match="unknown pass 'no-such-pass'"):
        PassManager.parse("builtin.module(no-such-pass)")
    with pytest.raises(PipelineSyntaxError):
        PassManager.parse("builtin.module(cse")
    # an option's own validator runs while the pipeline is parsed, before any IR is touched
    with pytest.raises(OptionError, match="option 'patterns': unknown fusion pattern 'conv-gelu'"):
        PassManager.parse("builtin.module(func.func(fuse{patterns=conv-gelu}))")


def test_nested_pipeline_runs_on_each_function():
    m = irq.parse_module(PROGRAM)
    pm = PassManager.parse("builtin.module(func.func(canonicalize, cse, test-options), symbol-dce)")
    pm.run(m)
    text = m.to_text()
    assert "@dead" not in text
    assert text.count("arith.addi") == 0 and "arith.muli %a, %a" in text
    assert pm.items[0].items[2].statistics["runs"] == 2  # both functions (before symbol-dce)


def test_anchor_mismatch_is_an_error():
    m = irq.parse_module(PROGRAM)
    with pytest.raises(PassFailure, match="anchored on 'func.func'"):
        PassManager.parse("func.func(cse)").run(m)


@pytest.mark.parametrize("pipeline, message", [
    ("builtin.module(test-break-ir)", "verification failed after pass 'test-break-ir'"),
    ("builtin.module(func.func(test-crash))", "raised RuntimeError: boom"),
])
def test_failing_pass_leaves_module_unchanged_and_writes_reproducer(tmp_path, pipeline, message):
    m = irq.parse_module(PROGRAM)
    before = m.to_text(generic=True)
    repro = tmp_path / "repro.irq"
    pm = PassManager.parse(pipeline, reproducer_file=str(repro))
    with pytest.raises(PassFailure) as info:
        pm.run(m)
    assert message in str(info.value)
    assert m.to_text(generic=True) == before
    irq.verify(m)
    # the reproducer holds the IR before the pass and the pipeline, and re-runs to the same failure
    assert repro.exists()
    assert irq.structurally_equal(irq.parse_file(repro), irq.parse_module(PROGRAM))
    plugin = Path(__file__)
    r = subprocess.run([sys.executable, "-m", "irq.cli.opt", str(repro), "--run-reproducer",
                        "--load-pass-plugin", str(plugin)], capture_output=True, text=True)
    assert r.returncode != 0
    first = info.value.diagnostics[0].message.splitlines()[0]
    assert first in r.stderr


def test_instrumentation_prints_ir_and_times_passes():
    m = irq.parse_module(PROGRAM)
    out = io.StringIO()
    timing = Timing(stream=out)
    pm = PassManager.parse("builtin.module(func.func(canonicalize, cse))",
                           instrumentations=[IRPrinter(after="all", only_if_changed=True, stream=out), timing])
    pm.run(m)
    text = out.getvalue()
    assert "// -----// IR Dump After canonicalize //----- //" in text
    assert "Execution time report" in text and "canonicalize" in text and "Total" in text
    assert set(timing.times) == {"canonicalize", "cse"}


def test_verify_each_can_be_disabled():
    m = irq.parse_module(PROGRAM)
    PassManager.parse("builtin.module(test-break-ir)", verify_each=False).run(m)
    with pytest.raises(irq.VerifyError):
        irq.verify(m)


def test_installed_packages_add_passes_through_entry_points(monkeypatch, tmp_path):
    import importlib.metadata

    from irq.transform import pass_base

    mod = tmp_path / "third_party_passes.py"
    mod.write_text(
        "from irq.transform import Pass, register_pass\n"
        "@register_pass('third-party-noop')\n"
        "class Noop(Pass):\n"
        "    '''Does nothing (installed through an entry point).'''\n"
        "    def run(self, op):\n"
        "        self.statistics['seen'] += 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = importlib.metadata.EntryPoint("third_party", "third_party_passes", "irq.passes")
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [ep] if kw.get("group") == "irq.passes" else real(**kw))
    monkeypatch.setattr(pass_base, "_plugins_loaded", False)
    pm = PassManager.parse("builtin.module(third-party-noop)")
    pm.run(irq.parse_module(PROGRAM))
    assert pm.items[0].statistics["seen"] == 1
    assert "third-party-noop" in pass_base.registered_passes()
