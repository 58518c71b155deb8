"""Regenerate the IR blocks of docs/levels.md from the page's own python block.

    python scripts/regen_levels_doc.py           # rewrite the page
    python scripts/regen_levels_doc.py --check   # exit 1 if the page differs from what irq prints

The page's python block builds `levels` ({level name: printed IR}); each IR block follows a
`<!-- level: NAME -->` marker. tests/test_docs_levels.py runs the same check.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "levels.md"
MARKED_BLOCK = re.compile(r"(<!-- level: (\w+) -->\n```mlir\n)(.*?)(```)", re.S)


def generate(doc: Path = DOC) -> dict[str, str]:
    """Run the page's python block (in this process) and return its `levels`."""
    (code,) = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    ns: dict = {"__name__": "levels_doc"}
    exec(compile(code, f"{doc}[python block]", "exec"), ns)
    return ns["levels"]


def documented(doc: Path = DOC) -> dict[str, str]:
    """{level name: the IR block under its marker}, as the page has it now."""
    return {m.group(2): m.group(3) for m in MARKED_BLOCK.finditer(doc.read_text(encoding="utf-8"))}


def render(levels: dict[str, str], doc: Path = DOC) -> str:
    text = doc.read_text(encoding="utf-8")
    missing = set(documented(doc)) - set(levels)
    if missing:
        raise SystemExit(f"{doc}: markers for levels the python block does not produce: {sorted(missing)}")

    def block(ir: str) -> str:
        return ir if ir.endswith("\n") else ir + "\n"

    return MARKED_BLOCK.sub(lambda m: m.group(1) + block(levels[m.group(2)]) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report whether the page is up to date")
    args = ap.parse_args(argv)
    new = render(generate())
    if args.check:
        up_to_date = new == DOC.read_text(encoding="utf-8")
        print(f"{DOC}: {'up to date' if up_to_date else 'out of date: run python scripts/regen_levels_doc.py'}")
        return 0 if up_to_date else 1
    DOC.write_text(new, encoding="utf-8")
    print(f"{DOC}: rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
