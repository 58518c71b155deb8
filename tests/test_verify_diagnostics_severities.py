"""`irq-opt --verify-diagnostics` with every severity MLIR's verifier knows (issue 13, item 7).

mlir-opt's `-verify-diagnostics` matches `expected-error`, `expected-warning`, `expected-note` and
`expected-remark`, with `@+N`/`@-N`, a blank before the `@`, and `@below`/`@above` that skip the
annotation lines stacked between them and their op. A pass loaded as a plugin emits diagnostics
of each severity on the ops that ask for one, so the annotations are checked end to end.
"""

from __future__ import annotations

import textwrap

from irq.cli.opt import main as irq_opt

PLUGIN = textwrap.dedent('''
    from irq.diagnostics import Diagnostic, emit
    from irq.ir.attributes import StringAttr
    from irq.transform import Pass, register_pass


    @register_pass("say-what-is-asked")
    class SayWhatIsAsked(Pass):
        """Emit, for each op with `t.say = "severity: message"`, that diagnostic at the op."""

        def run(self, target):
            for op in target.walk():
                for key in ("t.say", "t.say2"):
                    said = op.attributes.get(key)
                    if isinstance(said, StringAttr):
                        severity, _, message = said.value.partition(": ")
                        emit(Diagnostic(severity, message, op.location, op))
''')

ANNOTATED = """\
// expected-warning @below {{slow path taken}}
// expected-remark@below {{counted 3}}
"t.a"() {t.say = "warning: slow path taken", t.say2 = "remark: counted 3"} : () -> ()
"t.c"() {t.say = "note: see the definition"} : () -> ()
// expected-note @-1 {{see the definition}}
// -----
"t.d"() {t.say = "warning: second chunk"} : () -> ()  // expected-warning {{second chunk}}
"""


def _run(tmp_path, text: str, capsys) -> tuple[int, str]:
    plugin = tmp_path / "say.py"
    plugin.write_text(PLUGIN)
    src = tmp_path / "in.mlir"
    src.write_text(text)
    status = irq_opt([str(src), "--split-input-file", "--verify-diagnostics", "--allow-unregistered-dialect",
                      "--load-pass-plugin", str(plugin), "-p", "builtin.module(say-what-is-asked)"])
    return status, capsys.readouterr().err


def test_every_severity_is_matched(tmp_path, capsys):
    status, err = _run(tmp_path, ANNOTATED, capsys)
    assert (status, err) == (0, "")


def test_a_severity_mismatch_fails(tmp_path, capsys):
    """A remark is not a warning: the annotation is unmet and the remark unexpected."""
    status, err = _run(tmp_path, ANNOTATED.replace("expected-remark@below", "expected-warning@below"), capsys)
    assert status == 1
    assert 'expected warning "counted 3" was not produced' in err
    assert "unexpected remark: counted 3" in err


def test_stacked_below_annotations_name_the_op_after_them(tmp_path, capsys):
    """Both stacked `@below` name line 3: a remark from the op on line 4 does not meet them."""
    moved = ANNOTATED.replace(', t.say2 = "remark: counted 3"}', "}").replace(
        '{t.say = "note: see the definition"}', '{t.say = "note: see the definition", t.say2 = "remark: counted 3"}')
    status, err = _run(tmp_path, moved, capsys)
    assert status == 1
    assert f"{tmp_path / 'in.mlir'}:2: error: expected remark \"counted 3\" was not produced" in err
    assert f"{tmp_path / 'in.mlir'}:4: error: unexpected remark: counted 3" in err
