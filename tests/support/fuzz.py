"""Mutation fuzzing of the text format: the invariants every input must satisfy.

A seeded generator mutates texts of the test corpus (delete, duplicate or swap
spans and lines, insert hostile tokens, blow up numbers, truncate) and each result
goes through parse -> verify -> print -> re-parse. The promise checked:

- parsing gives a module or `irq.ParseError`, never another exception;
- verifying gives nothing or `irq.VerifyError`;
- printing never raises, in either form, valid module or not;
- a module that verifies prints in both forms, each re-parses to a structurally
  equal module (locations aside) and re-prints identically; the generic form of a
  module that does not verify does the same (printing never loses information).

`check(text)` returns None or a description of the broken promise, so a test can
report the input that broke it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import irq
from irq.ir import structural_diff

ROOT = Path(__file__).resolve().parents[2]

#: Tokens inserted by mutations: structure, names, literals and things that once crashed.
HOSTILE = [
    "}",
    "{",
    ")",
    "(",
    "]",
    "[",
    ">",
    "<",
    "<{",
    "}>",
    ",",
    ":",
    "=",
    "->",
    "^bb1",
    "^bb0:",
    "%0",
    "%0#1",
    "%x:2 =",
    "%arg0",
    "@f",
    '"',
    '"\\"',
    "\\n",
    "#a",
    "#a = loc(#a)",
    "!t = i32",
    "!t",
    "loc(",
    "loc(#a)",
    'loc("f":1:2)',
    "dense<",
    "dense<>",
    "dense<1.0> : tensor<99999999999999999999xf32>",
    "dense_resource<w>",
    "array<i64: 1>",
    "9" * 50,
    "9" * 5000,
    "-0x7FC00000",
    "0x7FC00000 : f32",
    "2 : i1",
    "1e400",
    "nan",
    "tensor<4xtensor<2xf32>>",
    "tensor<?x*xf32>",
    "vector<2xvector<2xi8>>",
    "func.func @g() {\n}",
    '"func.func"() ({}) {function_type = 3 : i32, sym_name = "f"} : () -> ()',
    'sym_visibility = "private @x"',
    '<{mod = "m"}>',
    "// -----",
    "{-#",
    "#-}",
    "\x00",
    "é",
    "\ud800",
    "[" * 40,
    "]" * 40,
    "(" * 40,
    "tuple<" * 10,
    "unit",
    "true",
    "false",
    '@"q\\""',
    '%"x"',
]


def corpus() -> list[str]:
    """Every IR text of the test suite (hand-written conformance files, FileCheck inputs, examples)."""
    files = sorted((ROOT / "tests" / "ir").glob("*.mlir"))
    files += sorted((ROOT / "tests" / "filecheck").glob("*/*.irq"))
    files += sorted((ROOT / "examples").glob("*.irq"))
    texts = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        # FileCheck inputs: drop RUN/CHECK lines and take the first split chunk
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        texts.append(text.split("// -----")[0])
    return texts


def mutate(text: str, rng: random.Random) -> str:
    """One to three random mutations of `text`."""
    for _ in range(rng.randint(1, 3)):
        n = len(text)
        kind = rng.randrange(9)
        i = rng.randrange(n + 1) if n else 0
        j = min(n, i + rng.randint(1, 40))
        if kind == 0 and n:  # delete a span
            text = text[:i] + text[j:]
        elif kind == 1 and n:  # duplicate a span
            text = text[:j] + text[i:j] + text[j:]
        elif kind in (2, 3):  # insert a hostile token
            text = text[:i] + rng.choice(HOSTILE) + text[i:]
        elif kind == 4:  # swap two lines
            lines = text.split("\n")
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif kind == 5:  # duplicate a line
            lines = text.split("\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            text = "\n".join(lines)
        elif kind == 6:  # a number made huge, negative or zero
            nums = list(re.finditer(r"\d+", text))
            if nums:
                m = rng.choice(nums)
                text = (
                    text[: m.start()]
                    + rng.choice(["0", "-1", "99999999999999999999", "9" * 4400, "65"])
                    + text[m.end() :]
                )
        elif kind == 7 and n:  # truncate
            text = text[:i]
        else:  # replace one character
            if n:
                k = rng.randrange(n)
                text = text[:k] + rng.choice('{}()[]<>%@^#!":=,x0-. \n') + text[k + 1 :]
    return text


def check(text: str) -> str | None:
    """None if `text` keeps every promise, else what broke (with the exception)."""
    try:
        m = irq.parse_module(text, "fuzz.mlir")
    except irq.ParseError:
        return None
    except Exception as e:  # noqa: BLE001 - the point is to catch anything else
        return f"parse raised {type(e).__name__}: {e}"
    try:
        irq.verify(m)
        valid = True
    except irq.VerifyError:
        valid = False
    except Exception as e:  # noqa: BLE001
        return f"verify raised {type(e).__name__}: {e}"
    for generic in (False, True):
        form = "generic" if generic else "custom"
        try:
            printed = irq.print_module(m, generic=generic)
        except Exception as e:  # noqa: BLE001
            return f"{'valid' if valid else 'invalid'} module: printing ({form}) raised {type(e).__name__}: {e}"
        if not valid and not generic:
            continue  # an invalid module must print; its generic form must also hold all of it (below)
        try:
            back = irq.parse_module(printed, "printed.mlir")
        except Exception as e:  # noqa: BLE001
            return f"{form} output does not re-parse: {type(e).__name__}: {e}\n--- output ---\n{printed}"
        diff = structural_diff(m, back)
        if diff is not None:
            return f"{form} output re-parses to a different module: {diff}\n--- output ---\n{printed}"
        again = irq.print_module(back, generic=generic)
        if again != printed:
            return f"{form} output re-prints differently\n--- first ---\n{printed}\n--- second ---\n{again}"
    return None


def mutants(seed: int) -> Iterator[tuple[int, str]]:
    """(case number, input): the endless seeded sequence of mutants (depends on the seed only)."""
    rng = random.Random(seed)
    texts = corpus()
    case = 0
    while True:
        yield case, mutate(rng.choice(texts), rng)
        case += 1


def run(seed: int, budget_s: float, max_cases: int,
        checker: Callable[[str], str | None] = check) -> Iterator[tuple[int, str, str | None]]:
    """(case number, input, problem) for the seeded sequence of mutants, until the case count or
    the time budget runs out (the inputs are a prefix of one fixed sequence for a given seed).
    `checker` is `check` in this process, or a `BoundedChecker(...).check` that runs it in a child
    under a memory cap and a time guard."""
    deadline = time.monotonic() + budget_s
    for case, text in mutants(seed):
        if case >= max_cases or time.monotonic() > deadline:
            return
        yield case, text, checker(text)
