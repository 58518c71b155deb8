"""`irq-opt big.irq | head -1` (issue 14): a reader that closes the pipe early ends irq-opt quietly,
with the status a shell shows for a tool killed by SIGPIPE, instead of a BrokenPipeError traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from irq.cli.opt import BROKEN_PIPE_STATUS

OPT = [sys.executable, "-c", "import sys; from irq.cli.opt import main; sys.exit(main())"]


def _with_stdout_closed(args: list[str]) -> subprocess.CompletedProcess:
    # the read end is closed before irq-opt has even started, so its first write finds no reader
    p = subprocess.Popen(OPT + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.close()
    _, err = p.communicate(timeout=300)
    return subprocess.CompletedProcess(p.args, p.returncode, "", err)


@pytest.fixture
def big_input(tmp_path):
    funcs = (f"func.func @f{i}(%x: i32) -> i32 {{\n  %0 = arith.addi %x, %x : i32\n  return %0 : i32\n}}\n"
             for i in range(3000))  # ~250 KB of output: far more than a pipe holds
    path = tmp_path / "big.irq"
    path.write_text("".join(funcs))
    return path


def test_closed_stdout_ends_quietly(big_input):
    done = _with_stdout_closed([str(big_input)])
    assert done.stderr == ""
    assert done.returncode == BROKEN_PIPE_STATUS == 141


def test_closed_stdout_while_listing_passes():
    done = _with_stdout_closed(["--list-passes"])
    assert done.stderr == "" and done.returncode == BROKEN_PIPE_STATUS


def test_reader_taking_the_first_line_gets_it(big_input):
    p = subprocess.Popen(OPT + [str(big_input)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    p.stdout.close()
    _, err = p.communicate(timeout=300)
    assert first == "module {\n"
    assert "Traceback" not in err and "Error" not in err
    assert p.returncode in (0, BROKEN_PIPE_STATUS)  # 0 if everything fit in the pipe before the close



def test_a_short_output_on_a_closed_stdout_ends_quietly():
    """A short text sits in Python's buffer until the flush at exit, where a broken pipe would print
    'Exception ignored ... BrokenPipeError' and exit 120: the wrapper flushes first and catches it."""
    code = ("import sys; from irq.cli.pipes import quiet_on_broken_pipe; "
            "sys.exit(quiet_on_broken_pipe(lambda argv: print('a short summary') or 0)())")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.close()
    _, err = p.communicate(timeout=300)
    assert err == "" and p.returncode == BROKEN_PIPE_STATUS


def test_every_cli_entry_point_is_wrapped():
    import irq.cli.main
    import irq.cli.opt
    import irq.cli.run
    for module in (irq.cli.main, irq.cli.opt, irq.cli.run):
        assert module.main.__wrapped__ is not None, module.__name__
