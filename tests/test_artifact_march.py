"""A saved program records the march it was converted for (`bpu.march`), and loading, running and checking
it against another march is one clear error; files written before the record still load.

Bug each test catches: a nash program (int16 convs, 9x9 kernels, sqrt tables) deployed where a bayes one is
expected would run without complaint in irq's runtimes and fail, or compute something else, on the chip.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.frozen import FrozenBuilder

import irq
from irq.artifact import ArtifactError, program_march
from irq.cli.main import main as irq_main
from irq.cli.run import main as irq_run

RNG = np.random.default_rng(5)


def _frozen():
    b = FrozenBuilder([("x", (1, 3, 6, 6))])
    w = RNG.standard_normal((4, 3, 3, 3)) * 0.2
    y = b.op("hl.conv2d", [b.qdq("x", 0.02), b.weight(w, np.abs(w).reshape(4, -1).max(axis=1) / 127)], (1, 4, 6, 6),
             {}, 'stride = [1, 1], padding = [1, 1], dilation = [1, 1], groups = 1 : i64, owner = "c"')
    return b.module([b.qdq(y, 0.05)])


@pytest.fixture
def saved(tmp_path):
    paths = {}
    for march in ("bayes", "nash"):
        program = irq.convert(_frozen(), march=march)
        paths[march] = tmp_path / f"{march}.irq"
        program.save(str(paths[march]))
    np.save(tmp_path / "x.npy", RNG.standard_normal((1, 3, 6, 6)).astype(np.float32))
    return tmp_path, paths


def test_convert_records_the_march_and_it_survives_save_and_load(saved):
    _, paths = saved
    for march, path in paths.items():
        assert f'bpu.march = "{march}"' in path.read_text()
        assert program_march(irq.load(path)) == march
        assert program_march(irq.load(path, march=march)) == march


def test_loading_a_program_of_another_march_is_one_clear_error(saved):
    _, paths = saved
    with pytest.raises(ArtifactError, match=r"nash.irq was converted for march 'nash', not 'bayes'"):
        irq.load(paths["nash"], march="bayes")
    with pytest.raises(ArtifactError, match=r"converted for march 'bayes', not 'nash'"):
        irq.load(paths["bayes"], march="nash")


def test_a_file_written_before_the_record_still_loads(saved):
    tmp, paths = saved
    old = tmp / "old.irq"
    text = paths["nash"].read_text()
    old.write_text(text.replace(', bpu.march = "nash"', "").replace('bpu.march = "nash", ', ""))
    assert "bpu.march" not in old.read_text()
    assert program_march(irq.load(old)) is None
    assert program_march(irq.load(old, march="bayes")) is None  # unknown: nothing to refuse
    bad = tmp / "bad.irq"
    bad.write_text(text.replace('bpu.march = "nash"', "bpu.march = 3 : i64"))
    with pytest.raises(ArtifactError, match="'bpu.march' module attribute must be a string"):
        irq.load(bad)


def test_irq_run_and_irq_check_refuse_another_march_in_one_line(saved, capsys):
    tmp, paths = saved
    out = str(tmp / "y.npy")
    assert irq_run([str(paths["nash"]), "-i", str(tmp / "x.npy"), "-o", out, "--march", "bayes"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"irq-run: error: {paths['nash']} was converted for march 'nash', not 'bayes': its ops were "
                   "checked against 'nash' only; convert the model again with march='bayes'"]
    assert not (tmp / "y.npy").exists()
    assert irq_run([str(paths["nash"]), "-i", str(tmp / "x.npy"), "-o", out, "--march", "nash"]) == 0
    assert irq_main(["check", str(paths["nash"])]) == 0
    assert "a bpu program for march 'nash', format version 1, 5 bpu ops" in capsys.readouterr().out
    assert irq_main(["check", str(paths["bayes"]), "--march", "nash"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("irq: error: ") and "converted for march 'bayes', not 'nash'" in err[0]


def test_irq_run_and_compile_refuse_another_march_like_load(saved):
    """Bug caught: `irq.run(program, x, march="bayes")` on a nash program ran without a word (only the file
    path checked the record), so a program that goes through memory escaped the check irq.load makes."""
    tmp, paths = saved
    x = np.load(tmp / "x.npy")
    nash = irq.load(paths["nash"])
    want = r"the program was converted for march 'nash', not 'bayes': its ops were checked against 'nash' only"
    for runtime in ("numba", "reference"):
        with pytest.raises(ArtifactError, match=want):
            irq.run(nash, x, runtime=runtime, march="bayes")
    with pytest.raises(ArtifactError, match=want):
        irq.runtime.numba.compile(nash, march="bayes")
    func = next(op for op in nash.walk() if op.name == "func.func")  # the function alone: its module's record
    with pytest.raises(ArtifactError, match=want):
        irq.runtime.numba.compile(func, march="bayes")
    with pytest.raises(ArtifactError, match=want):
        irq.runtime.reference.run(nash, x, march="bayes")
    from irq.march import March
    with pytest.raises(ArtifactError, match=want):
        irq.run(nash, x, march=March.BAYES)
    same = irq.run(nash, x, march=March.NASH)
    np.testing.assert_array_equal(same, irq.run(nash, x))  # the matching march (enum or name) runs as before
    np.testing.assert_array_equal(irq.runtime.numba.compile(nash, march="nash")(x), same)
    np.testing.assert_array_equal(irq.run(nash, x, runtime="reference", march="nash"), same)


def test_runtimes_run_a_program_without_a_record_and_refuse_an_unknown_march(saved):
    tmp, paths = saved
    x = np.load(tmp / "x.npy")
    nash = irq.load(paths["nash"])
    old = irq.parse_module(paths["nash"].read_text().replace(', bpu.march = "nash"', "")
                           .replace('bpu.march = "nash", ', ""))
    assert program_march(old) is None
    np.testing.assert_array_equal(irq.run(old, x, march="bayes"), irq.run(nash, x))  # nothing to refuse
    for call in (lambda: irq.run(old, x, march="bays"), lambda: irq.load(paths["bayes"], march="bays"),
                 lambda: irq.runtime.numba.compile(nash, march="Nash!")):
        with pytest.raises(ArtifactError, match=r"unknown march '(bays|Nash!)' \(known: .*bayes.*nash"):
            call()
