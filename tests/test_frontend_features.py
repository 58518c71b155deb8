"""Frontend behaviour users rely on: clear errors, warnings, irq.wrap, eager-QAT modules, the model check."""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import pytest
import torch
from irq.runtime.torch import to_module
from torch import nn

import irq
from tests.models import dynamic, eager_qat, fpn, resnet


def _ops(module, name):
    return [op for op in module.walk() if op.name == name]


def _line_of(obj, marker: str) -> int:
    lines, first = inspect.getsourcelines(obj)
    return first + next(i for i, line in enumerate(lines) if marker in line)


def test_data_dependent_control_flow_names_the_users_line():
    m = dynamic.DataDependent().eval()
    with pytest.raises(irq.FrontendError) as info:
        irq.import_torch(m, torch.randn(1, 3, 8, 8))
    e = info.value
    line = _line_of(dynamic.DataDependent.forward, "DATA-DEPENDENT BRANCH")
    assert e.filename.endswith("dynamic.py") and e.line == line
    text = str(e)
    assert f"dynamic.py:{line}:" in text
    assert "if y.mean() > 0" in text
    assert "irq.wrap" in text and "concrete_args" in text
    assert "control flow" in text


def test_training_branch_warns_with_the_line():
    m = dynamic.TrainingBranch().eval()
    line = _line_of(dynamic.TrainingBranch.forward, "TRAINING BRANCH")
    with pytest.warns(irq.TracingWarning) as record:
        module = irq.import_torch(m, torch.randn(1, 3, 8, 8))
    msgs = [str(w.message) for w in record]
    assert any(f"dynamic.py:{line}:" in msg and "self.training" in msg and "eval" in msg for msg in msgs)
    assert not _ops(module, "torch.call")  # eval branch: no randn_like


def test_no_warning_for_models_without_python_branches():
    with warnings.catch_warnings():
        warnings.simplefilter("error", irq.TracingWarning)
        irq.import_torch(resnet.ResNet(resnet.BasicBlock).eval(), torch.randn(1, 3, 32, 32))


def test_wrapped_function_stays_one_opaque_call():
    m = fpn.RetinaNetLite().eval()
    x = torch.randn(1, 3, 64, 64)
    module = irq.import_torch(m, x)
    calls = _ops(module, "torch.call")
    assert [c.target.value for c in calls] == ["tests.models.fpn.decode"]
    assert len(calls[0].results) == 2 and calls[0].results_kind.value == "tuple"
    assert len(calls[0].operands) == 6  # three levels of class logits and box deltas
    assert not _ops(module, "torch.sigmoid")  # the body was not traced
    gm = to_module(module)
    with torch.no_grad():
        for a, b in zip(m(x), gm(x)):
            assert torch.allclose(a, b, atol=1e-6)


class _WithWrappedMethod(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.offset = 0.5

    @irq.wrap()
    def post(self, y: torch.Tensor) -> torch.Tensor:
        if y.max() > 0:  # data-dependent: fine inside irq.wrap
            return y * 2 + self.offset
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.conv(x))


def test_wrapped_method_gets_self_as_a_module_reference():
    m = _WithWrappedMethod().eval()
    x = torch.randn(1, 3, 4, 4)
    module = irq.import_torch(m, x)
    (call,) = _ops(module, "torch.call")
    assert call.target.value.endswith("_WithWrappedMethod.post")
    assert '#torch.module<"">' in str(call.args)
    gm = to_module(module, modules={"": m})
    assert torch.allclose(gm(x), m(x))
    with pytest.raises(LookupError, match="modules="):
        to_module(module)


def test_float_functional_ops_are_owned_by_their_module_path():
    module = irq.import_torch(eager_qat.EagerQATNet().eval(), torch.randn(1, 3, 16, 16))
    owned = {(op.name, op.get_attr("module").value) for op in module.walk()
             if op.get_attr("module") is not None and op.name != "torch.constant"}
    assert ("torch.add", "block.skip_add") in owned
    assert ("torch.relu", "block.skip_add") in owned  # add_relu
    assert ("torch.cat", "block.cat") in owned  # torch.ao's FloatFunctional
    assert ("torch.mul_scalar", "scale") in owned
    (q,) = _ops(module, "torch.quant_stub")
    assert q.get_attr("scale").value == 1 / 128 and q.get_attr("module").value == "quant"
    assert len(_ops(module, "torch.dequant_stub")) == 1


def test_torch_ao_stubs_and_user_fused_modules_are_recognised():
    m = eager_qat.EagerQATNet(irq_stubs=False).eval()
    m.fuse_model()
    module = irq.import_torch(m, torch.randn(1, 3, 16, 16))
    assert len(_ops(module, "torch.quant_stub")) == 1 and len(_ops(module, "torch.dequant_stub")) == 1
    grouped = [op.name for op in module.walk() if op.get_attr("fused_group") is not None]
    assert grouped == ["torch.conv2d", "torch.relu"]
    report = irq.check_model(module, path=None)
    assert [e.path for e in report.fused_groups] == ["stem.0"]


def test_check_model_reports_shared_modules_and_calls(tmp_path):
    module = irq.import_torch(fpn.RetinaNetLite().eval(), torch.randn(1, 3, 64, 64))
    out = tmp_path / "model_check_result.txt"
    report = irq.check_model(module, path=out)
    shared = {s.path: s.calls for s in report.shared_modules}
    assert shared["head.cls_tower.0"] == 3 and shared["head.bbox_pred"] == 3
    assert "backbone.stages.0.0" not in shared
    assert [e.detail for e in report.torch_calls] == ["tests.models.fpn.decode"]
    assert not report.ok
    text = out.read_text()
    assert "head.cls_tower.0: called 3 times" in text and "tests.models.fpn.decode" in text


def test_check_model_flags_unsupported_ops_per_march():
    """The model check reads the march profile (the one registry): an op or a mode the profile does not list
    is reported, so what it flags is what convert refuses."""
    from irq.march_profiles import get_march, register_march

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.GroupNorm(2, 4)
            self.register_buffer("rows", torch.tensor([0, 3]))
            self.register_buffer("cols", torch.tensor([1, 5]))

        def forward(self, x):  # no shipped march runs indexing by two index tensors (ones_like converts since
            # issue 12, and maximum before it)
            return nn.functional.pad(self.norm(x)[:, self.rows, self.cols].unsqueeze(1), (1, 1), mode="reflect")

    module = irq.import_torch(M().eval(), torch.randn(2, 4, 8))
    for march in ("bayes", "nash"):
        report = irq.check_model(module, march=march, path=None)
        assert [e.op for e in report.unsupported] == ["torch.getitem"], march
    ops = {name: {"modes": list(v.modes)} if v.modes else {} for name, v in get_march("bayes").ops.items()}
    register_march({"name": "test_constant_pad_only", "ops": {**ops, "pad": {"modes": ["constant"]}}})
    mine = irq.check_model(module, march="test_constant_pad_only", path=None)
    assert [e.op for e in mine.unsupported] == ["torch.getitem", "torch.pad"]
    assert "reflect" in mine.unsupported[1].detail
    with pytest.raises(ValueError):
        irq.check_model(module, march="nope", path=None)


class _Flags(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.num_classes = 4
        self.names = ["a", "b"]

    def forward(self, x, scale=None):
        y = self.fc(x)
        if scale is not None:
            y = y * scale
        return {"logits": y, "probs": y.softmax(-1)}


def test_concrete_args_preserve_attrs_and_dict_outputs():
    m = _Flags().eval()
    x = torch.randn(2, 4)
    module = irq.import_torch(m, (x,), concrete_args={"scale": None}, preserve_attrs=["num_classes", "names"])
    assert not _ops(module, "torch.call") and not _ops(module, "torch.mul_scalar")
    gm = to_module(module)
    assert gm.num_classes == 4 and gm.names == ["a", "b"]
    out, ref = gm(x), m(x)
    assert set(out) == {"logits", "probs"} and torch.allclose(out["probs"], ref["probs"])
    with pytest.raises(irq.FrontendError, match="preserve_attrs"):
        irq.import_torch(m, (x,), concrete_args={"scale": None}, preserve_attrs=["fc"])


def test_wrong_number_of_example_inputs_is_explained():
    with pytest.raises(irq.FrontendError, match="example input"):
        irq.import_torch(resnet.ResNet(resnet.BasicBlock).eval(), (torch.randn(1, 3, 32, 32),) * 2)


def test_leaf_modules_stay_opaque_and_run_with_the_supplied_module():
    m = resnet.ResNet(resnet.BasicBlock).eval()
    x = torch.randn(1, 3, 32, 32)
    module = irq.import_torch(m, x, leaf_modules=["layer2"])
    calls = _ops(module, "torch.call")
    assert [(c.target.value, c.get_attr("module").value) for c in calls] == \
        [("torch.nn.modules.container.Sequential", "layer2")]
    gm = to_module(module, modules={"layer2": m.layer2})
    assert torch.allclose(gm(x), m(x), atol=1e-6)
    assert list(gm.state_dict()) == list(m.state_dict())


def test_generated_module_trains_and_follows_train_eval():
    m = resnet.ResNet(resnet.BasicBlock).eval()
    gm = to_module(irq.import_torch(m, torch.randn(2, 3, 32, 32)))
    assert not gm.training
    params = dict(gm.named_parameters())
    assert params.keys() == dict(m.named_parameters()).keys()
    assert all(isinstance(p, nn.Parameter) for p in params.values())
    gm.train()
    m.train()
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(gm(x), m(x), atol=1e-5)  # batch statistics in both
    assert torch.equal(gm.bn1.running_mean, m.bn1.running_mean)  # running stats updated identically
    assert int(gm.bn1.num_batches_tracked) == 1
    loss = gm(x).square().mean()
    loss.backward()
    assert gm.conv1.weight.grad is not None and gm.conv1.weight.grad.abs().sum() > 0
    opt = torch.optim.SGD(gm.parameters(), lr=0.1)
    before = gm.fc.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, gm.fc.weight)


def test_generated_module_under_ddp(tmp_path):
    """Two gloo ranks train the generated module; DDP's averaged gradients equal the eager model's.

    The ranks run in a subprocess with a hard timeout (a deadlocked process group blocks in C,
    where pytest-timeout cannot interrupt it) and tear the group down explicitly. The oracle is
    the original eager model: the mean of its gradients on the two half batches (BatchNorm
    trains on per-rank statistics, so each half is its own batch, as under DDP).
    """
    import os
    import signal

    from tests.support import ddp_worker

    worker = subprocess.Popen([sys.executable, ddp_worker.__file__, str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = worker.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker's own session: it and its ranks
        out, _ = worker.communicate()
        pytest.fail(f"DDP worker hung for 240 s:\n{out}")
    assert worker.returncode == 0, out
    grads = torch.load(tmp_path / "grads.pt")

    model, x = ddp_worker.model_and_batch()
    model.train()
    half = ddp_worker.BATCH // ddp_worker.WORLD_SIZE
    reference = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    for rank in range(ddp_worker.WORLD_SIZE):
        model.zero_grad()
        model(x[rank * half:(rank + 1) * half]).sum().backward()
        for name, p in model.named_parameters():
            reference[name] += p.grad / ddp_worker.WORLD_SIZE
    assert list(grads) == list(reference)
    for name, g in grads.items():
        assert torch.allclose(g, reference[name], rtol=1e-4, atol=1e-5), name
    assert grads["fc.weight"].abs().sum() > 0


def test_generated_module_has_no_torchscript_and_moves_dtype():
    gm = to_module(irq.import_torch(resnet.ResNet(resnet.BasicBlock).eval(), torch.randn(1, 3, 32, 32)))
    assert not isinstance(gm, torch.jit.ScriptModule)
    assert "torch.jit" not in gm.code
    gm.to(torch.float64)
    assert gm(torch.randn(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64


def test_irq_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import irq\n"
            "from irq.dialects import torch as t, hl\n"
            "@irq.wrap\n"
            "def f(x): return x\n"
            "assert f(3) == 3 and 'torch.conv2d' in t.DIALECT.ops and 'hl.conv2d' in hl.DIALECT.ops\n"
            "m = irq.parse_module('func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\\n"
            "  %0 = torch.relu %x : (tensor<2xf32>) -> tensor<2xf32>\\n  return %0 : tensor<2xf32>\\n}')\n"
            "irq.verify(m)\n"
            "print(irq.check_model(m, path=None).ok)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_executor_names_the_op_it_cannot_run():
    from irq.runtime.torch.builder import UnsupportedOpError
    m = irq.parse_module("func.func @forward(%a: tensor<2xf32>) -> tensor<2xf32> {\n"
                         "  %0 = arith.addf %a, %a : tensor<2xf32>\n"
                         "  return %0 : tensor<2xf32>\n}", filename="lowered.irq")
    with pytest.raises(UnsupportedOpError, match=r"lowered.irq:2:8: .*'arith.addf'"):
        to_module(m)


class _TiedLinears(nn.Module):
    """Two layers sharing one weight (as language models tie embeddings and output layers)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


@pytest.mark.parametrize("level, method", [("torch", "fx"), ("hl", "fx"), ("torch", "export")])
def test_tied_parameters_stay_one_parameter(level, method):
    model = _TiedLinears().eval()
    x = torch.randn(3, 4)
    module = irq.import_torch(model, (x,), method=method)
    if level == "hl":
        irq.PassManager.parse("builtin.module(func.func(functional-to-module, fuse))").run(module)
    text = irq.print_module(module)
    assert text.count('a.weight: "0x') == 1 and 'b.weight: "0x' not in text  # the data is stored once
    assert 'torch.constant {tied_key = "b.weight"} dense_resource<a.weight>' in text
    gm = to_module(irq.parse_module(text)).train()
    assert list(gm.state_dict()) == list(model.state_dict())
    assert gm.a.weight is gm.b.weight
    assert len(list(gm.parameters())) == len(list(model.parameters())) == 3
    with torch.no_grad():
        assert torch.allclose(gm(x), model(x), atol=1e-6)
    opt = torch.optim.SGD(gm.parameters(), lr=0.1)
    gm(x).sum().backward()
    opt.step()
    assert gm.a.weight is gm.b.weight and not torch.equal(gm.a.weight, model.a.weight)
