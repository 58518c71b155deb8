"""DDP: 2 processes (gloo on loopback, bounded time) calibrate and run 2 QAT steps; every rank ends with
the same quantization state, equal to one process run on the concatenated batches."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from tests.support import ddp_quant_worker as worker

WORKER = os.path.join(os.path.dirname(__file__), "support", "ddp_quant_worker.py")


def test_two_ranks_end_with_identical_scales_equal_to_single_process(tmp_path):
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    init = tmp_path / "pg"
    procs = [subprocess.Popen([sys.executable, WORKER, str(r), "2", str(init), str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert r0.keys() == r1.keys() and any(k.endswith("out_quant.scale") for k in r0)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    single = worker.run(lambda m: m, lambda t: t)
    for k in r0:
        if k.endswith(".observed"):
            assert torch.equal(r0[k], single[k]), k
        else:
            torch.testing.assert_close(r0[k], single[k], rtol=1e-5, atol=1e-7, msg=k)
    assert single["conv1.out_quant.scale"] != 1.0
