"""Warn where the traced graph silently depends on Python-level decisions.

fx runs `forward` once: `if self.training:` keeps the branch of the mode the model
was traced in and drops the other without a word, and so do checks of
`torch.jit.is_scripting()` / `is_tracing()`. This scans the source of every
`forward` the tracer went through (not irq.wrap'ed code, whose body never ran)
and warns, naming the line, that the graph is specific to that mode.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import warnings
from collections.abc import Callable

from irq.frontend.errors import TracingWarning

_MODE_CALLS = {"is_scripting", "is_tracing", "is_fx_tracing", "is_compiling"}


def _reads_training(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "training" and isinstance(node.ctx, ast.Load)


def _mode_call(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name in _MODE_CALLS:
            return name
    return None


@functools.lru_cache(maxsize=512)
def findings(fn: Callable) -> list[tuple[str, int, str]]:
    """(file, line, what) for each read of `.training` or mode check in `fn`'s source.

    Cached per function object: importing the same model again (the consistency check
    of tracing twice, benchmarks) does not re-read and re-parse its source."""
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError):
        return []
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if _reads_training(node):
            out.append((filename, first + node.lineno - 1, "reads `self.training`"))
        else:
            call = _mode_call(node)
            if call:
                out.append((filename, first + node.lineno - 1, f"checks `{call}()`"))
    return sorted(set(out), key=lambda t: t[1])


def warn_python_branches(forwards: dict[Callable, str], training: bool) -> list[str]:
    """Warn once per finding; returns the messages (the model check reports them too)."""
    mode = "train" if training else "eval"
    messages = []
    for fn, path in forwards.items():
        try:
            found = findings(fn)
        except TypeError:  # an unhashable callable
            found = findings.__wrapped__(fn)
        for filename, line, what in found:
            where = f"module '{path}'" if path else "the model"
            msg = (f"{filename}:{line}: {where} {what}; the traced graph keeps only the branch taken in {mode} "
                   f"mode and drops the other. Trace in the mode you will deploy, or move the mode-dependent code "
                   f"into a function decorated with @irq.wrap.")
            warnings.warn(TracingWarning(msg), stacklevel=4)
            messages.append(msg)
    return messages
