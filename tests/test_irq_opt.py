"""irq-opt as users run it: files, stdin/stdout, plugins, diagnostics checking, exit codes."""

import subprocess
import sys
from pathlib import Path

import irq

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "custom_pass_plugin.py"


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "irq.cli.opt", *map(str, args)], input=stdin,
                          capture_output=True, text=True)


def assert_reported(r, *messages: str) -> None:
    """irq-opt failed the way a user expects: exit 1, each message on stderr, no Python traceback.

    A crash also exits 1, so the exit code alone cannot tell a reported error from a bug.
    """
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for m in messages:
        assert m in r.stderr, (m, r.stderr)


def test_stdin_to_stdout_and_output_file(tmp_path):
    text = "func.func @f(%a: i32) -> i32 {\n  return %a : i32\n}\n"
    r = run("-", stdin=text)
    assert r.returncode == 0 and "func.func @f(%a: i32) -> i32" in r.stdout
    out = tmp_path / "o.irq"
    r = run("-", "-o", out, "--generic", stdin=text)
    assert r.returncode == 0 and r.stdout == ""
    assert '"func.func"()' in out.read_text()
    assert irq.structurally_equal(irq.parse_file(out), irq.parse_module(text))


def test_errors_name_file_line_column_and_exit_nonzero(tmp_path):
    bad = tmp_path / "bad.irq"
    bad.write_text("func.func @f(%a: i32) -> i32 {\n  return %b : i32\n}\n")
    r = run(bad)
    assert_reported(r, f"{bad}:2:10: error: use of undeclared SSA value name '%b'", "^")
    r = run(tmp_path / "missing.irq")
    assert_reported(r, "cannot read")


def _verify_diag(tmp_path, body):
    f = tmp_path / "d.irq"
    f.write_text(body)
    return run(f, "--verify-diagnostics", "--allow-unregistered-dialect")


def test_verify_diagnostics_passes_when_expectations_match(tmp_path):
    r = _verify_diag(tmp_path, "// expected-error@+1 {{undeclared SSA value}}\n%0 = \"a.b\"(%9) : (i32) -> i32\n")
    assert r.returncode == 0, r.stderr


def test_verify_diagnostics_fails_when_an_expected_diagnostic_is_missing(tmp_path):
    r = _verify_diag(tmp_path, "// expected-error@+1 {{something else}}\n%0 = \"a.b\"() : () -> i32\n")
    assert_reported(r, 'd.irq:1: error: expected error "something else" was not produced')


def test_verify_diagnostics_fails_on_an_unexpected_diagnostic(tmp_path):
    r = _verify_diag(tmp_path, "%0 = \"a.b\"(%9) : (i32) -> i32\n")
    assert_reported(r, "d.irq:1: error: unexpected error: use of undeclared SSA value name '%9'")


def test_verify_diagnostics_fails_on_wrong_line(tmp_path):
    r = _verify_diag(tmp_path, "// expected-error@+2 {{undeclared}}\n%0 = \"a.b\"(%9) : (i32) -> i32\n")
    # expected on line 3 (nothing there), produced on line 2: both sides are reported
    assert_reported(r, 'd.irq:1: error: expected error "undeclared" was not produced',
                    "d.irq:2: error: unexpected error: use of undeclared SSA value name '%9'")


def test_load_pass_plugin_and_list_passes(tmp_path):
    r = run("--load-pass-plugin", PLUGIN, "--list-passes")
    assert r.returncode == 0 and "strength-reduce" in r.stdout and "max-shift" in r.stdout
    src = tmp_path / "m.irq"
    src.write_text("func.func @f(%x: i32) -> i32 {\n  %c8 = arith.constant 8 : i32\n"
                   "  %0 = arith.muli %x, %c8 : i32\n  return %0 : i32\n}\n")
    r = run(src, "--load-pass-plugin", PLUGIN, "-p", "builtin.module(func.func(strength-reduce))")
    assert r.returncode == 0, r.stderr
    assert "mylib.shl %x by 3 : i32" in r.stdout
    r = run(src, "--load-pass-plugin", PLUGIN, "-p", "builtin.module(func.func(strength-reduce{max-shift=2}))")
    assert "arith.muli" in r.stdout
    r = run(src, "--load-pass-plugin", tmp_path / "nope.py")
    assert_reported(r, "cannot load pass plugin")


def test_bad_pipeline_is_reported(tmp_path):
    src = tmp_path / "m.irq"
    src.write_text("")
    r = run(src, "-p", "builtin.module(cse")
    assert_reported(r, "pipeline syntax error")
    r = run(src, "-p", "builtin.module(nope)")
    assert_reported(r, "unknown pass 'nope'")


def test_split_input_file_keeps_chunks_apart(tmp_path):
    src = tmp_path / "s.irq"
    src.write_text("func.func @a() {\n  return\n}\n// -----\nfunc.func @b() {\n  return\n}\n")
    r = run(src, "--split-input-file")
    assert r.returncode == 0
    parts = r.stdout.split("// -----\n")
    assert len(parts) == 2 and "@a" in parts[0] and "@b" in parts[1]


def test_start_up_defers_numpy():
    """irq-opt's start-up budget (< 0.3 s) has no room for numpy's 0.1 s import: IR without
    dense literals is parsed, verified, rewritten and printed without importing it."""
    import subprocess
    import sys

    code = (
        "import sys, irq\n"
        "from irq.transform import PassManager\n"
        "m = irq.parse_module('func.func @f(%a: i32) -> i32 {\\n  return %a : i32\\n}')\n"
        "irq.verify(m)\n"
        "PassManager.parse('builtin.module(canonicalize, cse, dce)').run(m)\n"
        "irq.print_module(m)\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
