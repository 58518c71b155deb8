"""The `irq` command line: quantize -> run on a model from a file, and one clear line per bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from irq.cli.main import main

MODEL = '''
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))


def build_model():
    torch.manual_seed(0)
    return Tiny()
'''


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text(MODEL)
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 6, 6), dtype=np.float32)
    np.savez(tmp_path / "calib.npz", x=x, y=rng.integers(0, 5, 64))
    np.savez(tmp_path / "nolabels.npz", x=x)
    np.save(tmp_path / "x.npy", rng.random((8, 1, 6, 6), dtype=np.float32))
    return tmp_path


def _quantize(d: Path, *extra: str) -> list[str]:
    return ["quantize", f"{d}/model.py:build_model", "--example-input", "1x1x6x6", "--calib", f"{d}/calib.npz",
            "-o", f"{d}/model.irq", "--no-progress", *extra]


def test_quantize_then_run_matches_the_float_model(workdir: Path, capsys):
    assert main(_quantize(workdir, "--qconfig", "default_calib_8bit", "--batch-size", "16")) == 0
    summary = capsys.readouterr().out
    assert "calibrated on 64 samples in 4 batch(es)" in summary
    assert main(["run", f"{workdir}/model.irq", "--input", f"{workdir}/x.npy", "--output", f"{workdir}/y.npy"]) == 0
    # the reference runtime runs the program's static batch size (1): the numba runtime's first row, exactly
    np.save(workdir / "x1.npy", np.load(workdir / "x.npy")[:1])
    assert main(["run", f"{workdir}/model.irq", "--input", f"{workdir}/x1.npy", "--output", f"{workdir}/y1.npy",
                 "--runtime", "reference"]) == 0
    y = np.load(workdir / "y.npy")
    np.testing.assert_array_equal(y[:1], np.load(workdir / "y1.npy"))
    # independent oracle: the float torch model from the same file
    import importlib.util
    spec = importlib.util.spec_from_file_location("cli_model", workdir / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import torch
    with torch.no_grad():
        ref = module.build_model().eval()(torch.from_numpy(np.load(workdir / "x.npy"))).numpy()
    cos = (y * ref).sum(1) / np.linalg.norm(y, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.98, cos
    assert np.abs(y - ref).max() < 0.1 * np.abs(ref).max()


def test_quantize_with_qat_uses_the_labels(workdir: Path, capsys):
    assert main(_quantize(workdir, "--qat-epochs", "1")) == 0
    assert "QAT 1 epoch(s)" in capsys.readouterr().out
    assert (workdir / "model.irq").stat().st_size > 0


def _error(argv: list[str], capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("irq: error: ") and err.count("\n") == 1, err
    return err


def test_syntax_error_names_the_file_and_line(workdir: Path, capsys):
    (workdir / "model.py").write_text(MODEL.replace("def build_model():", "def build_model(:"))
    err = _error(_quantize(workdir), capsys)
    assert f"model.py:{MODEL.splitlines().index('def build_model():') + 1}: syntax error" in err


def test_missing_factory(workdir: Path, capsys):
    argv = _quantize(workdir)
    argv[1] = f"{workdir}/model.py:make_model"
    err = _error(argv, capsys)
    assert "no function 'make_model'" in err and "build_model" in err


def test_wrong_input_shape(workdir: Path, capsys):
    argv = _quantize(workdir)
    argv[3] = "1x3x6x6"
    assert "does not run on inputs of shape 1x3x6x6" in _error(argv, capsys)
    argv[3] = "1xthreex6"
    assert "expected positive sizes joined by 'x'" in _error(argv, capsys)


def test_calibration_data_not_matching_the_example_input(workdir: Path, capsys):
    np.savez(workdir / "calib.npz", x=np.zeros((4, 1, 7, 7), np.float32))
    assert "has shape 4x1x7x7, but --example-input is 1x1x6x6" in _error(_quantize(workdir), capsys)


def test_corrupt_calibration_file(workdir: Path, capsys):
    data = (workdir / "calib.npz").read_bytes()
    (workdir / "calib.npz").write_bytes(data[: len(data) // 2])
    assert "not a readable .npz calibration file" in _error(_quantize(workdir), capsys)
    (workdir / "calib.npz").unlink()
    assert "calib.npz: no such file" in _error(_quantize(workdir), capsys)


def test_qat_without_labels_and_unknown_qconfig(workdir: Path, capsys):
    argv = _quantize(workdir, "--qat-epochs", "2")
    argv[5] = f"{workdir}/nolabels.npz"
    assert "--qat-epochs needs integer labels 'y'" in _error(argv, capsys)
    assert "unknown template" in _error(_quantize(workdir, "--qconfig", "int3"), capsys)
    assert "unknown march" in _error(_quantize(workdir, "--march", "pascal"), capsys)


def test_the_irq_entry_point_exits_non_zero_with_one_line(workdir: Path):
    (workdir / "model.py").write_text("def build_model(:\n")
    run = subprocess.run([sys.executable, "-m", "irq.cli.main", *_quantize(workdir)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1
    assert run.stderr == f"irq: error: {workdir}/model.py:1: syntax error: invalid syntax\n" or \
        run.stderr.startswith(f"irq: error: {workdir}/model.py:1: syntax error"), run.stderr


def test_check_writes_the_report(workdir: Path, capsys):
    report = workdir / "report.txt"
    assert main(["check", f"{workdir}/model.py:build_model", "--example-input", "1x1x6x6", "-o", str(report)]) == 0
    assert "fused groups" in capsys.readouterr().out
    assert "conv" in report.read_text()


def test_opt_is_irq_opt(workdir: Path, capsys):
    src = workdir / "a.irq"
    src.write_text('func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  func.return %0 : i32\n}\n')
    assert main(["opt", str(src), "-p", "builtin.module(canonicalize)"]) == 0
    assert "arith.addi" in capsys.readouterr().out
