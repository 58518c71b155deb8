"""The `{-# ... #-}` file metadata section: an empty one reads, and a missing key is reported where
and as MLIR reports it (session 9, after IR/invalid-file-metadata.mlir; cases written for irq).
Each verdict, line and column is MLIR C++'s (iree-base-compiler), checked when it is installed.

* `{-#` `#-}` with nothing between is valid MLIR; irq's grammar wanted at least one group and
  rejected it.
* Where a key is expected (a group name, a dialect name, a resource name), MLIR's parser reports
  "expected identifier key in file metadata dictionary" / "... for 'resource' entry" at the token
  found instead (at the end of the input: its last character), and where a blob is expected after
  its key, "expected hex string blob for key '...'" (at the end of the input: one past its last
  character). irq reported "unexpected ..." after the token before it, one line early for a key on
  its own line, and for a section cut off at the end "'{-#' ... is not closed" at the `{-#`.
"""

from __future__ import annotations

import pytest

import irq
from irq.diagnostics import ParseError

# (id, text, MLIR's line, column, message)
KEY_ERRORS = [
    (
        "group_key_is_a_number",
        '"t.a"() : () -> ()\n{-#\n  7: {}\n#-}\n',
        3,
        3,
        "expected identifier key in file metadata dictionary",
    ),
    (
        "dialect_key_is_a_number",
        "{-#\n  dialect_resources: {\n\n    3\n  }\n#-}\n",
        4,
        5,
        "expected identifier key for 'resource' entry",
    ),
    (
        "resource_key_is_a_number",
        '{-#\n  dialect_resources: {\n    builtin: {\n      12: "0x04000000"\n    }\n  }\n#-}\n',
        4,
        7,
        "expected identifier key for 'resource' entry",
    ),
    (
        "section_cut_off_after_open",
        '"t.a"() : () -> ()\n{-#\n\n',
        3,
        1,
        "expected identifier key in file metadata dictionary",
    ),
    (
        "section_cut_off_in_a_group",
        "{-#\n  external_resources: {\n",
        2,
        24,
        "expected identifier key for 'resource' entry",
    ),
    (
        "section_cut_off_after_blanks",
        "{-#\n  dialect_resources: {\n  ",
        3,
        2,
        "expected identifier key for 'resource' entry",
    ),
    # a blob missing after its key: at the token found, and at the end of the input one past it
    (
        "blob_missing",
        "{-#\n  dialect_resources: {\n    builtin: {\n      b1: \n    }\n  }\n#-}\n",
        5,
        5,
        "expected hex string blob for key 'b1'",
    ),
    (
        "quoted_key_blob_missing",
        '{-#\n  dialect_resources: {\n    builtin: {\n      "a b": }\n  }\n#-}\n',
        4,
        14,
        "expected hex string blob for key 'a b'",
    ),
    (
        "blob_cut_off",
        "{-#\n  dialect_resources: {\n    builtin: {\n      b2:",
        4,
        10,
        "expected hex string blob for key 'b2'",
    ),
    (
        "blob_cut_off_after_a_comment",
        "{-#\n  dialect_resources: {\n    builtin: {\n      b3: // none\n",
        5,
        1,
        "expected hex string blob for key 'b3'",
    ),
]


def _error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        irq.parse_module(text)
    return info.value


@pytest.mark.parametrize("name,text,line,col,message", KEY_ERRORS, ids=[c[0] for c in KEY_ERRORS])
def test_a_missing_key_or_blob_is_reported_at_the_token_found(name, text, line, col, message):
    e = _error(text)
    assert (e.line, e.column) == (line, col)
    assert e.message == message


def test_an_empty_section_reads():
    for text in ('"t.a"() : () -> ()\n{-#\n#-}\n', '"t.a"() : () -> ()\n{-# #-}\n', "{-#\n  // nothing\n#-}\n"):
        m = irq.parse_module(text)
        assert "{-#" not in irq.print_module(m)  # nothing to keep: no section is printed


def test_a_missing_value_is_still_reported_after_the_token_before_it():
    """Only keys follow MLIR's at-the-token rule; a missing `:` stays a missing token."""
    e = _error("{-#\n  dialect_resources: {\n    builtin: {\n      blob\n    }\n  }\n#-}\n")
    assert (e.line, e.column) == (4, 11)


@pytest.mark.parametrize("name,text,line,col,message", KEY_ERRORS, ids=[c[0] for c in KEY_ERRORS])
def test_mlir_reports_the_same(name, text, line, col, message):
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    with pytest.raises(ir.MLIRError) as info:
        ir.Module.parse(text, ctx)
    assert f'"-":{line}:{col}: {message}' in str(info.value)


def test_mlir_reads_an_empty_section():
    ir = pytest.importorskip("iree.compiler.ir", reason="iree-base-compiler (the test extra) provides MLIR")
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    ir.Module.parse('"t.a"() : () -> ()\n{-#\n#-}\n', ctx)
    ir.Module.parse("{-#\n  // nothing\n#-}\n", ctx)
