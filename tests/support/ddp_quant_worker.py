"""One rank of the DDP quantization test (tests/test_quant_ddp.py): calibration + 2 QAT steps under
DistributedDataParallel (gloo, loopback), then the quantization state is saved for comparison.

    python ddp_quant_worker.py RANK WORLD INIT_FILE OUT_DIR [syncbn | convert-after]

With `syncbn` the network has batch norms converted to nn.SyncBatchNorm before prepare, DDP does not
broadcast buffers (so each rank's running statistics are its own computation), and the saved state
includes the batch norms' running statistics and the trained weights. With `convert-after` the plain
batch-norm network is converted to SyncBatchNorm only *after* prepare (the mistake), and the warnings
raised while training are written to OUT_DIR/rank<r>.txt.
"""

from __future__ import annotations

import gc
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import irq  # noqa: E402


class Net(nn.Module):
    """No batch norm: its batch statistics are per rank under DDP, which would make single-process
    training on the concatenated batch differ for reasons unrelated to quantization."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        y = torch.relu(self.conv2(y)) + y
        return self.fc(y.mean((2, 3)))


class NetBN(nn.Module):
    """conv -> batch norm -> relu twice (both fused by prepare), then a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        return self.fc(y.mean((2, 3)))


def sync_bn_net() -> nn.Module:
    return nn.SyncBatchNorm.convert_sync_batchnorm(NetBN())


def data(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The full batch of a step; rank r takes rows r::world."""
    g = torch.Generator().manual_seed(100 + step)
    return torch.randn(8, 3, 8, 8, generator=g) * (1 + step), torch.randint(0, 4, (8,), generator=g)


def run(model: nn.Module, shard, qconfig: str = "default_calib_8bit", net=Net, everything: bool = False
        ) -> dict[str, torch.Tensor]:
    """Calibrate on 3 batches, then 2 QAT steps; `shard(t)` picks this process's rows. Returns the
    quantization state of the prepared module (`everything`: its whole state_dict)."""
    torch.manual_seed(0)
    qat = irq.prepare(net().eval(), (torch.randn(2, 3, 8, 8),), qconfig="default_qat_8bit", check_model=False)
    net = model(qat)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        for step in range(3):
            net(shard(data(step)[0]))
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    opt = torch.optim.SGD(qat.parameters(), lr=0.1)
    for step in range(3, 5):
        x, y = data(step)
        loss = nn.functional.cross_entropy(net(shard(x)), shard(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in qat.state_dict().items() if everything or "_quant." in k}


def main() -> None:
    rank, world, init_file, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    finished = False
    try:
        from torch.nn.parallel import DistributedDataParallel
        if sys.argv[5:] == ["convert-after"]:
            import warnings
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                run(lambda m: DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(m),
                                                      broadcast_buffers=False), lambda t: t[rank::world], net=NetBN)
            with open(os.path.join(out_dir, f"rank{rank}.txt"), "w") as f:
                f.write("\n".join(str(w.message) for w in caught))
            finished = True
            return
        if sys.argv[5:] == ["syncbn"]:
            state = run(lambda m: DistributedDataParallel(m, broadcast_buffers=False), lambda t: t[rank::world],
                        net=sync_bn_net, everything=True)
        else:
            state = run(lambda m: DistributedDataParallel(m), lambda t: t[rank::world])
        torch.save(state, os.path.join(out_dir, f"rank{rank}.pt"))
        finished = True
    finally:
        # Tear down in step: no rank destroys the group while the other still talks to it, and the DDP
        # reducers (kept alive by reference cycles) are freed while the group exists, not at interpreter
        # exit, where freeing them aborted the process ("terminate called without an active exception").
        if finished:
            dist.barrier()
        gc.collect()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
