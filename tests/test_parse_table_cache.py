"""The LALR table cache (irq.text.lalr): same table as lark's, and a bad cache never breaks parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import irq
from irq.text import lalr, parser

SAMPLE = '%0 = "t.a"() {k = [1, 2.5, "s"]} : () -> tensor<2xf32>\n"t.b"(%0) : (tensor<2xf32>) -> ()\n'


def _grammar() -> str:
    return parser.GRAMMAR_PATH.read_text()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IRQ_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("IRQ_NO_PARSE_CACHE", raising=False)
    return tmp_path


def test_cached_table_equals_fresh_lark_table(cache_dir: Path) -> None:
    built = lalr.load_table(_grammar(), parser._build_lark)
    files = list(cache_dir.glob("lalr-*.json"))
    assert len(files) == 1
    calls = []
    loaded = lalr.load_table(_grammar(), lambda: calls.append(1) or parser._build_lark())
    assert calls == []  # served from the cache, lark not consulted
    assert (loaded.states, loaded.rules, loaded.start, loaded.end) == (built.states, built.rules, built.start,
                                                                       built.end)


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"format": lalr.FORMAT, "grammar": "other"}),
                                     "[1, 2, 3]"])
def test_corrupt_or_foreign_cache_is_rebuilt(cache_dir: Path, content: str) -> None:
    lalr.load_table(_grammar(), parser._build_lark)
    (path,) = cache_dir.glob("lalr-*.json")
    path.write_text(content)
    table = lalr.load_table(_grammar(), parser._build_lark)
    assert table.states  # rebuilt from the grammar ...
    assert json.loads(path.read_text())["grammar"] == _grammar()  # ... and the cache rewritten


def test_out_of_range_action_in_cache_is_rejected(cache_dir: Path) -> None:
    lalr.load_table(_grammar(), parser._build_lark)
    (path,) = cache_dir.glob("lalr-*.json")
    d = json.loads(path.read_text())
    # lark numbers states in set order, which follows PYTHONHASHSEED: state 0 is sometimes the
    # accepting state, which has no actions, so corrupt the first state that has one
    row = next(r for r in d["states"] if r)
    row[next(iter(row))] = 10**6
    with pytest.raises(ValueError):
        lalr.ParseTable.from_json(json.dumps(d), _grammar())


def _parse_in_fresh_process(env_cache_dir: Path) -> subprocess.CompletedProcess:
    """Parse SAMPLE in a new interpreter, whose parser must load (or build) its table from scratch."""
    env = dict(os.environ, IRQ_CACHE_DIR=str(env_cache_dir))
    env.pop("IRQ_NO_PARSE_CACHE", None)
    code = "import sys, irq; print(irq.print_module(irq.parse_module(sys.stdin.read()), generic=True), end='')"
    return subprocess.run([sys.executable, "-c", code], input=SAMPLE, capture_output=True, text=True, env=env)


def test_unwritable_cache_dir_still_parses(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    r = _parse_in_fresh_process(blocker / "sub")
    assert r.returncode == 0, r.stderr
    assert irq.structurally_equal(irq.parse_module(r.stdout), irq.parse_module(SAMPLE))
    assert blocker.read_text() == "x"  # nothing written over the file in the way


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2, 3]"])
def test_corrupt_cache_file_still_parses_in_a_new_process(cache_dir: Path, content: str) -> None:
    lalr.load_table(_grammar(), parser._build_lark)
    (path,) = cache_dir.glob("lalr-*.json")
    path.write_text(content)
    r = _parse_in_fresh_process(cache_dir)
    assert r.returncode == 0, r.stderr
    assert irq.structurally_equal(irq.parse_module(r.stdout), irq.parse_module(SAMPLE))
    assert json.loads(path.read_text())["grammar"] == _grammar()  # repaired for the next run


def test_driver_matches_lark_on_sample(cache_dir: Path) -> None:
    """irq's driver and lark's own LALR loop accept and reject the same token streams."""
    from lark.exceptions import UnexpectedToken

    from irq.ir.dialect import default_context
    from irq.ir.location import SourceText
    from irq.text.lexer import Lexer
    from irq.text.parse_state import ParseState

    lark_parser = parser._build_lark()
    for text, ok in [(SAMPLE, True), ('"t.a"() : () -> ()\n', True), ('"t.a"() () : () -> ()\n', False),
                     ('"t.a"(\n', False)]:
        outcomes = []
        for use_lark in (False, True):
            lexer = Lexer(text, "s.mlir")
            state = ParseState(default_context(), lexer, SourceText("s.mlir", text))
            previous = parser._local.state
            parser._local.state = state
            try:
                if use_lark:
                    lark_parser.parse(text)
                else:
                    table, bound = parser._parser()
                    table.parse(lexer.tokens(), bound, _end(text))
                outcomes.append(("ok", len(state.top_ops)))
            except (lalr.LalrSyntaxError, UnexpectedToken) as e:
                outcomes.append(("error", e.token.type, sorted(e.expected)))
            except irq.ParseError as e:
                outcomes.append(("parse-error", str(e)))
            finally:
                parser._local.state = previous
        assert outcomes[0] == outcomes[1], text
        assert (outcomes[0][0] == "ok") == ok


def _end(text: str):
    from irq.text.lexer import Tok
    return Tok("$END", "", len(text))
