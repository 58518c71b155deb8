"""irq/_lazy.py: the deferred numpy imports once; later attributes never go through the import
machinery again (issue 15: the first use of a new numpy attribute called importlib.import_module,
so tests/test_no_code_execution.py, which traps import calls during parsing, failed when run alone
and passed after other tests had touched the same attributes)."""

from __future__ import annotations

import importlib

from irq._lazy import _LazyModule


def test_each_new_attribute_after_the_first_needs_no_import(monkeypatch):
    lazy = _LazyModule("json")
    assert lazy.dumps([1]) == "[1]"  # the one import
    calls = []
    monkeypatch.setattr(importlib, "import_module", lambda *a, **k: calls.append(a))
    assert lazy.loads("[2]") == [2]  # an attribute not used before
    assert lazy.JSONDecoder is __import__("json").JSONDecoder
    assert calls == []


def test_the_import_is_deferred_until_first_use(monkeypatch):
    calls = []
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name: calls.append(name) or real(name))
    lazy = _LazyModule("json")
    assert calls == []
    assert lazy.dumps("x") == "\"x\""
    assert calls == ["json"]
