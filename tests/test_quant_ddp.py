"""DDP: 2 processes (gloo on loopback, bounded time) calibrate and run 2 QAT steps; every rank ends with
the same quantization state, equal to one process run on the concatenated batches."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from tests.support import ddp_quant_worker as worker

WORKER = os.path.join(os.path.dirname(__file__), "support", "ddp_quant_worker.py")


def _run_ranks(tmp_path, *extra: str) -> None:
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    init = tmp_path / "pg"
    procs = [subprocess.Popen([sys.executable, WORKER, str(r), "2", str(init), str(tmp_path), *extra], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]


def test_two_ranks_end_with_identical_scales_equal_to_single_process(tmp_path):
    _run_ranks(tmp_path)
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


def test_sync_batch_norm_converted_before_prepare_synchronises_statistics(tmp_path):
    """SyncBatchNorm inside fused conv groups: batch statistics of the global batch on every rank. DDP does
    not broadcast buffers here, so equal running statistics on both ranks (and equal to one process on the
    concatenated batch) mean each rank computed them from everyone's data; per-rank batch norm fails this."""
    _run_ranks(tmp_path, "syncbn")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert "bn1.running_mean" in r0 and "conv1.out_quant.scale" in r0
    single = worker.run(lambda m: m, lambda t: t, net=worker.sync_bn_net, everything=True)
    for k in r0:
        torch.testing.assert_close(r0[k], r1[k], rtol=1e-5, atol=1e-6, msg=k)
        if k.endswith(".observed") or k.endswith("num_batches_tracked"):
            assert torch.equal(r0[k], single[k]), k
        else:
            torch.testing.assert_close(r0[k], single[k], rtol=1e-4, atol=1e-5, msg=k)
    # the running statistics moved during QAT (train mode): the comparison above is not of untouched buffers
    assert not torch.equal(r0["bn1.running_mean"], torch.zeros(8))


def test_sync_batch_norm_conversion_after_prepare_is_reported_with_the_fix(tmp_path):
    """convert_sync_batchnorm on the prepared module finds no BatchNorm module (they are fused into the
    convs) and changes nothing: training then warns on every rank that bn1 and bn2 are per rank, naming
    the fix (convert before prepare)."""
    _run_ranks(tmp_path, "convert-after")
    for r in range(2):
        text = (tmp_path / f"rank{r}.txt").read_text()
        assert "per-rank statistics: bn1, bn2" in text, text
        assert "convert_sync_batchnorm(model); qat_model = irq.prepare(model" in text
