"""The parse in progress on this thread: the reducers find its `ParseState` here.

Why a module of its own: the LALR driver calls reducer methods with a rule's children only,
so the state they build into is reached through this thread-local, which `parse_module`
sets for the duration of a parse; the reducer modules (`irq.text.parser` for statements and
ops, `irq.text.reduce_values` for types, attributes, locations and resources) share it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irq.text.lexer import Tok
    from irq.text.parse_state import ParseState


class _Local(threading.local):
    state: ParseState | None = None


_local = _Local()


def _s() -> ParseState:
    return _local.state


def _unsigned(tok: Tok) -> int:
    return _s().unsigned(tok)
