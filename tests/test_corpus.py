"""Conformance corpus: hand-written MLIR files under tests/ir/ re-print byte for byte.

`NAME.mlir` must re-print as itself, unless `NAME.expected` exists: then irq's canonical
text for it (aliases expanded, names and numbers re-assigned, unused blobs dropped) is that
file, which must itself re-print unchanged. A `.generic` in the name selects the generic
form and `.debug` prints locations. Every file is valid IR and passes the verifier.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import irq

CORPUS = Path(__file__).parent / "ir"
FILES = sorted(CORPUS.glob("*.mlir"))


def _mode(path: Path) -> dict:
    parts = path.name.split(".")[1:-1]
    return {"generic": "generic" in parts, "debuginfo": "debug" in parts}


def _expected(path: Path) -> Path:
    exp = CORPUS / (path.name.split(".")[0] + ".expected")
    return exp if exp.exists() else path


def test_corpus_is_not_empty():
    assert len(FILES) >= 10
    for exp in CORPUS.glob("*.expected"):
        assert any(f.name.split(".")[0] == exp.stem for f in FILES), f"{exp.name} has no .mlir"


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_reprints_byte_identically(path: Path):
    mode = _mode(path)
    m = irq.parse_file(path)
    expected = _expected(path).read_text(encoding="utf-8")
    assert irq.print_module(m, **mode) == expected
    # the canonical text is a fixed point, and means the same IR
    m2 = irq.parse_module(expected, filename=str(path))
    assert irq.print_module(m2, **mode) == expected
    assert irq.structurally_equal(m, m2, locations=mode["debuginfo"])


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_verifies(path: Path):
    irq.verify(irq.parse_file(path))


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_other_printing_modes_round_trip(path: Path):
    """Whatever form a corpus file is written in, every printing mode reads back to the same IR."""
    m = irq.parse_file(path)
    for generic in (False, True):
        for debuginfo in (False, True):
            text = irq.print_module(m, generic=generic, debuginfo=debuginfo)
            m2 = irq.parse_module(text)
            assert irq.print_module(m2, generic=generic, debuginfo=debuginfo) == text
            assert irq.structurally_equal(m, m2, locations=debuginfo)
