"""The user guides in docs/ run as written: each page's python blocks execute in order, in one
namespace, in a fresh interpreter whose working directory is a temporary directory (the guides write
model_check_result.txt and model files). Every block asserts what the text around it claims, so a
guide whose code or claims drift from irq fails here (the bug it catches: a user copying a guide's
code and getting an error, or a number the guide says cannot happen)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROOT = DOCS.parent

RUNNER = """
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
ns = {"__name__": "__docs__"}
blocks = re.findall(r"```python\\n(.*?)```", text, re.S)
for i, block in enumerate(blocks):
    exec(compile(block, f"{sys.argv[1]}[block {i + 1}]", "exec"), ns)
print("blocks:", len(blocks))
"""

#: page -> the least number of python blocks it must keep (a page that lost its examples fails)
PAGES = {"getting-started.md": 6, "troubleshooting.md": 4, "migrating.md": 2}


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_python_block_of_the_page_runs(page, tmp_path):
    blocks = python_blocks(page)
    assert len(blocks) >= PAGES[page], f"{page} has {len(blocks)} python blocks"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", RUNNER, str(DOCS / page)], capture_output=True, text=True,
                       timeout=600, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    assert f"blocks: {len(blocks)}" in r.stdout


def test_readme_links_every_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("getting-started.md", "levels.md", "migrating.md", "troubleshooting.md", "debugging.md"):
        assert f"docs/{page}" in readme, page


def test_troubleshooting_answers_each_question_of_the_reference_faq():
    # the reference FAQ (eager-qat-quick-start.txt, "Common Problems") asks three questions and the
    # prepare guide two more; each must have its own section, with irq's diagnostic in it
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    sections = {s.split("\n", 1)[0]: s for s in text.split("\n## ")[1:]}
    expected = {
        "high-precision output": "weight_32bit_out",
        "quantization parameters fixed": ".eval()",
        "all scales are 1": "QuantizationWarning",
        "model_check_result.txt": "irq.check_model",
        "changed the model after prepare": "check_unchanged",
        "fake-quant model": "bit for bit",
    }
    for question, answer in expected.items():
        (title,) = [t for t in sections if question in t]
        assert answer in sections[title], (title, answer)
