"""Run one generated model (tests/support/model_gen.py) through the whole chain and check its promises.

The chain: `irq.prepare` -> CALIBRATION -> VALIDATION -> `irq.convert` -> reference and numba runtimes.
Promises checked, each against an independent oracle:

1. CALIBRATION (observers only) computes what eager torch computes (a tracing / mapping bug);
2. VALIDATION is close to float (exp clipped to its stated output range, as the quantizer clips it): every
   output within `VALIDATION_TOLERANCE` of the float output's largest
   magnitude, or a cosine of at least `VALIDATION_COSINE` (a quantizer in the wrong place, a wrong scale);
3. the deployed program (numba) equals VALIDATION bit for bit, at the traced batch and at another one;
4. the reference runtime (numpy, the oracle) equals numba bit for bit;
5. whatever irq does not support is refused by `irq.prepare` / `irq.convert` with an error that names the
   generated file and a line in it, never another exception and never a wrong number.

`check(case)` returns an `Outcome`; a broken promise raises `ChainBroken` with the case's source in it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from irq.runtime import reference
from torch.overrides import TorchFunctionMode

import irq
from irq.qconfig import UNBOUNDED_OUTPUT_RANGE
from tests.support.model_gen import Case

#: VALIDATION vs float: max |v - f| <= tolerance * max |f| + steps * s passes outright, s the largest
#: activation scale of the model (an output smaller than a few steps of it is rounding, not a bug); otherwise
#: the cosine must hold. Random DAGs chain up to 8 quantized ops (softmax, division, int8 everywhere), so the
#: bound is loose on purpose: it catches a quantizer at a wrong scale (errors of the size of the value).
VALIDATION_TOLERANCE = 0.15
VALIDATION_STEPS = 2.0
VALIDATION_COSINE = 0.95
#: floor / trunc quotients jump by 1 where the float quotient crosses an integer: one input step of rounding
#: moves an output by a whole quotient unit (seed 40115: 1 against a peak of 2), so no bound in input steps
#: holds; such cases are still checked deployed == VALIDATION bit for bit
DISCONTINUOUS = {"div_rounded", "div_scalar_rounded", "floordiv_scalar"}


class ChainBroken(AssertionError):
    """A promise of the chain does not hold for a generated case."""


@dataclass
class Outcome:
    status: str        # "ok" or "refused"
    detail: str = ""   # the refusal's message


class _StatedOutputRanges(TorchFunctionMode):
    """Float torch with exp's output clipped to its stated range (irq.qconfig.UNBOUNDED_OUTPUT_RANGE, 64:
    horizon clips exp the same way), the float model VALIDATION approximates: without it an exp of a value
    above ln 64 ~ 4.2 saturates in VALIDATION by design, and the harness called it far from float (seed
    10150: exp of a relu output up to 5.7, float 293.6, VALIDATION 64.7, max err 228.8)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in (torch.exp, torch.Tensor.exp):
            r = UNBOUNDED_OUTPUT_RANGE["exp"]
            out = out.clamp(-r, r)
        return out


def _leaves(y) -> list[np.ndarray]:
    if isinstance(y, (tuple, list)):
        return [leaf for item in y for leaf in _leaves(item)]
    return [np.asarray(y.detach().numpy() if isinstance(y, torch.Tensor) else y)]


def _names_the_line(case: Case, text: str) -> bool:
    return re.search(re.escape(case.filename) + r":\d+", text) is not None


def _fail(case: Case, what: str) -> ChainBroken:
    return ChainBroken(f"{what}\n--- {case.describe()}")


def check(case: Case, calibration_batches: int = 3) -> Outcome:
    model = case.build()
    g = torch.Generator().manual_seed(case.seed + 7)
    x = case.sample(case.batch, g)
    other = case.sample(case.other_batch, g)
    try:
        qat = irq.prepare(model, x, qconfig=case.qconfig(), march=case.march, check_model=False)
    except Exception as e:  # noqa: BLE001 - classified below
        return _refusal(case, "prepare", e)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.CALIBRATION)
    with torch.no_grad():
        eager = _leaves(model(*x))
        with _StatedOutputRanges():
            stated = _leaves(model(*x))
        calibration = _leaves(qat(*x))
        if len(calibration) != len(eager):
            raise _fail(case, f"CALIBRATION returns {len(calibration)} outputs, eager {len(eager)}")
        for i, (c, e) in enumerate(zip(calibration, eager)):
            scale = max(float(np.abs(e).max()), 1e-3)
            if c.shape != e.shape or not np.allclose(c, e, rtol=1e-4, atol=1e-5 * scale):
                raise _fail(case, f"output {i}: CALIBRATION differs from eager torch "
                                  f"(shapes {c.shape} / {e.shape}, max diff {_maxdiff(c, e)})")
        for _ in range(calibration_batches):
            qat(*case.sample(case.batch, g, gain=1.2))
        qat(*x)
    if case.qat_steps:
        _train(qat, case, g)
    qat.eval()
    irq.set_fake_quantize(qat, irq.FakeQuantState.VALIDATION)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            validation = _leaves(qat(*x))
            validation_other = _leaves(qat(*other))
        except Exception as e:  # noqa: BLE001
            return _refusal(case, "VALIDATION", e)
    step = max((float(t.abs().max()) for k, t in qat.state_dict().items()
                if k.endswith(".scale") and ".weight_quant." not in k), default=0.0)
    for i, (v, e) in enumerate(zip(validation, stated)):
        # QAT moved the weights and batch-norm statistics away from the float model's
        if not case.qat_steps and not DISCONTINUOUS.intersection(case.ops):
            _close_to_float(case, i, v, e, step)
    try:
        program = irq.convert(qat, march=case.march)
    except Exception as e:  # noqa: BLE001
        return _refusal(case, "convert", e)
    xs = [t.numpy() for t in x]
    for inputs, want, label in ((xs, validation, "traced batch"),
                                ([t.numpy() for t in other], validation_other, "other batch")):
        try:
            deployed = _leaves(irq.run(program, *inputs))
        except Exception as e:  # noqa: BLE001
            raise _fail(case, f"numba runtime raised at the {label}: {type(e).__name__}: {e}") from e
        if len(deployed) != len(want):
            raise _fail(case, f"{label}: deployed has {len(deployed)} outputs, VALIDATION {len(want)}")
        for i, (d, v) in enumerate(zip(deployed, want)):
            if d.shape != v.shape or d.dtype != v.dtype or not np.array_equal(d, v):
                raise _fail(case, f"{label} output {i}: deployed != VALIDATION "
                                  f"({_count_diff(d, v)}, max diff {_maxdiff(d, v)})")
    try:
        ref = _leaves(reference.run(program, *xs))
    except Exception as e:  # noqa: BLE001
        raise _fail(case, f"reference runtime raised: {type(e).__name__}: {e}") from e
    for i, (r, v) in enumerate(zip(ref, validation)):
        if r.shape != v.shape or not np.array_equal(r, v):
            raise _fail(case, f"output {i}: reference runtime != numba ({_count_diff(r, v)})")
    return Outcome("ok")


def _train(qat: torch.nn.Module, case: Case, g: torch.Generator) -> None:
    """A few QAT steps (train mode, fake quantization, SGD on the outputs' mean square): what a user does
    between calibration and validation; VALIDATION and deployment must still agree afterwards."""
    qat.train()
    irq.set_fake_quantize(qat, irq.FakeQuantState.QAT)
    params = [p for p in qat.parameters() if p.requires_grad]
    if not params:
        return
    opt = torch.optim.SGD(params, lr=1e-3)
    for _ in range(case.qat_steps):
        outputs = [y for y in _tensors(qat(*case.sample(case.batch, g))) if y.requires_grad]
        if not outputs:
            return  # no output depends on a parameter (the model only moves its input)
        loss = sum(y.float().pow(2).mean() for y in outputs)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _tensors(y) -> list[torch.Tensor]:
    if isinstance(y, (tuple, list)):
        return [t for item in y for t in _tensors(item)]
    return [y]


def _close_to_float(case: Case, i: int, v: np.ndarray, f: np.ndarray, step: float) -> None:
    if v.shape != f.shape:
        raise _fail(case, f"output {i}: VALIDATION shape {v.shape}, float {f.shape}")
    if not np.isfinite(v).all():
        raise _fail(case, f"output {i}: VALIDATION is not finite")
    peak = float(np.abs(f).max())
    err = float(np.abs(v.astype(np.float64) - f).max())
    if err <= VALIDATION_TOLERANCE * peak + VALIDATION_STEPS * step:
        return
    a, b = v.ravel().astype(np.float64), f.ravel().astype(np.float64)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    cosine = float(a @ b / denom) if denom > 0 else 0.0
    if cosine < VALIDATION_COSINE:
        raise _fail(case, f"output {i}: VALIDATION far from float: max err {err:.4g} against peak {peak:.4g}, "
                          f"cosine {cosine:.4f}, largest activation scale {step:.4g}")


def _refusal(case: Case, stage: str, e: Exception) -> Outcome:
    """A refusal is fine when it is a clear error naming a line of the model; anything else is a crash."""
    text = f"{type(e).__name__}: {e}"
    if _names_the_line(case, text):
        return Outcome("refused", f"{stage}: {text}")
    raise _fail(case, f"{stage} raised without naming the model's line: {text}") from e


def _maxdiff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return "n/a"
    return f"{float(np.abs(a.astype(np.float64) - b).max()):.4g}"


def _count_diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shapes {a.shape} / {b.shape}"
    return f"{int((a != b).sum())}/{a.size} elements differ"
