"""Run one generated model (tests/support/model_gen.py) through the whole chain and check its promises.

The chain: `irq.prepare` -> CALIBRATION -> VALIDATION -> `irq.convert` -> reference and numba runtimes.
Promises checked, each against an independent oracle:

1. CALIBRATION (observers only) computes what eager torch computes (a tracing / mapping bug);
2. VALIDATION is close to float (exp clipped to its stated output range, as the quantizer clips it): every
   output element within `VALIDATION_TOLERANCE` of the float output's largest magnitude plus two steps, or
   within its own rounding budget (`rounding_budget`: what the roundings of the program's quantizers, carried
   through the model, can add up to at that element): a quantizer in the wrong place, a wrong scale, a
   dropped op;
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
#: activation scale of the model (an output smaller than a few steps of it is rounding, not a bug); an element
#: beyond it must be within BUDGET_FACTOR times its own rounding budget (`rounding_budget`). Random DAGs chain
#: up to 8 quantized ops (softmax, division, int8 everywhere), so the first bound is loose on purpose; the
#: budget replaced a fallback on the cosine, which a wrong scale passes (every requantize shift off by one
#: halves the outputs: cosine 1.0; tests/test_chain_fuzz.py).
VALIDATION_TOLERANCE = 0.15
VALIDATION_STEPS = 2.0
#: the factor covers the second-order terms a first-order budget omits
BUDGET_FACTOR = 2.0
#: at most this many elements per output get a budget (one backward each), the largest errors first; an
#: output with more elements beyond the first bound fails
BUDGET_ELEMENTS = 2048
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
    # QAT moved the weights and batch-norm statistics away from the float model's
    if not case.qat_steps and not DISCONTINUOUS.intersection(case.ops):
        check_close_to_float(case, qat, x, validation, stated)
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


def check_close_to_float(case: Case, qat: torch.nn.Module, x: tuple[torch.Tensor, ...], validation: list[np.ndarray],
                         stated: list[np.ndarray]) -> None:
    """Promise 2: every VALIDATION output element is within the peak-and-steps bound of float, or within
    BUDGET_FACTOR times its rounding budget (`rounding_budget`)."""
    step = max((float(t.abs().max()) for k, t in qat.state_dict().items()
                if k.endswith(".scale") and ".weight_quant." not in k), default=0.0)
    far = _beyond_the_bound(validation, stated, step)
    budgets = rounding_budget(qat, x, far) if far else {}
    for i, (v, e) in enumerate(zip(validation, stated)):
        _close_to_float(case, i, v, e, step, far.get(i), budgets.get(i))


def _bound(f: np.ndarray, step: float) -> float:
    return VALIDATION_TOLERANCE * float(np.abs(f).max(initial=0.0)) + VALIDATION_STEPS * step


def _beyond_the_bound(validation: list[np.ndarray], stated: list[np.ndarray], step: float) -> dict[int, np.ndarray]:
    """Per output: the flat indices of the elements whose error exceeds the peak-and-steps bound, largest
    error first, at most BUDGET_ELEMENTS (outputs of another shape are left to `_close_to_float`)."""
    far = {}
    for i, (v, f) in enumerate(zip(validation, stated)):
        if v.shape != f.shape or not np.isfinite(v).all():
            continue
        err = np.abs(v.astype(np.float64) - f).ravel()
        idx = np.flatnonzero(err > _bound(f, step))
        if idx.size:
            far[i] = idx[np.argsort(-err[idx], kind="stable")][:BUDGET_ELEMENTS]
    return far


def rounding_budget(qat: torch.nn.Module, x: tuple[torch.Tensor, ...],
                    elements: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The error VALIDATION may have against float at the given elements, from the scales in the program.

    Every quantizer q (an op's output, a weight) replaces each value it sees by the nearest code, moving it by
    at most half its step, s_q / 2 (s_q per channel for per-channel scales); inside its clip range that is all
    it does. To first order the output element y_k then moves by at most

        budget_k = sum over quantizers q, elements i of q:  |d y_k / d x_{q,i}| * s_q[i] / 2

    (the triangle inequality over every rounding, each carried to y_k by the float model's derivative at the
    float values). This is the per-op error budget: an op whose output is quantized adds its s/2, scaled by
    how strongly the rest of the model amplifies it. It covers what a bound in steps of the largest scale
    cannot: a normalization over a group whose spread sigma is below one input step (the derivative is
    ~1/sigma, so the budget is ~ s_in / (2 sigma), seed 30424), and a sum of n values whose float value is 0
    (n s_in / 2 however small the sum, seed 30323). A wrong number (a dropped relu: the derivative behind it
    is 0 where float is 0; a shift off by one: an error of the size of the value) gets no budget.

    The derivatives are taken by adding a zero probe after every quantizer, with exp clipped to its stated
    range as the float oracle is, at both ends of the segment from float to quantized values: the model in
    CALIBRATION (float, equal to eager torch) and in QAT (the rounded values, straight-through derivatives),
    keeping the larger per element. The error is the derivative at some point of that segment times the
    roundings (mean value theorem); its two ends stand in for the whole segment, a heuristic that covers the
    case first order misses: at float alone, a normalized group whose codes all collapse onto one value (seed
    30424) has a maximal element whose derivative is near 0, while at the collapsed point it is ~1/sqrt(eps).
    One backward per element asked for. Saturation at a clip range is not rounding and gets no budget (the
    peak-proportional tolerance covers it). Returns, per output index, the budgets of `elements[i]`."""
    from irq.quant.fake_quantize import FakeQuantize

    probes: list[tuple[torch.Tensor, torch.Tensor]] = []

    def probe(m: FakeQuantize, _args, out: torch.Tensor) -> torch.Tensor:
        p = torch.zeros_like(out, requires_grad=True)
        probes.append((p, m._view(m.scale.detach().double(), out) / 2))
        return out + p

    budgets = {i: np.zeros(len(idx)) for i, idx in elements.items()}
    quantizers = [m for m in qat.modules() if isinstance(m, FakeQuantize)]
    states = [m.state for m in quantizers]
    hooks = [m.register_forward_hook(probe) for m in quantizers if not m.is_marker]
    try:
        for state in (irq.FakeQuantState.CALIBRATION, irq.FakeQuantState.QAT):
            probes.clear()
            for m in quantizers:  # set directly: the model stays in eval mode (no observing, BN statistics kept)
                m.state = state
            with torch.enable_grad(), _StatedOutputRanges(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "CALIBRATION in eval mode": intended, nothing is observed
                ys = _tensors(qat(*x))
            for i, idx in elements.items():
                y = ys[i].reshape(-1) if isinstance(ys[i], torch.Tensor) else None
                if y is None or not y.requires_grad:
                    continue
                for j, k in enumerate(idx):
                    grads = torch.autograd.grad(y[int(k)], [p for p, _ in probes], retain_graph=True,
                                                allow_unused=True)
                    b = sum(float((g.double().abs() * h).sum()) for g, (_, h) in zip(grads, probes) if g is not None)
                    budgets[i][j] = max(budgets[i][j], b)
    finally:
        for h in hooks:
            h.remove()
        for m, state in zip(quantizers, states):
            m.state = state
    return budgets


def _close_to_float(case: Case, i: int, v: np.ndarray, f: np.ndarray, step: float,
                    far: np.ndarray | None = None, budget: np.ndarray | None = None) -> None:
    """`far`: the elements beyond the peak-and-steps bound (largest error first), `budget` their rounding
    budgets; the output passes when every such element is within BUDGET_FACTOR of its budget."""
    if v.shape != f.shape:
        raise _fail(case, f"output {i}: VALIDATION shape {v.shape}, float {f.shape}")
    if not np.isfinite(v).all():
        raise _fail(case, f"output {i}: VALIDATION is not finite")
    peak = float(np.abs(f).max(initial=0.0))
    errs = np.abs(v.astype(np.float64) - f).ravel()
    err = float(errs.max(initial=0.0))
    if err <= _bound(f, step):
        return
    beyond = int((errs > _bound(f, step)).sum())
    if far is None or budget is None or far.size < beyond:
        raise _fail(case, f"output {i}: VALIDATION far from float: max err {err:.4g} against peak {peak:.4g}, "
                          f"{beyond} element(s) beyond {VALIDATION_TOLERANCE} x peak + {VALIDATION_STEPS} steps of "
                          f"{step:.4g}, more than the {BUDGET_ELEMENTS} given a rounding budget")
    over = int((errs[far] > BUDGET_FACTOR * budget).sum())
    if over:
        raise _fail(case, f"output {i}: VALIDATION far from float: max err {err:.4g} against peak {peak:.4g}, "
                          f"largest activation scale {step:.4g}, {over} element(s) beyond {BUDGET_FACTOR} x their "
                          f"rounding budget")


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
