"""`Operation.print` prints, `to_text` returns the text (issue 14: `op.print()` returned a string
and printed nothing, so `op.print()` in a script showed no output)."""

from __future__ import annotations

import io

import irq

TEXT = '"t.a"() {x = 1 : i32} : () -> ()'


def test_print_writes_the_text_to_stdout_and_returns_nothing(capsys):
    m = irq.parse_module(TEXT)
    assert m.print() is None
    assert capsys.readouterr().out == m.to_text() + "\n"


def test_print_to_a_file_in_generic_form(capsys):
    m = irq.parse_module(TEXT)
    buf = io.StringIO()
    m.print(buf, generic=True)
    assert buf.getvalue() == m.to_text(generic=True) + "\n"
    assert buf.getvalue().startswith('"builtin.module"()')
    assert capsys.readouterr().out == ""  # nothing leaks to stdout when a file is given


def test_str_is_the_custom_text():
    m = irq.parse_module(TEXT)
    assert str(m) == m.to_text() == irq.print_module(m)
