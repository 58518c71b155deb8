"""Matrix products spelled other ways than matmul: torch.addmm, torch.baddbmm and two-operand torch.einsum.

Hand-written attention and Hugging Face models use them (`torch.einsum("bhnd,bhmd->bhnm", q, k)`,
`torch.baddbmm(bias, q, k, beta=1, alpha=scale)`), and as opaque calls no march runs them. Each becomes the
typed ops it is made of: permutes around one matmul, a scalar multiply and an add. Forms these rules do
not cover exactly stay opaque calls (never an approximate rewrite): einsum with an ellipsis, a repeated
index, more than one contracted index, or both operands needing a permute; addmm/baddbmm with a `beta`
other than 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from irq.frontend.emit import _MISSING, PREV, Emit, bind, is_node


def _scaled_product_plus(args: tuple, kwargs: dict) -> list[Emit] | None:
    """beta * input + alpha * (m1 @ m2), for torch.addmm (2-D) and torch.baddbmm (batched)."""
    b = bind(
        (("input", _MISSING), ("m1", _MISSING), ("m2", _MISSING), ("beta", 1), ("alpha", 1)),
        args,
        {{"mat1": "m1", "mat2": "m2", "batch1": "m1", "batch2": "m2"}.get(k, k): v for k, v in kwargs.items()},
    )
    if b is None or not all(is_node(b[k]) for k in ("m1", "m2")) or b["beta"] not in (0, 1):
        return None
    if not isinstance(b["alpha"], (int, float)) or isinstance(b["alpha"], bool):
        return None
    emits = [Emit("matmul", {"input": b["m1"], "other": b["m2"]})]
    if b["alpha"] != 1:
        emits.append(Emit("mul_scalar", {"input": PREV}, {"other": float(b["alpha"])}))
    if b["beta"] == 1:
        if not is_node(b["input"]):
            return None
        emits.append(Emit("add", {"input": PREV, "other": b["input"]}))
    return emits


def _permutation(have: str, want: list[str]) -> list[int]:
    return [have.index(c) for c in want]


def _einsum(args: tuple, kwargs: dict) -> list[Emit] | None:
    """A two-operand einsum that is one (batched, broadcast) matmul: a as [batch..., free_a..., k], b as
    [batch..., k, free_b], with at most one of them permuted into that order and the result permuted to
    the output's index order."""
    if kwargs or not args or not isinstance(args[0], str):
        return None
    operands = list(args[1][:]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
    eq = args[0].replace(" ", "")
    if len(operands) != 2 or not all(is_node(o) for o in operands) or "." in eq or eq.count("->") != 1:
        return None
    lhs, out = eq.split("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        return None
    ia, ib = terms
    if any(len(set(t)) != len(t) for t in (ia, ib, out)):
        return None
    batch = [c for c in out if c in ia and c in ib]
    contracted = [c for c in ia if c in ib and c not in out]
    free_a = [c for c in ia if c not in ib]
    free_b = [c for c in ib if c not in ia]
    if len(contracted) != 1 or len(free_b) != 1 or not free_a or (batch and len(free_a) != 1):
        return None
    if set(out) != set(batch + free_a + free_b):  # an index summed away inside one operand
        return None
    perm_a = _permutation(ia, batch + free_a + contracted)
    perm_b = _permutation(ib, batch + contracted + free_b)
    moved_a, moved_b = perm_a != list(range(len(ia))), perm_b != list(range(len(ib)))
    if moved_a and moved_b:
        return None
    a, b = operands
    emits: list[Emit] = []
    if moved_a:
        emits.append(Emit("permute", {"input": a}, {"dims": perm_a}))
        a = PREV
    if moved_b:
        emits.append(Emit("permute", {"input": b}, {"dims": perm_b}))
        b = PREV
    emits.append(Emit("matmul", {"input": a, "other": b}))
    result = batch + free_a + free_b
    if result != list(out):
        emits.append(Emit("permute", {"input": PREV}, {"dims": _permutation("".join(result), list(out))}))
    return emits


#: torch functions -> handler; merged into irq.frontend.mapping.FUNCTIONS.
PRODUCT_FUNCTIONS: dict[Callable, Callable[[tuple, dict], Any]] = {
    torch.addmm: _scaled_product_plus,
    torch.baddbmm: _scaled_product_plus,
    torch.einsum: _einsum,
}
#: Tensor methods -> handler over (self, *args).
PRODUCT_METHODS: dict[str, Callable[[tuple, dict], Any]] = {
    "addmm": _scaled_product_plus,
    "baddbmm": _scaled_product_plus,
}
