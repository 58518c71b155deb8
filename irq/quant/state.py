"""set_fake_quantize and the checks that catch the FAQ's three common mistakes.

horizon_plugin_pytorch's state machine (../shared/reference/eager-qat-quick-start.txt):
CALIBRATION needs model.eval() and switches the fake-quant modules themselves to train mode so
their observers run while batch norm and dropout stay in inference mode; QAT needs
model.train(); VALIDATION needs model.eval(). Observers run only in fake-quant modules that are
in train mode, so `model.backbone.eval()` after set_fake_quantize freezes just the backbone's
quantization state (the multi-task case of the FAQ).

The three mistakes the FAQ lists are silent in horizon; here the first forward after each one
warns (QuantizationWarning) and names the fix:

1. forward in train() mode without set_fake_quantize: that is QAT, not calibration;
2. forward in eval() mode without set_fake_quantize: observers see nothing, scales stay 1;
3. set_fake_quantize(CALIBRATION) then model.eval(): the observers were switched off again.

Validating with observers that never saw data (scales still 1) warns too, naming them.

Two structural mistakes are caught at the first forward as well: a model changed after prepare (a module
replaced, e.g. by SyncBatchNorm) raises, naming the fix (change the float model, then prepare again);
and training under torch.distributed with batch norms that were not SyncBatchNorm at prepare warns that
their statistics are per rank. torch.nn.SyncBatchNorm.convert_sync_batchnorm applied to the prepared
module changes nothing (its batch norms are fused into conv ops, no BatchNorm modules are left), so
this warning is how that mistake shows.
"""

from __future__ import annotations

import warnings

from torch import nn

from irq.quant.fake_quantize import FakeQuantize, FakeQuantState


class QuantizationWarning(UserWarning):
    """A quantization flow mistake that does not stop the run but makes its numbers wrong."""


def fake_quant_modules(model: nn.Module) -> list[FakeQuantize]:
    return [m for m in model.modules() if isinstance(m, FakeQuantize)]


def set_fake_quantize(model: nn.Module, state: FakeQuantState | str) -> None:
    """Put every fake-quant module of `model` in `state`, with horizon's asserts."""
    state = FakeQuantState(state.value if isinstance(state, FakeQuantState) else str(state).lower())
    if state is FakeQuantState.QAT:
        assert model.training, "Call model.train() before set fake quant to QAT mode."
    elif state is FakeQuantState.CALIBRATION:
        assert not model.training, "Call model.eval() before set fake quant to CALIBRATION mode."
    else:
        assert not model.training, "Call model.eval() before set fake quant to VALIDATION mode."
    fqs = fake_quant_modules(model)
    if not fqs:
        raise ValueError("the model has no fake-quant modules: pass the module irq.prepare returned")
    for fq in fqs:
        fq.state = state
        if state is FakeQuantState.CALIBRATION:
            fq.train()
    for m in model.modules():
        checker = getattr(m, "_irq_state_checker", None)
        if checker is not None:
            checker.reset()


class StateChecker:
    """A forward pre-hook on the prepared module: warns once per mistake (see the module docstring)."""

    def __init__(self) -> None:
        self.warned: set[str] = set()
        self._unsynced: list[str] | None = None

    def reset(self) -> None:
        self.warned.clear()

    def _warn(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            warnings.warn(message, QuantizationWarning, stacklevel=4)

    def __call__(self, model: nn.Module, args) -> None:
        from irq.quant.prepare import check_unchanged
        check_unchanged(model)
        if model.training:
            self._check_batch_norm_sync(model)
        fqs = [fq for fq in fake_quant_modules(model) if not fq.is_marker]
        if not fqs:
            return
        observed_act = [fq for fq in fqs if fq.observer is not None and not fq.follows_tensor]
        states = {fq.state for fq in fqs}
        if states == {None}:
            if model.training:
                self._warn("train-unset", "forward in train() mode before irq.set_fake_quantize: this runs QAT "
                           "(observers and fake quantization), not calibration. To calibrate: model.eval(); "
                           "irq.set_fake_quantize(model, irq.FakeQuantState.CALIBRATION)")
            elif observed_act and all(int(fq.observed) == 0 for fq in observed_act):
                self._warn("eval-unset", "forward in eval() mode before irq.set_fake_quantize: the observers see no "
                           "data and every scale stays at its initial value 1. To calibrate: "
                           "irq.set_fake_quantize(model, irq.FakeQuantState.CALIBRATION) after model.eval()")
        elif FakeQuantState.CALIBRATION in states and observed_act and not any(fq.training for fq in observed_act):
            self._warn("eval-after-calibration", "model.eval() was called after irq.set_fake_quantize(model, "
                       "CALIBRATION): the observers are off again and the scales do not change. Call "
                       "irq.set_fake_quantize(model, irq.FakeQuantState.CALIBRATION) after model.eval()")
        elif states == {FakeQuantState.VALIDATION}:
            blind = [fq.path for fq in observed_act if int(fq.observed) == 0]
            if blind:
                shown = ", ".join(blind[:5]) + (f" and {len(blind) - 5} more" if len(blind) > 5 else "")
                self._warn("validation-uncalibrated", f"validating with {len(blind)} observer(s) that saw no data "
                           f"(scale still 1): {shown}. Calibrate first: model.eval(); irq.set_fake_quantize(model, "
                           "irq.FakeQuantState.CALIBRATION); run batches")


    def _check_batch_norm_sync(self, model: nn.Module) -> None:
        import torch.distributed as dist
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        if self._unsynced is None:
            self._unsynced = unsynced_batch_norms(model)
        if self._unsynced:
            shown = ", ".join(self._unsynced[:5]) + (f" and {len(self._unsynced) - 5} more"
                                                     if len(self._unsynced) > 5 else "")
            self._warn("per-rank-batch-norm", f"training under torch.distributed ({dist.get_world_size()} ranks) "
                       f"with batch norms that compute per-rank statistics: {shown}. To synchronise them, convert "
                       "the float model before prepare: model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model); "
                       "qat_model = irq.prepare(model, ...). (convert_sync_batchnorm on the prepared module changes "
                       "nothing: its batch norms are fused into conv ops.)")


def unsynced_batch_norms(model: nn.Module) -> list[str]:
    """Owners of the batch norms of a prepared model that use batch statistics in training and are not
    synchronised across ranks (not SyncBatchNorm at prepare)."""
    from irq.quant.prepare import ir_of
    found = []
    for op in ir_of(model).walk():
        if op.name in ("hl.batch_norm", "torch.batch_norm"):
            fixed, sync, owner = op.get_attr("training"), op.get_attr("sync"), op.get_attr("owner")
        elif op.dialect_name == "hl" and op.get_attr("bn_eps") is not None:
            fixed, sync, owner = op.get_attr("bn_training"), op.get_attr("bn_sync"), op.get_attr("bn_owner")
        else:
            continue
        if (fixed is not None and not fixed.value) or (sync is not None and sync.value):
            continue
        found.append(owner.value if owner is not None else op.name)
    return found


def install_state_checker(model: nn.Module) -> None:
    checker = StateChecker()
    model.__dict__["_irq_state_checker"] = checker
    model.register_forward_pre_hook(checker)
