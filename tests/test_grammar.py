"""The lark grammar: LALR(1) without conflicts, and in step with the lexer and the reducers."""

from __future__ import annotations

import inspect
import re

import pytest
from lark.exceptions import GrammarError

from irq.text import fast_path, lexer
from irq.text.parser import GRAMMAR_PATH, Reducer, _build_lark


def test_grammar_builds_in_strict_mode():
    """strict=True turns every shift/reduce or reduce/reduce conflict into an error."""
    parser = _build_lark(strict=True)
    assert parser.options.parser == "lalr"


def test_strict_mode_would_catch_a_conflict():
    """The check above can fail: letting `loc(` end the item soup of a custom op is ambiguous
    with the op's own trailing location, and strict mode reports it."""
    grammar = GRAMMAR_PATH.read_text()
    anchor = "            | custom_items props_group\n"
    assert anchor in grammar
    conflicting = grammar.replace(anchor, anchor + "            | custom_items LOC loc_body RPAREN\n")
    _build_lark(grammar=conflicting)  # non-strict lark resolves it silently
    with pytest.raises(GrammarError, match="Shift/Reduce conflict for terminal LOC"):
        _build_lark(strict=True, grammar=conflicting)


def _declared_terminals() -> set[str]:
    text = GRAMMAR_PATH.read_text()
    return {name for line in re.findall(r"^%declare (.*)$", text, re.M) for name in line.split()}


def _lexer_token_types() -> set[str]:
    src = inspect.getsource(lexer) + inspect.getsource(fast_path)  # the fast path emits FAST_OP
    kinds = set(re.findall(r'Tok\("([A-Z_]+)"', src))
    kinds |= set(lexer._PUNCT.values()) | set(lexer._BALANCED.values())
    return kinds


def test_lexer_and_grammar_agree_on_terminals():
    declared = _declared_terminals()
    produced = _lexer_token_types()
    assert produced <= declared, f"lexer emits undeclared tokens: {produced - declared}"
    assert declared <= produced, f"grammar declares tokens the lexer never emits: {declared - produced}"


def test_every_rule_has_a_reducer():
    """lark calls the Reducer method named after each rule; a missing one would leave a Tree in the IR."""
    rules = {r.origin.name for r in _build_lark().rules}
    missing = sorted(name for name in rules if not callable(getattr(Reducer, str(name), None)))
    assert missing == []
    # and the grammar uses every declared terminal
    used = {sym.name for r in _build_lark().rules for sym in r.expansion if sym.is_term}
    assert _declared_terminals() - used == set()
