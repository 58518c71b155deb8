"""A deployment engineer's first day with the `irq` command line, off the documented path.

Each test is a mistake or a set-up a real user makes (a model file importing its neighbour, a factory
with arguments, several inputs, token ids, an output directory that does not exist, `-o -`, Ctrl-C,
a truncated program) and the behaviour they rely on: the right numbers (checked against the float
torch model from the same file), or one `irq...: error:` line, a non-zero exit and no file half written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import irq
from irq.cli.main import main

HELPER = '''
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return nn.functional.relu(self.bn(self.conv(x)))
'''

MODEL = '''
import os

import torch
from torch import nn

from helper import Block   # a sibling module next to this file


class Net(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block = Block(c)
        self.fc = nn.Linear(c, 5)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.block(x), 1), 1))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block(4)
        self.fc = nn.Linear(10, 4)

    def forward(self, image, vector):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.block(image), 1), 1) + self.fc(vector)


def build_model(c=8, name="net"):
    if os.environ.get("IRQ_TEST_MARKER"):
        open(os.environ["IRQ_TEST_MARKER"], "w").close()
    torch.manual_seed(0)
    return Net(c)


def two_inputs():
    torch.manual_seed(0)
    return TwoInputs()


def token_classifier():
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(12, 4), nn.Flatten(), nn.Linear(12, 3))


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(10, 3)
        self.b = nn.Linear(10, 2)


class TupleHeads(Heads):
    def forward(self, v):
        return self.a(v), self.b(v)


class DictHeads(Heads):
    def forward(self, v):
        return {"logits": self.a(v), "box": self.b(v)}


def tuple_heads():
    torch.manual_seed(0)
    return TupleHeads()


def dict_heads():
    torch.manual_seed(0)
    return DictHeads()


def untraceable():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x
    return Branchy()
'''


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "model.py").write_text(MODEL)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", x=rng.random((16, 3, 8, 8), dtype=np.float32))
    np.savez(tmp_path / "calib2.npz", x0=rng.random((16, 3, 8, 8), dtype=np.float32),
             x1=rng.random((16, 10), dtype=np.float32))
    np.savez(tmp_path / "ids.npz", x=rng.integers(0, 12, (16, 3)))
    np.savez(tmp_path / "vectors.npz", x=rng.random((16, 10), dtype=np.float32))
    np.save(tmp_path / "x.npy", rng.random((4, 3, 8, 8), dtype=np.float32))
    return tmp_path


def _quantize(d: Path, *extra: str, model: str = "build_model", calib: str = "calib.npz",
              example: str = "1x3x8x8", out: str = "model.irq") -> list[str]:
    return ["quantize", f"{d}/model.py:{model}", "--example-input", example, "--calib", f"{d}/{calib}",
            "-o", out if out == "-" else f"{d}/{out}", "--no-progress", *extra]


def _error(argv: list[str], capsys, prefix: str = "irq: error: ") -> str:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 1, (status, err)
    assert err.startswith(prefix) and err.count("\n") == 1, err
    return err


def _user_module(d: Path):
    """The user's model file, imported independently of irq (the float oracle)."""
    import importlib.util
    sys.path.insert(0, str(d))
    try:
        spec = importlib.util.spec_from_file_location(f"first_day_{abs(hash(str(d)))}", d / "model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(d))
    return module


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


# --- where the program goes -------------------------------------------------------------------------


def test_output_in_a_missing_directory_fails_before_any_work(workdir: Path, capsys, monkeypatch):
    # bug: the traceback of OutputError came after calibration and convert had run
    marker = workdir / "factory-called"
    monkeypatch.setenv("IRQ_TEST_MARKER", str(marker))
    err = _error(_quantize(workdir, out="missing/model.irq"), capsys)
    assert "missing" in err and "does not exist" in err
    assert not marker.exists(), "the model was built before the output path was checked"
    assert not (workdir / "missing").exists()
    err = _error(_quantize(workdir, out="."), capsys)
    assert "is a directory" in err


def test_command_line_mistakes_fail_before_torch_is_imported(tmp_path: Path):
    # bug: the output path and --example-input were checked after `import torch` (seconds, 23 s on this
    # loaded machine) and after the model was built
    code = ("import sys\nfrom irq.cli.main import main\n"
            "status = main(['quantize', 'm.py:f', '--example-input', '1x3', '--calib', 'c.npz',\n"
            "               '-o', 'missing/x.irq'])\n"
            "assert status == 1 and 'torch' not in sys.modules, (status, 'torch' in sys.modules)\n"
            "status = main(['check', 'm.py:f', '--example-input', '1xthree'])\n"
            "assert status == 1 and 'torch' not in sys.modules\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0].startswith("irq: error: cannot write 'missing/x.irq'"), run.stderr


def test_output_dash_writes_the_program_to_stdout(workdir: Path, capsys, monkeypatch):
    # bug: `-o -` wrote a file named '-' and printed the summary where the program should be
    monkeypatch.chdir(workdir)
    assert main(_quantize(workdir, out="-")) == 0
    captured = capsys.readouterr()
    assert not (workdir / "-").exists()
    assert captured.out.startswith("module @")
    assert "irq quantize:" in captured.err and "irq quantize:" not in captured.out
    (workdir / "piped.irq").write_text(captured.out)
    x = np.load(workdir / "x.npy")
    assert main(_quantize(workdir)) == 0
    np.testing.assert_array_equal(irq.run(irq.load(workdir / "piped.irq"), x),
                                  irq.run(irq.load(workdir / "model.irq"), x))


def test_check_report_to_stdout_or_a_missing_directory(workdir: Path, capsys, monkeypatch):
    # bugs: `irq check -o -` wrote a file named '-'; a missing directory was an OSError traceback after
    # tracing (the report was written with a bare open())
    monkeypatch.chdir(workdir)
    assert main(["check", "model.py:build_model", "--example-input", "1x3x8x8", "-o", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("irq model check") and "Fused groups" in captured.out
    assert "irq check (bayes)" in captured.err and not (workdir / "-").exists()
    marker = workdir / "factory-called"
    monkeypatch.setenv("IRQ_TEST_MARKER", str(marker))
    err = _error(["check", "model.py:build_model", "--example-input", "1x3x8x8", "-o", "missing/r.txt"], capsys)
    assert "missing" in err and not marker.exists()


# --- what the model file and the command line can say ------------------------------------------------


def test_output_dash_keeps_what_the_model_prints_out_of_the_program(workdir: Path, capsys):
    # bug: a model file that prints at import or in its factory ("loading weights...") put those lines
    # at the top of the program on stdout: `irq quantize ... -o - > model.irq` gave an unloadable file
    (workdir / "chatty.py").write_text("print('loading weights...')\nfrom model import build_model as _build\n\n\n"
                                       "def build_model():\n    print('built')\n    return _build()\n")
    argv = _quantize(workdir, out="-")
    argv[1] = f"{workdir}/chatty.py:build_model"
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("module @"), captured.out[:80]
    assert "loading weights..." in captured.err and "built" in captured.err
    (workdir / "piped.irq").write_text(captured.out)
    irq.load(workdir / "piped.irq")


def test_a_model_script_that_parses_its_command_line(workdir: Path, capsys):
    # bug: a script calling argparse at import saw irq's arguments: "usage: irq [-h] [--lr LR]", exit 2
    (workdir / "script.py").write_text(
        "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--width', type=int, default=6)\n"
        "args = parser.parse_args()\nfrom model import build_model as _build\n\n\n"
        "def build_model():\n    return _build(args.width)\n")
    argv = _quantize(workdir)
    argv[1] = f"{workdir}/script.py:build_model"
    assert main(argv) == 0
    assert [op.results[0].type.shape[1] for op in irq.load(workdir / "model.irq").walk()
            if op.name == "bpu.conv2d"] == [6]
    (workdir / "exits.py").write_text("import sys\nsys.exit(3)\n")
    argv[1] = f"{workdir}/exits.py:build_model"
    assert "exits.py: importing it called sys.exit(3)" in _error(argv, capsys)
    argv[1] = f"{workdir}:build_model"
    assert "is a directory" in _error(argv, capsys)


def test_relative_paths_a_sibling_import_and_a_unicode_folder(workdir: Path, capsys, monkeypatch):
    folder = workdir / "modèles ü"
    folder.mkdir()
    for name in ("model.py", "helper.py", "calib.npz"):
        (folder / name).write_bytes((workdir / name).read_bytes())
    monkeypatch.chdir(workdir)
    assert main(["quantize", "modèles ü/model.py:build_model", "--example-input", "1x3x8x8",
                 "--calib", "modèles ü/calib.npz", "-o", "modèles ü/prog.irq", "--no-progress"]) == 0
    assert main(["run", "modèles ü/prog.irq", "-i", "x.npy", "-o", "modèles ü/y.npy"]) == 0
    y = np.load(folder / "y.npy")
    with torch.no_grad():
        ref = _user_module(workdir).build_model().eval()(torch.from_numpy(np.load(workdir / "x.npy"))).numpy()
    assert _cosine(y, ref) > 0.99


def test_factory_arguments_are_python_literals(workdir: Path, capsys):
    # bug: 'model.py:build_model(c=6)' was looked up as a function named 'build_model(c=6)'
    assert main(_quantize(workdir, model="build_model(6, name='a:b')")) == 0
    program = irq.load(workdir / "model.irq")
    x = np.load(workdir / "x.npy")
    y = irq.run(program, x)
    with torch.no_grad():
        ref = _user_module(workdir).build_model(6).eval()(torch.from_numpy(x)).numpy()
    assert _cosine(y, ref) > 0.99
    weights = [op for op in program.walk() if op.name == "bpu.conv2d"]
    assert weights and weights[0].results[0].type.shape[1] == 6
    err = _error(_quantize(workdir, model="build_model(c=open('x'))"), capsys)
    assert "literal" in err and "build_model" in err
    err = _error(_quantize(workdir, model="build_model(d=3)"), capsys)
    assert "unexpected keyword argument 'd'" in err


def test_several_inputs_in_one_example_input_flag(workdir: Path, capsys):
    # bug: '--example-input 1x3x8x8,1x10' was rejected as a malformed shape
    assert main(_quantize(workdir, model="two_inputs", calib="calib2.npz", example="1x3x8x8,1x10")) == 0
    rng = np.random.default_rng(1)
    image, vector = rng.random((3, 3, 8, 8), dtype=np.float32), rng.random((3, 10), dtype=np.float32)
    y = irq.run(irq.load(workdir / "model.irq"), image, vector)
    with torch.no_grad():
        ref = _user_module(workdir).two_inputs().eval()(torch.from_numpy(image), torch.from_numpy(vector)).numpy()
    assert _cosine(y, ref) > 0.99


def test_integer_inputs_token_ids(workdir: Path, capsys):
    # bug: example inputs were always float, so an embedding model could not be quantized from the CLI
    assert main(_quantize(workdir, "--march", "nash", model="token_classifier", calib="ids.npz",
                          example="1x3:int64")) == 0
    ids = np.random.default_rng(2).integers(0, 12, (5, 3))
    y = irq.run(irq.load(workdir / "model.irq"), ids)
    with torch.no_grad():
        ref = _user_module(workdir).token_classifier().eval()(torch.from_numpy(ids)).numpy()
    assert _cosine(y, ref) > 0.99
    err = _error(_quantize(workdir, model="token_classifier", calib="calib.npz", example="1x3:int64"), capsys)
    assert "has shape 16x3x8x8" in err
    np.savez(workdir / "float_ids.npz", x=np.zeros((4, 3), np.float32))
    err = _error(_quantize(workdir, model="token_classifier", calib="float_ids.npz", example="1x3:int64"), capsys)
    assert "float32, expected integer" in err
    assert "unknown dtype 'int7'" in _error(_quantize(workdir, example="1x3x8x8:int7"), capsys)


def test_a_model_irq_cannot_trace_is_one_line_naming_its_line(workdir: Path, capsys):
    # bug: FrontendError from prepare printed a two-screen traceback
    err = _error(_quantize(workdir, model="untraceable"), capsys)
    line = MODEL.splitlines().index("            if x.sum() > 0:") + 1
    assert f"model.py:{line}" in err and "data-dependent control flow" in err
    err = _error(["check", f"{workdir}/model.py:untraceable", "--example-input", "1x3x8x8"], capsys)
    assert f"model.py:{line}" in err


@pytest.mark.parametrize("factory", ["tuple_heads", "dict_heads"])
def test_models_with_several_outputs(workdir: Path, capsys, factory: str):
    # bug: the summary's predict() concatenated the outputs with torch.cat: a TypeError traceback, exit
    # status 1, *after* the program had been written
    assert main(_quantize(workdir, model=factory, calib="vectors.npz", example="1x10")) == 0
    assert "output cosine 0.99" in capsys.readouterr().out
    v = np.random.default_rng(3).random((3, 10), dtype=np.float32)
    np.save(workdir / "v.npy", v)
    assert main(["run", f"{workdir}/model.irq", "-i", f"{workdir}/v.npy", "-o", f"{workdir}/a.npy",
                 "-o", f"{workdir}/b.npy"]) == 0
    with torch.no_grad():
        ref = getattr(_user_module(workdir), factory)().eval()(torch.from_numpy(v))
    ref = list(ref.values()) if isinstance(ref, dict) else list(ref)
    assert _cosine(np.load(workdir / "a.npy"), ref[0].numpy()) > 0.99
    assert _cosine(np.load(workdir / "b.npy"), ref[1].numpy()) > 0.99


def test_an_error_in_a_sequential_is_not_located_in_the_irq_launcher(workdir: Path):
    # bug: an op with no frame in the user's file (nn.Sequential runs its members from torch) took the
    # console script's frame: "bin/irq:8:14: error: 'hl.conv2d' stride [4, 4] exceeds ..."
    launcher = Path(sys.executable).with_name("irq")
    if not launcher.is_file():
        pytest.skip("the irq console script is not installed next to this interpreter")
    (workdir / "seq.py").write_text("from torch import nn\n\ndef build():\n"
                                    "    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.ReLU())\n")
    run = subprocess.run([str(launcher), "quantize", f"{workdir}/seq.py:build", "--example-input", "1x3x8x8",
                          "--calib", f"{workdir}/calib.npz", "-o", f"{workdir}/seq.irq", "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stderr.startswith("irq: error: ") and run.stderr.count("\n") == 1, run.stderr
    assert "stride [4, 4] exceeds march 'bayes' limit" in run.stderr
    assert str(launcher) not in run.stderr and "bin/irq" not in run.stderr, run.stderr


# --- calibration data --------------------------------------------------------------------------------


def test_calibration_files_with_no_samples_or_non_finite_values(workdir: Path, capsys):
    # bugs: zero samples gave a ValueError traceback; NaN data gave a 'scale ... got nan' traceback
    # joined into one line, from the convert step, naming no input
    np.savez(workdir / "empty.npz", x=np.zeros((0, 3, 8, 8), np.float32))
    assert "holds no samples" in _error(_quantize(workdir, calib="empty.npz"), capsys)
    bad = np.random.default_rng(0).random((4, 3, 8, 8), dtype=np.float32)
    bad[2, 1, 3, 3] = np.nan
    np.savez(workdir / "nan.npz", x=bad)
    err = _error(_quantize(workdir, calib="nan.npz"), capsys)
    assert "calibration input 0 ('x')" in err and "1 NaN or infinite value" in err
    assert not (workdir / "model.irq").exists()
    np.savez(workdir / "one.npz", x=bad[:1])
    assert main(_quantize(workdir, calib="one.npz")) == 0


def test_calibration_in_a_npy_file(workdir: Path, capsys):
    # bug: np.load of a .npy returns an array, which the loader used as a context manager: a TypeError
    np.save(workdir / "calib.npy", np.load(workdir / "calib.npz")["x"])
    assert main(_quantize(workdir, calib="calib.npy")) == 0
    err = _error(_quantize(workdir, model="two_inputs", calib="calib.npy", example="1x3x8x8,1x10"), capsys)
    assert "a .npy file holds one array, the model has 2 inputs" in err and "x0, x1" in err


def test_qat_labels_out_of_range_or_in_a_column(workdir: Path, capsys):
    # bug: a label >= the number of logits, or a negative one, was torch's "IndexError: Target 6 is out of
    # bounds" traceback from inside the loss; a (n, 1) column of labels was "multi-target not supported"
    rng = np.random.default_rng(0)
    x = np.load(workdir / "calib.npz")["x"]
    np.savez(workdir / "bad.npz", x=x, y=rng.integers(0, 9, len(x)))
    err = _error(_quantize(workdir, "--qat-epochs", "1", calib="bad.npz"), capsys)
    assert "is not a class index of the model's 5 outputs" in err
    np.savez(workdir / "column.npz", x=x, y=rng.integers(0, 5, (len(x), 1)))
    assert main(_quantize(workdir, "--qat-epochs", "1", calib="column.npz")) == 0
    np.savez(workdir / "short.npz", x=x, y=rng.integers(0, 5, 3))
    assert f"{len(x)} inputs but 3 labels" in _error(_quantize(workdir, "--qat-epochs", "1", calib="short.npz"), capsys)


def test_ctrl_c_during_calibration_is_one_line_and_writes_nothing(workdir: Path, capsys, monkeypatch):
    # bug: KeyboardInterrupt printed torch's whole call stack; here it comes after the first batch
    import irq.workflow
    real = irq.workflow.calibrate

    def interrupted(qat, batches, **options):
        real(qat, batches[:1], **options)
        raise KeyboardInterrupt

    monkeypatch.setattr(irq.workflow, "calibrate", interrupted)
    assert main(_quantize(workdir, "--batch-size", "4")) == 130
    assert capsys.readouterr().err == "irq: interrupted\n"
    assert sorted(p.name for p in workdir.iterdir() if "model.irq" in p.name) == []


def test_a_real_sigint_ends_the_process_quietly(workdir: Path):
    # the same through the signal: the model file sleeps at import, the test interrupts it there
    (workdir / "slow.py").write_text("import os, time\nopen(os.environ['IRQ_TEST_MARKER'], 'w').close()\n"
                                     "time.sleep(60)\n")
    marker = workdir / "importing"
    proc = subprocess.Popen([sys.executable, "-m", "irq.cli.main", "quantize", f"{workdir}/slow.py:build",
                             "--example-input", "1x4", "--calib", f"{workdir}/calib.npz", "-o", f"{workdir}/slow.irq"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "IRQ_TEST_MARKER": str(marker)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err == "irq: interrupted\n", err
    assert not (workdir / "slow.irq").exists()


def test_a_march_violation_is_found_before_calibration(workdir: Path, capsys, monkeypatch):
    # bug: int16 activations on bayes (int8 only) were refused by convert, after calibration and QAT had run
    import irq.workflow
    monkeypatch.setattr(irq.workflow, "calibrate", lambda *a, **k: pytest.fail("calibrated a model convert refuses"))
    err = _error(_quantize(workdir, "--qconfig", "default_calib_16bit", "--march", "bayes"), capsys)
    assert "march 'bayes' cannot run" in err and "helper.py:" in err and "i16" in err


def test_a_program_of_either_march_runs_equal_on_both_runtimes(workdir: Path, capsys):
    # a .irq records no march: the runtimes execute any march's program; nash's int16 program must give
    # the numba and reference runtimes the same numbers, as bayes's int8 one does
    x = f"{workdir}/x.npy"
    for march, qconfig in (("nash", "default_calib_16bit"), ("bayes", "default_calib_8bit")):
        assert main(_quantize(workdir, "--march", march, "--qconfig", qconfig, out=f"{march}.irq")) == 0
        assert main(["run", f"{workdir}/{march}.irq", "-i", x, "-o", f"{workdir}/{march}.numba.npy"]) == 0
        assert main(["run", f"{workdir}/{march}.irq", "-i", x, "-o", f"{workdir}/{march}.ref.npy",
                     "--runtime", "reference"]) == 0
        np.testing.assert_array_equal(np.load(workdir / f"{march}.numba.npy"), np.load(workdir / f"{march}.ref.npy"))
    with torch.no_grad():
        ref = _user_module(workdir).build_model().eval()(torch.from_numpy(np.load(x))).numpy()
    # int16 activations are closer to float than int8 ones
    err16 = np.abs(np.load(workdir / "nash.numba.npy") - ref).max()
    err8 = np.abs(np.load(workdir / "bayes.numba.npy") - ref).max()
    assert err16 < err8, (err16, err8)


# --- irq run ----------------------------------------------------------------------------------------


@pytest.fixture
def program(workdir: Path) -> Path:
    assert main(_quantize(workdir)) == 0
    return workdir / "model.irq"


def test_run_output_paths(workdir: Path, program: Path, capsys):
    # bug: a missing output directory was a FileNotFoundError traceback after the run, and numpy
    # appended '.npy' to a name without it, so the file the user asked for never appeared
    err = _error(["run", str(program), "-i", f"{workdir}/x.npy", "-o", f"{workdir}/missing/y.npy"], capsys,
                 prefix="irq run: error: ")
    assert "missing" in err
    assert main(["run", str(program), "-i", f"{workdir}/x.npy", "-o", f"{workdir}/logits"]) == 0
    assert (workdir / "logits").exists() and not (workdir / "logits.npy").exists()
    np.testing.assert_array_equal(np.load(workdir / "logits"), irq.run(irq.load(program), np.load(workdir / "x.npy")))


def test_run_refuses_non_finite_inputs(workdir: Path, program: Path, capsys):
    # bug: a NaN pixel went through the numba runtime's quantize as an arbitrary code: finite, wrong
    # outputs and exit status 0 (the reference runtime failed with "values in [-9223372036854775808, 127]")
    x = np.load(workdir / "x.npy")
    x[1, 0, 2, 2] = np.nan
    x[2, 1, 0, 0] = np.inf
    np.save(workdir / "bad.npy", x)
    for runtime in ("numba", "reference"):
        err = _error(["run", str(program), "-i", f"{workdir}/bad.npy", "-o", f"{workdir}/y.npy", "--runtime", runtime],
                     capsys, prefix="irq run: error: ")
        assert "bad.npy' holds 2 NaN or infinite value(s)" in err
    assert not (workdir / "y.npy").exists()


def test_library_runtimes_refuse_non_finite_inputs(workdir: Path, program: Path):
    # bug: irq.run (numba) quantized a NaN to an arbitrary code and returned finite, wrong outputs; the
    # reference runtime failed with "values in [-9223372036854775808, 127]", naming no input
    prog = irq.load(program)
    x = np.load(workdir / "x.npy")[:1]  # the traced batch, which the library's reference runtime needs
    good = irq.run(prog, x)
    for bad_value in (np.nan, np.inf, -np.inf):
        bad = x.copy()
        bad[0, 0, 1, 1] = bad_value
        for runtime in ("numba", "reference"):
            with pytest.raises(Exception, match=r"input.* holds 1 NaN or infinite value\(s\)"):
                irq.run(prog, bad, runtime=runtime)
    np.testing.assert_array_equal(irq.run(prog, x), good)  # a refused call leaves the compiled program usable


def test_run_a_truncated_or_corrupt_program_is_one_line(workdir: Path, program: Path, capsys):
    # bug: the parse error's caret excerpt made the error three lines
    text = program.read_bytes()
    (workdir / "cut.irq").write_bytes(text[: len(text) // 2])
    err = _error(["run", f"{workdir}/cut.irq", "-i", f"{workdir}/x.npy", "-o", f"{workdir}/y.npy"], capsys,
                 prefix="irq run: error: ")
    assert "cut.irq:" in err
    (workdir / "bin.irq").write_bytes(b"\x7fELF\x00\xff\xfe")
    assert "bin.irq:1:" in _error(["run", f"{workdir}/bin.irq", "-i", f"{workdir}/x.npy", "-o", f"{workdir}/y.npy"],
                                  capsys, prefix="irq run: error: ")
    assert not (workdir / "y.npy").exists()


def test_run_reference_on_a_batch_larger_than_the_traced_one(workdir: Path, program: Path, capsys):
    # the reference runtime runs the traced shape (batch 1); `irq run --runtime reference` runs a batch
    # of 4 sample by sample and must equal the numba runtime exactly
    x = f"{workdir}/x.npy"
    assert main(["run", str(program), "-i", x, "-o", f"{workdir}/ref.npy", "--runtime", "reference"]) == 0
    assert main(["run", str(program), "-i", x, "-o", f"{workdir}/nb.npy"]) == 0
    np.testing.assert_array_equal(np.load(workdir / "ref.npy"), np.load(workdir / "nb.npy"))
    assert np.load(workdir / "ref.npy").shape == (4, 5)


def test_profile_times_a_warm_run(workdir: Path, program: Path, capsys, monkeypatch):
    # bug: the first call (Numba compilation of every kernel) was the one profiled: 95% of the "time"
    # went to bpu.quantize, the first kernel called
    from irq.runtime import numba as numba_runtime
    CompiledProgram = type(numba_runtime.compile(irq.load(program)))
    calls: list[str] = []
    real_call, real_profile = CompiledProgram.__call__, CompiledProgram.profile
    monkeypatch.setattr(CompiledProgram, "__call__", lambda self, *a: calls.append("call") or real_call(self, *a))
    monkeypatch.setattr(CompiledProgram, "profile",
                        lambda self, *a, **k: calls.append("profile") or real_profile(self, *a, **k))
    assert main(["run", str(program), "-i", f"{workdir}/x.npy", "-o", f"{workdir}/y.npy", "--profile"]) == 0
    assert calls[0] == "call" and "profile" in calls
    table = capsys.readouterr().err
    assert "bpu.conv2d" in table or "conv2d" in table


# --- irq-opt and help --------------------------------------------------------------------------------


def test_view_op_graph_into_a_missing_directory_is_one_line(workdir: Path, program: Path, capsys):
    # bug: FileNotFoundError traceback from graph_view's Path.write_text
    err = _error(["opt", str(program), "--view-op-graph", f"{workdir}/missing/g.dot", "-o", f"{workdir}/o.irq"],
                 capsys, prefix="irq opt: error: ")
    assert "missing" in err
    assert main(["opt", str(program), "--view-op-graph", f"{workdir}/g.dot", "-o", f"{workdir}/o.irq"]) == 0
    assert "!quant" in (workdir / "g.dot").read_text() or "xi8" in (workdir / "g.dot").read_text()


@pytest.mark.parametrize("command", ["quantize", "check", "run", "opt"])
def test_every_subcommand_help_names_itself(command: str, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith(f"usage: irq {command} "), usage[:80]


def test_the_readme_command_lines_run_as_written(tmp_path: Path, capsys, monkeypatch):
    # the README's four command lines, copied as a user copies them (comments, line continuation),
    # on a model file and data named as they name them
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("\nirq quantize model.py:build_model"):]
    block = block[:block.index("```")].replace("\\\n", " ")
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("irq ")]
    assert [line.split()[1] for line in lines] == ["quantize", "check", "run", "opt"]
    (tmp_path / "model.py").write_text(
        "import torch\nfrom torch import nn\n\n\ndef build_model():\n    torch.manual_seed(0)\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(4, 3))\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.random((4, 3, 224, 224), dtype=np.float32), y=rng.integers(0, 3, 4))
    np.save(tmp_path / "x.npy", rng.random((2, 3, 224, 224), dtype=np.float32))
    (tmp_path / "in.irq").write_text("func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n"
                                     "  func.return %0 : i32\n}\n")
    monkeypatch.chdir(tmp_path)
    import shlex
    for line in lines:
        assert main(shlex.split(line)[1:]) in (0,), line
    assert (tmp_path / "model_check_result.txt").exists()
    y = np.load(tmp_path / "y.npy")
    with torch.no_grad():
        ref = _user_module(tmp_path).build_model().eval()(torch.from_numpy(np.load(tmp_path / "x.npy"))).numpy()
    assert _cosine(y, ref) > 0.99
