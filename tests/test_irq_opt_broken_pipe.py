"""`irq-opt big.irq | head -1` (issue 14): a reader that closes the pipe early ends irq-opt quietly,
with the status a shell shows for a tool killed by SIGPIPE, instead of a BrokenPipeError traceback;
and a closed stderr (`2>&-`) drops diagnostics instead of mixing them into the output."""

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


# -- a closed stderr ---------------------------------------------------------------------------------

def _with_stderr_closed(module: str, args: list[str]) -> subprocess.CompletedProcess:
    # fd 2 closed before Python starts, as `tool ... 2>&-` does: sys.stderr is None in the child
    code = f"import sys; from {module} import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True,
                          preexec_fn=lambda: __import__("os").close(2), timeout=300)


_ADD_ZERO = ("func.func @f(%a: i32) -> i32 {\n  %c = arith.constant 0 : i32\n"
             "  %b = arith.addi %a, %c : i32\n  return %b : i32\n}\n")


def test_closed_stderr_keeps_the_output_and_drops_the_dumps(tmp_path):
    """`--print-ir-after-all` writes to stderr: with none, the IR still reaches stdout, unmixed."""
    src = tmp_path / "a.irq"
    src.write_text(_ADD_ZERO)
    done = _with_stderr_closed("irq.cli.opt", ["-p", "canonicalize", "--print-ir-after-all", "--timing",
                                               "--pass-statistics", str(src)])
    assert done.returncode == 0
    assert done.stdout == "module {\n  func.func @f(%a: i32) -> i32 {\n    return %a : i32\n  }\n}\n"


def test_closed_stderr_never_diverts_an_error_into_stdout(tmp_path):
    src = tmp_path / "bad.irq"
    src.write_text("func.func @f( {\n")
    done = _with_stderr_closed("irq.cli.opt", [str(src)])
    assert done.returncode == 1 and done.stdout == ""
    done = _with_stderr_closed("irq.cli.opt", ["-p", "no-such-pass", str(src)])
    assert done.returncode != 0 and done.stdout == ""


@pytest.mark.parametrize("module", ["irq.cli.run", "irq.cli.main"])
def test_closed_stderr_error_exit_of_the_other_tools(module, tmp_path):
    args = [str(tmp_path / "missing.irq")] if module == "irq.cli.run" else ["run", str(tmp_path / "missing.irq")]
    done = _with_stderr_closed(module, args)
    assert done.returncode != 0 and done.stdout == ""
