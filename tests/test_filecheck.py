"""Runs the lit/FileCheck IR tests (tests/filecheck) as part of pytest.

lit runs `irq-opt` by PATH. The interpreter running pytest must provide it: a `lit`
found on PATH may belong to another Python (a pyenv shim puts its own bin first),
whose `irq-opt` would test another checkout. So lit runs in this interpreter, with
its bin directory first on PATH. (lit.main has no `__main__` guard: `python -m
lit.main` does nothing and exits 0, so the test also checks that tests ran.)
lit's Output/ directories go to the test's temporary directory, not the source tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "filecheck"
LIT_FILES = sorted(p for p in HERE.rglob("*") if p.suffix in (".irq", ".mlir") and "Output" not in p.parts)

# FileCheck's directive suffixes (CHECK, CHECK-NEXT, CHECK-LABEL, ...)
_SUFFIXES = ("", "-NEXT", "-SAME", "-NOT", "-LABEL", "-DAG", "-EMPTY", "-COUNT-\\d+")
_DIRECTIVE = re.compile(r"//\s*([A-Z][A-Z0-9_-]*?)(" + "|".join(_SUFFIXES) + r"):")


def test_lit_suite_passes(tmp_path):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["IRQ_LIT_OUTPUT"] = str(tmp_path)
    before = _files_under_source_outputs()
    r = subprocess.run(
        [sys.executable, "-c", "import lit.main; lit.main.main()", "-j", "2", str(HERE)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Passed" in r.stdout and "Failed" not in r.stdout, r.stdout
    assert _files_under_source_outputs() == before, "lit wrote into the source tree"
    assert any(tmp_path.rglob("Output")), "lit wrote its outputs somewhere else"


def _files_under_source_outputs() -> set[tuple[str, int]]:
    """(path, mtime) of everything in Output/ directories of the source tree (old checkouts may have some)."""
    return {(str(f), f.stat().st_mtime_ns) for d in HERE.rglob("Output") for f in d.rglob("*")}


def _run_commands(text: str) -> list[str]:
    """The RUN commands of a lit file: a RUN line is one command unless it ends in `\\`."""
    commands, pending = [], ""
    for line in text.splitlines():
        if "RUN:" not in line:
            continue
        body = line.split("RUN:", 1)[1].rstrip()
        if body.endswith("\\"):
            pending += body[:-1] + " "
        else:
            commands.append(pending + body)
            pending = ""
    return commands + ([pending] if pending else [])


def _used_prefixes(text: str) -> set[str]:
    """The check prefixes the RUN lines hand to filecheck (CHECK when a filecheck call names none)."""
    used: set[str] = set()
    for call in (c for command in _run_commands(text) for c in command.split("|")):
        if "filecheck" not in call:
            continue
        named = re.findall(r"--check-prefix(?:es)?[= ]([\w,-]+)", call)
        if named:
            used.update(p for group in named for p in group.split(","))
        else:
            used.add("CHECK")
    return used


@pytest.mark.parametrize("path", LIT_FILES, ids=lambda p: str(p.relative_to(HERE)))
def test_every_check_line_is_read_by_a_run_line(path: Path) -> None:
    """A CHECK line with a prefix no RUN line uses is never checked: it passes whatever irq-opt prints."""
    text = path.read_text()
    used = _used_prefixes(text)
    # irq-opt --verify-diagnostics checks the file's expected-* annotations itself
    verified = any("--verify-diagnostics" in c for c in _run_commands(text))
    assert used or verified, f"{path.name}: no RUN line pipes into filecheck or verifies diagnostics"
    for lineno, line in enumerate(text.splitlines(), 1):
        if "RUN:" in line:
            continue
        m = _DIRECTIVE.search(line)
        if m and m.group(1) not in used:
            pytest.fail(
                f"{path.name}:{lineno}: prefix {m.group(1)} is not checked by any RUN line "
                f"(RUN lines use {sorted(used)})"
            )


def test_prefix_lint_sees_an_unused_prefix() -> None:
    text = "// RUN: irq-opt %s | filecheck %s --check-prefix=A\n// A: x\n// B-NEXT: y\n"
    assert _used_prefixes(text) == {"A"}
    assert _DIRECTIVE.search("// B-NEXT: y").group(1) == "B"
    assert _used_prefixes("// RUN: irq-opt %s | filecheck %s\n") == {"CHECK"}
    # two RUN lines are two commands; a backslash continues one
    two = "// RUN: not irq-opt %s 2>%t.err | filecheck %s\n// RUN: filecheck %s --check-prefix=ERR < %t.err\n"
    assert _used_prefixes(two) == {"CHECK", "ERR"}
    continued = "// RUN: irq-opt %s \\\n// RUN:   | filecheck %s --check-prefix=A\n"
    assert _used_prefixes(continued) == {"A"}


def test_irq_opt_after_a_diff_imports_the_tree_on_pythonpath(tmp_path) -> None:
    """lit's `diff` builtin leaves PYTHONPATH pointing at lit itself for the rest of the test (lit 23.1).

    A scratch copy (a mutation run, a worktree) is tested through PYTHONPATH; without lit.cfg.py's
    substitution every irq-opt after a `diff` ran the installed irq, so a mutant that only those RUN
    lines would catch survived. Here PYTHONPATH holds a stand-in irq whose irq-opt prints a marker.
    """
    fake = tmp_path / "tree" / "irq" / "cli"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "opt.py").write_text(
        "import sys\n\ndef main():\n    print('IRQ FROM PYTHONPATH')\n    return int('--fail' in sys.argv)\n"
    )
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "lit.cfg.py").write_text((HERE / "lit.cfg.py").read_text())
    (suite / "a.irq").write_text(
        "// RUN: irq-opt %s | filecheck %s\n// RUN: diff %s %s\n"
        "// RUN: irq-opt %s | filecheck %s\n// RUN: not irq-opt --fail %s | filecheck %s\n"
        "// CHECK: IRQ FROM PYTHONPATH\n"
    )
    env = dict(os.environ, PYTHONPATH=str(fake.parent.parent), IRQ_LIT_OUTPUT=str(tmp_path / "out"))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    r = subprocess.run([sys.executable, "-c", "import lit.main; lit.main.main()", "-v", str(suite)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "Passed: 1" in r.stdout, r.stdout + r.stderr
