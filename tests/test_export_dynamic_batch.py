"""method="export" keeps the batch dimension dynamic, as method="fx" does.

torch.export used to bake the example's batch into every `view(b, n, heads, d)`: the prepared module
then failed at any other batch (and MiniLM's benchmark had to measure at the calibration batch). The
batch is now exported as `Dim.AUTO`, the sizes it feeds become `torch.size` operands, and the
prepared module, VALIDATION and the converted program (numba runtime) run batch 1 and 3 from a model
exported at batch 4, equal to per-sample runs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from irq.runtime import numba as numba_runtime

import irq
from irq.workflow import prepare_calibrated
from tests.models.bert_encoder import Encoder, random_batch
from tests.models.transformer import TinyEncoder


@pytest.fixture(scope="module")
def exported():
    torch.manual_seed(0)
    model = Encoder.random(layers=1).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat = prepare_calibrated(model, random_batch(4)[:2], [random_batch(16, seed=1)[:2]], method="export",
                                 check_model=False)
        program = irq.convert(qat)
    return model, qat, program


def test_reshape_sizes_are_traced_not_the_example_batch():
    module = irq.import_torch(TinyEncoder().eval(), (torch.randn(4, 7, 32),), method="export")
    views = [op for op in module.walk() if op.name in ("torch.view", "torch.reshape")]
    assert views and all(op.operands[1:] for op in views), "a reshape kept the example's batch as a constant"
    sizes = [op for op in module.walk() if op.name == "torch.size"]
    assert sizes and all(op.get_attr("dim").value == 0 for op in sizes)
    assert all("scope" not in op.attributes or op.get_attr("scope").value == "" for op in sizes)


def test_float_import_runs_other_batches():
    from irq.runtime.torch import to_module
    torch.manual_seed(1)
    model = TinyEncoder().eval()
    gm = to_module(irq.import_torch(model, (torch.randn(4, 7, 32),), method="export"))
    for n in (1, 3):
        x = torch.randn(n, 7, 32)
        with torch.no_grad():
            torch.testing.assert_close(gm(x), model(x), atol=1e-5, rtol=1e-5)


def test_validation_at_batch_1_and_3_equals_per_sample_runs(exported):
    _, qat, _ = exported
    x, bias, _ = random_batch(3, seed=2)
    with torch.no_grad():
        whole = qat(x, bias)
        single = torch.cat([qat(x[i:i + 1], bias[i:i + 1]) for i in range(3)])
    assert whole.shape == (3, 8, 32)
    torch.testing.assert_close(whole, single, atol=0, rtol=0)


def test_program_at_batch_1_and_3_equals_validation_and_per_sample_runs(exported):
    _, qat, program = exported
    x, bias, _ = random_batch(3, seed=3)
    with torch.no_grad():
        val = qat(x, bias).numpy()
    run = numba_runtime.compile(program)
    whole = run(x.numpy(), bias.numpy())
    np.testing.assert_array_equal(whole, val)
    for i in range(3):
        np.testing.assert_array_equal(run(x[i:i + 1].numpy(), bias[i:i + 1].numpy()), val[i:i + 1])
