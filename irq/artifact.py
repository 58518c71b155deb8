"""The deployable artifact: one file with the bpu program's text and its resource blobs.

`program.save(path)` writes it (the module's own `save`: MLIR text plus a `dialect_resources` section);
`irq.load(path)` reads it back and validates everything before returning: the format version, every
blob's size against its tensor type (the parser), that every op is a registered op a runtime executes
(no unregistered or unknown ops), and the verifier (shapes, dtypes, multiplier/shift ranges, proved
accumulator widths). Loading runs no code from the file: the text is parsed, never evaluated.

A program records the march it was converted for (`bpu.march`); `load(path, march="bayes")` refuses one
made for another march, since its ops, dtypes and kernel sizes were checked against that march's profile
only. Files written before the march was recorded load as before (`program_march` is then None). The
runtimes take the same `march=` (`irq.run`, `irq.runtime.numba.compile`, `irq.runtime.reference.run`) and
refuse with the same message through `check_march`, so an in-memory program and a file agree.
"""

from __future__ import annotations

import os

from irq.convert_bpu import FORMAT_VERSION, MARCH_ATTR, VERSION_ATTR
from irq.diagnostics import IRError, location_prefix
from irq.ir.attributes import IntegerAttr, StringAttr

#: Dialects a deployed program may contain: bpu ops, the function around them, and float islands.
DEPLOYABLE_DIALECTS = ("builtin", "func", "bpu", "torch", "hl", "arith")


class ArtifactError(IRError):
    """A file that is not a valid deployable program; the message says what is wrong and where."""


def _enclosing_module(program):
    """The module that carries the march record: `program` itself, or the module around a func.func the
    numba runtime was handed directly."""
    op = program
    while getattr(op, "name", None) == "func.func" and op.parent_op is not None:
        op = op.parent_op
    return op


def program_march(program) -> str | None:
    """The march a program was converted for, or None for a file written before irq recorded it."""
    attr = _enclosing_module(program).get_attr(MARCH_ATTR)
    if attr is None:
        return None
    if not isinstance(attr, StringAttr):
        raise ArtifactError(f"the '{MARCH_ATTR}' module attribute must be a string (the march's name), got {attr}")
    return attr.value


def check_march(program, march, where: str = "the program") -> None:
    """Refuse a program converted for another march than `march` (a name or an `irq.march.March`); one without
    a recorded march passes. An unknown march name is an error too: a typo would otherwise pass silently on
    every file written before the record."""
    from irq.march_profiles import registered_marches
    march = getattr(march, "value", march)  # irq.march.March is a str enum: compare and print its name
    known = registered_marches()
    if march not in known:
        raise ArtifactError(f"unknown march '{march}' (known: {', '.join(known)})")
    recorded = program_march(program)
    if recorded is not None and recorded != march:
        raise ArtifactError(f"{where} was converted for march '{recorded}', not '{march}': its ops were checked "
                            f"against '{recorded}' only; convert the model again with march='{march}'")


def load(path: str | os.PathLike, march: str | None = None):
    """Read and validate a deployable program written by `program.save(path)`; with `march`, also check that
    it was converted for that march."""
    from irq.ir.dialect import default_context
    from irq.runtime.reference.ops import IMPLS
    from irq.text.parser import parse_file
    from irq.verifier import verify
    ctx = default_context().copy(allow_unregistered=False)
    try:
        program = parse_file(path, context=ctx)
    except OSError as e:
        raise ArtifactError(f"cannot read '{path}': {e.strerror}") from None
    version = program.get_attr(VERSION_ATTR)
    if not isinstance(version, IntegerAttr):
        raise ArtifactError(f"{path}: not a deployable bpu program (no '{VERSION_ATTR}' module attribute; "
                            "programs come from irq.convert)")
    if version.value != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format version {version.value} is not supported (this irq reads version "
                            f"{FORMAT_VERSION})")
    program_march(program)  # a malformed record is an error even when no march is expected
    if march is not None:
        check_march(program, march, str(path))
    for op in program.walk():
        if op.dialect_name not in DEPLOYABLE_DIALECTS:
            raise ArtifactError(f"{location_prefix(op.location)}: '{op.name}' cannot appear in a deployable program")
        if op.dialect_name in ("bpu", "torch", "hl", "arith") and op.name not in IMPLS:
            raise ArtifactError(f"{location_prefix(op.location)}: no runtime executes '{op.name}'")
    verify(program)
    return program
