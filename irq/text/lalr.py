"""A compact LALR(1) driver over the parse table lark computes for irq.lark, with an on-disk cache.

Why not lark's own parse loop: lark looks up each reduction's callback in a dict
keyed by `Rule` objects whose equality compares grammar symbols field by field,
and dispatches every token through a method call; at 1e5 ops that loop was a
third of the parse. Here the table is flattened to `state -> {symbol: int}`
(`>= 0`: shift to that state, `< 0`: reduce by rule `~n`) and the loop is one
function with bound reducer methods in a list.

Why a cache: compiling the grammar with lark takes about 0.1 s (plus importing
lark), paid by every `irq-opt` start. The flattened table is plain data, so it is
stored as JSON (never pickle: loading it runs no code) under the user's cache
directory, named by a checksum of the grammar and holding the grammar text itself,
which must match exactly (no hash library to import, no collision to fear). Anything unexpected while reading
it (missing, unreadable, corrupt, written by another version) means: rebuild with
lark and try to rewrite it; a read-only home only costs the rebuild.
Set `IRQ_NO_PARSE_CACHE=1` to bypass the cache, `IRQ_CACHE_DIR` to move it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

#: Bump when the JSON layout or the meaning of its entries changes.
FORMAT = 1
END = "$END"


class LalrSyntaxError(Exception):
    """No action for `token` in the current state; `expected` are the terminals that had one."""

    def __init__(self, token: Any, expected: set[str]) -> None:
        super().__init__(f"unexpected token {token.type}")
        self.token = token
        self.expected = expected


class ParseTable:
    """States as dicts from symbol name to action, plus (origin, length, callback name) per rule."""

    __slots__ = ("states", "rules", "start", "end", "_defaults")

    def __init__(self, states: list[dict[str, int]], rules: list[tuple[str, int, str]], start: int, end: int) -> None:
        self.states = states
        self.rules = rules
        self.start = start
        self.end = end
        self._defaults: list[int | None] | None = None

    # -- building and storing -------------------------------------------------------------
    @classmethod
    def from_lark(cls, lark_parser: Any) -> ParseTable:
        """Flatten the table of a `Lark(parser="lalr")` instance built with an inline transformer."""
        from lark.parsers.lalr_analysis import Shift
        inner = lark_parser.parser.parser.parser  # ParsingFrontend -> LALR_Parser -> _Parser
        table = inner.parse_table
        callbacks = inner.callbacks
        start = table.start_states["file"]
        end = table.end_states["file"]
        index = {s: i for i, s in enumerate(sorted(table.states))}
        rule_ids: dict[int, int] = {}
        rules: list[tuple[str, int, str]] = []
        states: list[dict[str, int]] = [{} for _ in index]
        for s, actions in table.states.items():
            row = states[index[s]]
            for sym, (action, arg) in actions.items():
                if action is Shift:
                    row[sym] = index[arg]
                    continue
                rid = rule_ids.get(id(arg))
                if rid is None:
                    cb = callbacks.get(arg)
                    name = getattr(cb, "__name__", None)
                    if name != arg.origin.name or arg.alias is not None:
                        raise TypeError(f"grammar rule '{arg.origin.name}' has no reducer method of that name")
                    rid = rule_ids[id(arg)] = len(rules)
                    rules.append((arg.origin.name, len(arg.expansion), name))
                row[sym] = ~rid
        if any(isinstance(k, str) for k in callbacks):
            raise TypeError("terminal callbacks are not supported by the irq LALR driver")
        return cls(states, rules, index[start], index[end])

    def to_json(self, grammar: str) -> str:
        return json.dumps({"format": FORMAT, "grammar": grammar, "start": self.start, "end": self.end,
                           "rules": self.rules, "states": self.states}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, grammar: str) -> ParseTable:
        """Load and validate a cached table for `grammar`; raises ValueError on anything unexpected."""
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("grammar") != grammar:
            raise ValueError("stale or foreign parse table")
        states, rules, start, end = d["states"], d["rules"], d["start"], d["end"]
        n_states, n_rules = len(states), len(rules)
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < n_states and 0 <= end < n_states):
            raise ValueError("bad start/end state")
        checked_rules: list[tuple[str, int, str]] = []
        for r in rules:
            origin, size, name = r
            if not (isinstance(origin, str) and isinstance(size, int) and size >= 0 and name == origin):
                raise ValueError("bad rule")
            checked_rules.append((origin, size, name))
        for row in states:
            if not isinstance(row, dict):
                raise ValueError("bad state")
            for act in row.values():
                if not isinstance(act, int) or not (-n_rules <= act < n_states):
                    raise ValueError("bad action")
        return cls(states, checked_rules, start, end)

    # -- running --------------------------------------------------------------------------
    def bind(self, reducer: object) -> list[tuple[int, Callable[[list], Any], str]]:
        """(length, bound reducer method, origin) per rule; AttributeError if a method is missing."""
        return [(size, getattr(reducer, name), origin) for origin, size, name in self.rules]

    def default_reductions(self) -> list[int | None]:
        """Per state, the rule it reduces by whatever comes next (`~rule`), or None.

        A state whose every action is the same reduction is *consistent* (Bison's default
        reduction): the lookahead cannot change what happens, so `parse` reduces there as soon
        as it arrives, before reading the next token. That makes a statement's reducers run
        when its last token (SEP) is shifted, so the lexer may build the next leaf op itself
        (see `Lexer.build_fast`) in source order. A token that is then wrong is reported in the
        state reached after those reductions rather than before them; the tests' expected-token
        sets (tests/test_bad_input.py and the others) came out the same.
        """
        out: list[int | None] = []
        for row in self.states:
            acts = set(row.values())
            act = acts.pop() if len(acts) == 1 else 0
            out.append(act if act < 0 else None)
        return out

    def parse(self, tokens: Iterable[Any], bound: list[tuple[int, Callable[[list], Any], str]], end_token: Any) -> Any:
        """Run the LALR loop; the reducers build the result bottom-up (no tree is kept)."""
        states = self.states
        default = self._defaults
        if default is None:
            default = self._defaults = self.default_reductions()
        state = self.start
        state_stack = [state]
        value_stack: list[Any] = []
        push_state = state_stack.append
        push_value = value_stack.append
        act = default[state]
        while act is not None:  # the start state reduces the empty statement list at once
            size, cb, origin = bound[~act]
            push_value(cb([]) if not size else cb(_pop(state_stack, value_stack, size)))
            state = states[state_stack[-1]][origin]
            push_state(state)
            act = default[state]
        for tok in tokens:
            ttype = tok.type
            while True:
                act = states[state].get(ttype)
                if act is None:
                    raise LalrSyntaxError(tok, _expected(states[state]))
                if act >= 0:
                    state = act
                    push_state(act)
                    push_value(tok)
                    act = default[state]
                    while act is not None:  # consistent states reduce before the next token is read
                        size, cb, origin = bound[~act]
                        if size:
                            children = value_stack[-size:]
                            del state_stack[-size:]
                            del value_stack[-size:]
                        else:
                            children = []
                        push_value(cb(children))
                        state = states[state_stack[-1]][origin]
                        push_state(state)
                        act = default[state]
                    break
                size, cb, origin = bound[~act]
                if size:
                    children = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    children = []
                push_value(cb(children))
                state = states[state_stack[-1]][origin]
                push_state(state)
        # End of input: the same reduce step as above, kept inline there (it runs for every
        # token) and repeated here, where reaching the end state accepts.
        end = self.end
        while state != end:  # default reductions may have reached it already
            act = states[state].get(END)
            if act is None or act >= 0:
                raise LalrSyntaxError(end_token, _expected(states[state]))
            size, cb, origin = bound[~act]
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            push_value(cb(children))
            state = states[state_stack[-1]][origin]
            push_state(state)
        return value_stack[-1]


def _pop(state_stack: list, value_stack: list, size: int) -> list:
    children = value_stack[-size:]
    del state_stack[-size:]
    del value_stack[-size:]
    return children


def _expected(row: dict[str, int]) -> set[str]:
    return {s for s in row if s.isupper()}


# -- cache ---------------------------------------------------------------------------------
def _cache_dir() -> Path:
    explicit = os.environ.get("IRQ_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "irq"


def load_table(grammar_text: str, build: Callable[[], Any]) -> ParseTable:
    """The table for `grammar_text`: from the cache if valid, else from `build()` (a Lark instance)."""
    checksum = zlib.crc32(grammar_text.encode())
    use_cache = not os.environ.get("IRQ_NO_PARSE_CACHE")
    path = _cache_dir() / f"lalr-v{FORMAT}-{len(grammar_text)}-{checksum:08x}.json"
    if use_cache:
        try:
            return ParseTable.from_json(path.read_text(encoding="utf-8"), grammar_text)
        except (OSError, ValueError, TypeError, KeyError):
            pass  # missing or unusable: rebuild below
    table = ParseTable.from_lark(build())
    if use_cache:
        _store(path, table.to_json(grammar_text))
    return table


def _store(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) so concurrent processes never read half a table."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".lalr-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # read-only or full cache dir: parsing still works, start-up is just slower
