"""`--verify-diagnostics`: compare emitted diagnostics with `expected-*` annotations.

    // expected-error@+1 {{does not dominate}}
    %0 = "test.op"(%1) : (i32) -> i32

Annotations name a severity (error, warning, remark, note), an optional line
(`@+N`, `@-N`, `@N`, `@above`, `@below`, default: the annotation's own line; a
blank may precede the `@`) and a substring of the message. As in mlir-opt,
`@below` and `@above` skip lines that hold annotations themselves, so several
annotations can be stacked over (or under) one op. Every expected diagnostic
must be produced and every produced one expected.
"""

from __future__ import annotations

import re

_EXPECTED = re.compile(r"expected-(error|warning|remark|note)(?:\s*@(above|below|[+-]?\d+))?\s*\{\{(.*?)\}\}")


def _expectations(chunk: str, offset: int) -> list[tuple[str, int, str, int]]:
    """(severity, line, text, annotation line) for each annotation in the chunk."""
    out = []
    below: list[int] = []  # indices in `out` waiting for the next line without annotations
    last_plain = None  # the last line without annotations (target of `@above`)
    for i, line in enumerate(chunk.splitlines(), start=offset + 1):
        found = list(_EXPECTED.finditer(line))
        if not found:
            for k in below:
                out[k] = (out[k][0], i, out[k][2], out[k][3])
            below.clear()
            last_plain = i
            continue
        for m in found:
            sev, where, msg = m.groups()
            if where is None:
                target = i
            elif where == "above":
                target = last_plain if last_plain is not None else i - 1
            elif where == "below":
                target = i + 1
                below.append(len(out))
            elif where[0] in "+-":
                target = i + int(where)
            else:
                target = int(where)
            out.append((sev, target, msg, i))
    return out


def _produced(diags: list) -> list[tuple[str, int | None, str]]:
    out = []
    for d in diags:
        if isinstance(d, tuple):  # (severity, line, column, message, formatted) from a ParseError
            out.append((d[0], d[1], d[3]))
            continue
        flc = d.location.file_line_col() if d.location is not None else None
        out.append((d.severity, flc[1] if flc else None, d.message))
        for n in d.notes:
            nflc = n.location.file_line_col() if n.location is not None else None
            out.append((n.severity, nflc[1] if nflc else None, n.message))
    return out


def check_diagnostics(chunk: str, offset: int, filename: str, diags: list) -> list[str]:
    """Problems found (empty when every diagnostic was expected and produced)."""
    expected = _expectations(chunk, offset)
    produced = _produced(diags)
    problems = []
    used = [False] * len(produced)
    for sev, line, msg, at in expected:
        hit = False
        for j, (psev, pline, pmsg) in enumerate(produced):
            if not used[j] and psev == sev and pline == line and msg in pmsg:
                used[j] = hit = True
                break
        if not hit:
            problems.append(f'{filename}:{at}: error: expected {sev} "{msg}" was not produced')
    for j, (psev, pline, pmsg) in enumerate(produced):
        if not used[j]:
            where = f"{filename}:{pline}" if pline is not None else filename
            problems.append(f"{where}: error: unexpected {psev}: {pmsg}")
    return problems
