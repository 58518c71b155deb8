"""Output files (issue 14, item 5): irq-opt -o, Module.save and reproducers never clobber
what a path names, and every output failure is one `irq-opt: error:` line and exit 1.

Everything happens inside pytest's temporary directory: a symlink, a FIFO and a
read-only file made there stand for /dev/null and friends.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

import irq
from irq.cli.opt import main
from irq.output_file import OutputError, write_text
from irq.transform import Pass, PassFailure, PassManager, register_pass

TEXT = "func.func @f(%a: i32) -> i32 {\n  return %a : i32\n}\n"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    p = tmp_path / "in.irq"
    p.write_text(TEXT)
    return p


def opt(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


def one_error_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("irq-opt: error: "), err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], err


def read_fifo(path: Path, into: list) -> threading.Thread:
    t = threading.Thread(target=lambda: into.append(path.read_text()), daemon=True)
    t.start()
    return t


def test_symlink_is_followed_and_stays_a_link(tmp_path, src, capsys):
    target = tmp_path / "target.irq"
    target.write_text("old")
    link = tmp_path / "link.irq"
    link.symlink_to(target)
    code, err = opt(capsys, src, "-o", link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert irq.structurally_equal(irq.parse_file(target), irq.parse_module(TEXT))


def test_dangling_symlink_creates_its_target(tmp_path, src, capsys):
    link = tmp_path / "link.irq"
    link.symlink_to(tmp_path / "new.irq")
    assert opt(capsys, src, "-o", link)[0] == 0
    assert link.is_symlink() and "func.func @f" in (tmp_path / "new.irq").read_text()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_written_through_not_replaced(tmp_path, src, capsys):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = read_fifo(fifo, got)
    code, err = opt(capsys, src, "-o", fifo)
    reader.join(timeout=30)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a regular file
    assert got and "func.func @f" in got[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_module_save_writes_through_a_symlink_to_a_fifo(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    got: list[str] = []
    reader = read_fifo(fifo, got)
    irq.parse_module(TEXT).save(link)
    reader.join(timeout=30)
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and "func.func @f" in got[0]


def test_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path, src, capsys):
    out = tmp_path / "out.irq"
    out.write_text("old")
    out.chmod(0o640)
    assert opt(capsys, src, "-o", out)[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert "func.func @f" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.irq", "out.irq"]  # no temporary left


def test_read_only_file(tmp_path, src, capsys):
    out = tmp_path / "ro.irq"
    out.write_text("keep")
    out.chmod(0o444)
    code, err = opt(capsys, src, "-o", out)
    if os.access(out, os.W_OK):  # root: a plain open(path, "w") would succeed too, so it is written
        assert code == 0 and "func.func @f" in out.read_text()
        assert stat.S_IMODE(out.stat().st_mode) == 0o444
    else:  # renaming over it would bypass its permission: refused, and the file is untouched
        assert code == 1
        one_error_line(err, str(out), "permission denied")
        assert out.read_text() == "keep"


@pytest.mark.parametrize(
    "where, fragment",
    [
        ("missing/dir/out.irq", "does not exist"),
        (".", "is a directory"),
    ],
)
def test_unwritable_paths_are_one_error_line(tmp_path, src, capsys, where, fragment):
    code, err = opt(capsys, src, "-o", tmp_path / where)
    assert code == 1
    one_error_line(err, "cannot write", fragment)


def test_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, src, capsys, monkeypatch):
    out = tmp_path / "out.irq"
    out.write_text("old")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def write(self, s):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDisk(real_fdopen(fd, *a, **k)))
    code, err = opt(capsys, src, "-o", out)
    assert code == 1
    one_error_line(err, "No space left on device")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.irq", "out.irq"]


def test_verify_diagnostics_output_error_is_one_line(tmp_path, capsys):
    f = tmp_path / "d.irq"
    f.write_text('// expected-error@+1 {{undeclared SSA value}}\n%0 = "a.b"(%9) : (i32) -> i32\n')
    code, err = opt(capsys, f, "--verify-diagnostics", "--allow-unregistered-dialect", "-o", tmp_path / "no/x")
    assert code == 1
    one_error_line(err, "does not exist")


def test_deeply_nested_pipeline_is_one_error(src, capsys):
    pipeline = "builtin.module(" * 5000 + "cse" + ")" * 5000
    code, err = opt(capsys, src, "-p", pipeline)
    assert code == 1
    assert err.startswith("irq-opt: error: pipeline syntax error") and "nested more than" in err
    assert "Traceback" not in err and len(err) < 1000


def test_write_text_error_names_the_path(tmp_path):
    with pytest.raises(OutputError) as info:
        write_text(tmp_path / "missing" / "x", "t")
    assert str(info.value).startswith(f"cannot write '{tmp_path / 'missing' / 'x'}'")


# -- a pass that raises ---------------------------------------------------------------------------


@register_pass("test-vandal")
class Vandal(Pass):
    """On @f: moves its location, renames its sibling @g, then raises."""

    anchor = "func.func"

    def run(self, op):
        if op.sym != "f":
            return
        op.location = irq.NameLoc("moved")
        module = op.parent_op
        for other in module.body.ops:
            if other is not op:
                other.set_attr("sym_name", irq.StringAttr("renamed"))
                other.location = irq.NameLoc("moved too")
        raise RuntimeError("vandal")


TWO = 'func.func @g() {\n  return\n} loc("g.py":1:1)\nfunc.func @f() {\n  return\n} loc("f.py":2:2)\n'


def test_failing_function_pass_restores_location_and_siblings():
    m = irq.parse_module(TWO)
    before = irq.parse_module(TWO)
    with pytest.raises(PassFailure, match="vandal"):
        PassManager.parse("builtin.module(func.func(test-vandal))").run(m)
    assert irq.structural_diff(m, before, locations=True) is None
    irq.verify(m)


def test_unwritable_reproducer_is_one_error_line_after_the_diagnostic(tmp_path, capsys):
    src = tmp_path / "two.irq"
    src.write_text(TWO)
    code, err = opt(
        capsys, src, "-p", "builtin.module(func.func(test-vandal))", "--reproducer-file", tmp_path / "no" / "repro.irq"
    )
    assert code == 1
    assert "pass 'test-vandal' raised RuntimeError: vandal" in err  # (with the pass's own frames, for its author)
    assert [ln for ln in err.splitlines() if ln.startswith("irq-opt: error:")] == [
        f"irq-opt: error: no reproducer: cannot write '{tmp_path / 'no' / 'repro.irq'}': directory "
        f"'{tmp_path / 'no'}' does not exist"
    ]
