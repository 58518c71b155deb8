"""Train one step of an irq-generated module under DistributedDataParallel, 2 processes on gloo.

Run as a script by tests/test_frontend_features.py, in its own process with a hard timeout: a
gloo process group that hangs (it once deadlocked while being torn down) then fails that test
instead of stalling the whole run. Each rank builds the same model (seeded), turns it into IR and
back into a module, runs its half of the batch and backpropagates; DDP averages the gradients.
Rank 0 saves them to `<out>/grads.pt` for the test to compare with the eager model's.

    python tests/support/ddp_worker.py OUT_DIR
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORLD_SIZE = 2
BATCH = 4


def model_and_batch():
    """The model and the full batch, identical in every process (and in the test's reference)."""
    import torch

    from tests.models import resnet

    torch.manual_seed(0)
    model = resnet.ResNet(resnet.BasicBlock)
    x = torch.randn(BATCH, 3, 32, 32)
    return model, x


def _rank_main(rank: int, out_dir: str) -> None:
    import torch
    import torch.distributed as dist
    from irq.runtime.torch import to_module
    from torch.nn.parallel import DistributedDataParallel

    import irq

    model, x = model_and_batch()
    gm = to_module(irq.import_torch(model.eval(), (x[:1],))).train()
    dist.init_process_group(
        "gloo", init_method=f"file://{os.path.join(out_dir, 'pg')}", rank=rank, world_size=WORLD_SIZE
    )
    try:
        ddp = DistributedDataParallel(gm)
        half = BATCH // WORLD_SIZE
        ddp(x[rank * half : (rank + 1) * half]).sum().backward()
        if rank == 0:
            grads = {name: p.grad.detach().clone() for name, p in gm.named_parameters()}
            torch.save(grads, os.path.join(out_dir, "grads.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def main(out_dir: str) -> None:
    import torch.multiprocessing as mp

    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback, whatever the hostname resolves to
    mp.spawn(_rank_main, args=(out_dir,), nprocs=WORLD_SIZE, join=True)


if __name__ == "__main__":
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    main(sys.argv[1])
