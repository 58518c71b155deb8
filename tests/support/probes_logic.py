"""Probes of issue 12's mask logic, causal masks built from the input's size and masked SDPA (support.probe_harness):
each spelling (operator, torch function, Tensor method, ATen overload through export) against eager torch, typed
(no opaque call), the mask's factories kept as calls on the traced sizes (fx) or folded later (export)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from support.probe_harness import X3, probe

Q = (2, 2, 5, 4)  # (batch, heads, length, head dim)

probe(
    "~m, m1 & m2, m1 | m2, m1 ^ m2",
    lambda m, x, y: torch.where(~(x > 0) & (y < 0) | ((x > y) ^ (y > 0.5)), x, y),
    X3,
    X3,
)
probe(
    "torch.logical_and / or / xor / not",
    lambda m, x, y: torch.where(
        torch.logical_or(torch.logical_and(x > 0, y > 0), torch.logical_xor(torch.logical_not(x > y), y < -0.5)), x, -y
    ),
    X3,
    X3,
)
probe(
    "torch.bitwise_and / or / xor / not on masks",
    lambda m, x, y: torch.where(
        torch.bitwise_or(torch.bitwise_and(x > 0, y > 0), torch.bitwise_xor(torch.bitwise_not(x > y), y < -0.5)), x, -y
    ),
    X3,
    X3,
)
probe(
    "Tensor.logical_* / bitwise_* methods",
    lambda m, x, y: torch.where(
        (x > 0)
        .logical_and(y > 0)
        .logical_or((x > y).logical_not())
        .logical_xor((y > 1).bitwise_not())
        .bitwise_and(x < 1)
        .bitwise_or(y > 2)
        .bitwise_xor(x < -2),
        x,
        y,
    ),
    X3,
    X3,
)


def _in_place(m, x, y):
    keep = x > 0
    keep &= y > 0
    keep |= x > 1
    keep ^= y < -1
    return torch.where(keep, x, y)


probe("&=, |=, ^= on masks", _in_place, X3, X3)


def _reused(m, x, y):
    a, b = x > 0, y > 0
    return torch.where(a & b, x, y) + torch.where(a | b, y, x) + torch.where(a, x, 0.0)  # `a` read after `a & b`


probe("a mask read again after a & b", _reused, X3, X3)  # operator.and_ was taken for an in-place op


def _causal(form: str):
    def fn(m, q, k):
        n = q.size(-2)
        scores = q @ k.transpose(-2, -1)
        if form == "triu":
            scores = scores.masked_fill(torch.triu(torch.ones(n, n), diagonal=1).bool(), float("-inf"))
        elif form == "tril == 0":
            scores = scores.masked_fill(torch.tril(torch.ones(n, n)) == 0, float("-inf"))
        elif form == "arange":
            scores = scores.masked_fill(~(torch.arange(n)[:, None] >= torch.arange(n)[None, :]), float("-inf"))
        elif form == "zeros / eye":
            scores = scores.masked_fill(
                torch.zeros(n, n, dtype=torch.bool)
                | torch.eye(n).bool().logical_not() & torch.ones(n, n, dtype=torch.bool).triu(1),
                float("-inf"),
            )
        else:  # an additive -inf mask
            scores = scores + torch.full((n, n), float("-inf")).triu(1)
        return scores.softmax(-1)

    return fn


for _form in ("triu", "tril == 0", "arange", "zeros / eye", "full -inf"):
    probe(f"causal mask from the size: {_form}", _causal(_form), Q, Q, opaque_ok=True)  # the factories: calls
probe(
    "SDPA is_causal",
    lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    Q,
    Q,
    Q,
    opaque_ok=True,
)
probe(
    "SDPA bool attn_mask",
    lambda m, q, k, v: F.scaled_dot_product_attention(
        q, k, v, attn_mask=(q[0, 0] @ k[0, 0].transpose(0, 1) > 0) | torch.eye(5, dtype=torch.bool)
    ),
    Q,
    Q,
    Q,
    opaque_ok=True,
)
probe(
    "SDPA float attn_mask",
    lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=q[0, 0] @ k[0, 0].transpose(0, 1)),
    Q,
    Q,
    Q,
)
