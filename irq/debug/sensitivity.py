"""irq.debug.sensitivity: which owners hurt the output most when quantized alone, or gain most from int16.

Each owner's quantizers (its weight and its output) fake-quantize (QAT mode) while every other
quantizer passes float through, and the model output is compared with float. Owners are ranked worst first:
the top of the list is where int16, a better scale or leaving the op in float pays most. Quantizing
one owner at a time separates an owner's own damage from the error it inherits (what `compare`
alone cannot do). Fake quantization, not VALIDATION, is used on purpose: VALIDATION's integer
emulation of an op reads its producers' scales too (an add rescales its operands), which would blame
an owner for its producer's scale. The model's quantization state is left exactly as found.

`mode="int16"` asks the mixed-precision question instead (what horizon_plugin_pytorch users ask its
debug tools): with every quantizer fake-quantizing as calibrated (int8), raise one owner's activation
quantizers to int16 at a time and rank owners by the output cosine gained over the all-int8 model. The
two rankings differ: "quantized alone" measures an owner's damage on a float model, "raised to int16"
measures what widening it recovers once everything else is int8 too (an owner whose noise the next
layers amplify, or whose error adds to its neighbours', ranks higher here). The int16 scale is the one
calibration with the owner's observer at int16 would choose: an MSE observer searches its histogram
again for the 16-bit grid (clipping less), any other keeps the calibrated clip range (256x finer steps).
Weights stay int8, as `irq.quant.mixed_precision` widens only outputs.

The ranking is a list (worst first) that also prints itself (`table()`), says what to try
(`suggestions()`: int16 or float for the owners that cost most, or `irq.quant.mixed_precision`, which
does it under a budget) and writes `sensitivity.csv` and `sensitivity.png` with `out_dir=`, as
`irq.debug.compare` does."""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from irq.debug.capture import run_recording
from irq.debug.compare import DEFAULT_THRESHOLD, _outputs_cosine
from irq.debug.metrics import l1_error
from irq.fixedpoint import qrange
from irq.quant.fake_quantize import FakeQuantize
from irq.quant.observers import MSEObserver
from irq.quant.state import fake_quant_modules


@dataclass
class SensitivityRow:
    owner: str
    #: model output cosine vs float when only this owner is quantized
    output_cosine: float
    #: mean absolute error of the (first) model output
    output_l1: float
    #: mode "int16": output cosine gained over the all-int8 model by raising this owner alone to int16
    gain: float | None = None


class SensitivityReport(list):
    """The ranking (a list of SensitivityRow, worst first) with its table, advice and files."""

    def __init__(self, rows: list[SensitivityRow], threshold: float = DEFAULT_THRESHOLD, mode: str = "int8",
                 baseline_cosine: float | None = None) -> None:
        super().__init__(rows)
        self.threshold = threshold
        self.mode = mode
        #: mode "int16": the output cosine of the all-int8 model the gains are measured from
        self.baseline_cosine = baseline_cosine
        self.files: dict[str, str] = {}

    def table(self) -> str:
        if self.mode == "int16":
            lines = [f"all int8: output cosine {self.baseline_cosine:.6f}; one owner at a time raised to int16:",
                     f"{'owner':<32} {'output cosine':>13} {'gain':>10} {'output L1':>10}"]
            lines += [f"{r.owner:<32} {r.output_cosine:>13.6f} {r.gain:>+10.6f} {r.output_l1:>10.4g}" for r in self]
            return "\n".join(lines + self.suggestions())
        lines = [f"{'owner':<32} {'output cosine':>13} {'output L1':>10}"]
        lines += [f"{r.owner:<32} {r.output_cosine:>13.6f} {r.output_l1:>10.4g}" for r in self]
        return "\n".join(lines + self.suggestions())

    def suggestions(self, limit: int = 3) -> list[str]:
        """Plain words for the owners that alone take the output below the threshold, worst first (mode
        "int16": the owners whose int16 output gains most, when it gains anything)."""
        if self.mode == "int16":
            return self._int16_suggestions(limit)
        worst = [r for r in self if r.output_cosine < self.threshold][:limit]
        tips = [f"{r.owner}: quantized alone it takes the output cosine to {r.output_cosine:.4f}; give it int16 "
                f"(qconfig rule {{\"{r.owner}\": \"default_qat_16bit\"}}) or keep it in float "
                f"({{\"{r.owner}\": \"float\"}})" for r in worst]
        if len(worst) > 1:
            tips.append("irq.quant.mixed_precision(model, inputs, batches, budget=N) gives int16 outputs to the N "
                        "owners this ranking puts first, skipping those the march cannot run in int16")
        return tips

    def _int16_suggestions(self, limit: int) -> list[str]:
        # owners whose gain is a tenth of the best one or more: the rest is within the inputs' noise
        top = max((r.gain for r in self if r.gain is not None), default=0.0)
        best = [r for r in self if r.gain is not None and r.gain > 0 and r.gain >= 0.1 * top][:limit]
        tips = [f"{r.owner}: an int16 output raises the output cosine from {self.baseline_cosine:.6f} to "
                f"{r.output_cosine:.6f} ({r.gain:+.6f}); qconfig rule {{\"{r.owner}\": \"default_calib_16bit\"}} "
                "(its readers must take int16 on your march: nash convs do, bayes convs do not)" for r in best]
        if best:
            tips.append("irq.quant.mixed_precision(model, inputs, batches, budget=N, ranking=\"int16\") gives int16 "
                        "outputs to the N owners this ranking puts first, skipping those the march cannot run in int16")
        return tips

    def write_csv(self, path: str | os.PathLike) -> str:
        from irq.output_file import write_text
        buffer = io.StringIO()
        names = [f.name for f in fields(SensitivityRow) if self.mode == "int16" or f.name != "gain"]
        writer = csv.DictWriter(buffer, fieldnames=names)
        writer.writeheader()
        for r in self:
            writer.writerow({k: v for k, v in asdict(r).items() if k in names})
        write_text(path, buffer.getvalue())
        self.files["csv"] = os.fspath(path)
        return os.fspath(path)

    def plot(self, path: str | os.PathLike) -> str:
        """A PNG bar chart of the output cosine with each owner alone quantized, worst at the top (mode
        "int16": of the cosine each owner's int16 output gains, largest at the top)."""
        try:
            import matplotlib
        except ImportError as e:  # optional dependency
            raise ImportError("irq.debug plots need matplotlib: pip install 'irq[debug]'") from e
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7.0, max(2.5, 0.3 * len(self) + 1.0)))
        ys = range(len(self))
        if self.mode == "int16":
            ax.barh(ys, [r.gain for r in self], color="tab:green")
            ax.set_xlabel(f"output cosine gained by this owner's int16 output (all int8: {self.baseline_cosine:.4f})")
        else:
            ax.barh(ys, [1.0 - r.output_cosine for r in self], color="tab:red")
            ax.axvline(1.0 - self.threshold, color="grey", linestyle="--", label=f"threshold {self.threshold}")
            ax.set_xlabel("1 - output cosine vs float, this owner alone quantized")
            ax.legend(fontsize=7)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([r.owner for r in self], fontsize=7)
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(os.fspath(path), format="png")
        plt.close(fig)
        self.files["png"] = os.fspath(path)
        return os.fspath(path)


def _owners(qat_model: nn.Module, widenable: bool = False) -> list[str]:
    """Owners with a quantizer (widenable: with an int8 activation quantizer that int16 would change)."""
    seen: dict[str, None] = {}
    for fq in fake_quant_modules(qat_model):
        if fq.is_marker or (widenable and (fq.slot == "weight" or fq.dtype != "qint8")):
            continue
        seen.setdefault(fq.owner or fq.path, None)
    return list(seen)


def _int16_scale(fq: FakeQuantize) -> torch.Tensor:
    """The scale an int16 calibration of `fq` would pick (see the module docstring)."""
    lo, hi = qrange("i16")
    obs = fq.observer
    if isinstance(obs, MSEObserver) and obs.hist is not None:
        wide = MSEObserver(hi)
        wide.hist, wide.range = obs.hist, obs.range
        absmax = torch.tensor(wide.choose(fq), dtype=torch.float32)
    else:
        absmax = fq.scale.detach().float() * fq.qmax
    return torch.clamp(absmax / hi, min=2.0**-24).reshape(fq.scale.shape)


@contextlib.contextmanager
def _widened(qat_model: nn.Module, owner: str) -> Iterator[None]:
    """`owner`'s int8 activation quantizers round to int16 inside the block (scale, qmin and qmax restored)."""
    lo, hi = qrange("i16")
    changed = []
    for fq in fake_quant_modules(qat_model):
        if (fq.owner or fq.path) == owner and fq.slot != "weight" and not fq.is_marker and fq.dtype == "qint8":
            changed.append((fq, fq.qmin, fq.qmax, fq.scale.detach().clone()))
            with torch.no_grad():
                fq.scale.copy_(_int16_scale(fq))
            fq.qmin, fq.qmax = lo, hi
    try:
        yield
    finally:
        for fq, qmin, qmax, scale in changed:
            fq.qmin, fq.qmax = qmin, qmax
            with torch.no_grad():
                fq.scale.copy_(scale)


def _first(y: Any) -> Any:
    return y[0] if isinstance(y, (tuple, list)) else y


def sensitivity(qat_model: nn.Module, inputs: Any, *, owners: list[str] | None = None, mode: str = "int8",
                threshold: float = DEFAULT_THRESHOLD, out_dir: str | os.PathLike | None = None,
                name: str = "sensitivity") -> SensitivityReport:
    """Rank owners by the output cosine when each is the only quantized one (lowest first), or with
    mode="int16" by the output cosine gained when each alone is raised to int16 (largest gain first).

    inputs: one batch (a tensor or numpy array, or a tuple of the forward's inputs). owners: the owners
    to rank (default: all; mode "int16": all with an int8 activation quantizer). threshold: the output
    cosine below which `suggestions()` names an owner (mode "int8"). out_dir: when given, writes
    `<name>.csv` and `<name>.png` there."""
    if mode not in ("int8", "int16"):
        raise ValueError(f"irq.debug.sensitivity: mode must be 'int8' or 'int16', got {mode!r}")
    owners = _owners(qat_model, widenable=mode == "int16") if owners is None else owners
    if not owners:
        raise ValueError("irq.debug.sensitivity: the model has no fake-quant modules; pass the module "
                         "irq.prepare returned")
    y_float, _ = run_recording(qat_model, inputs, lambda fq: "float")
    if mode == "int16":
        report = _int16_ranking(qat_model, inputs, owners, y_float, threshold)
        if out_dir is not None:
            _write(report, out_dir, name)
        return report
    rows = []
    for owner in owners:
        y, _ = run_recording(qat_model, inputs,
                             lambda fq, o=owner: "qat" if (fq.owner or fq.path) == o else "float")
        rows.append(SensitivityRow(owner=owner, output_cosine=_outputs_cosine(y_float, y),
                                   output_l1=l1_error(_first(y_float), _first(y))))
    rows.sort(key=lambda r: (r.output_cosine, -r.output_l1))
    report = SensitivityReport(rows, threshold)
    if out_dir is not None:
        _write(report, out_dir, name)
    return report


def _int16_ranking(qat_model: nn.Module, inputs: Any, owners: list[str], y_float: Any,
                   threshold: float) -> SensitivityReport:
    y_int8, _ = run_recording(qat_model, inputs, lambda fq: "qat")
    base = _outputs_cosine(y_float, y_int8)
    rows = []
    for owner in owners:
        with _widened(qat_model, owner):
            y, _ = run_recording(qat_model, inputs, lambda fq: "qat")
        cos = _outputs_cosine(y_float, y)
        rows.append(SensitivityRow(owner=owner, output_cosine=cos, output_l1=l1_error(_first(y_float), _first(y)),
                                   gain=cos - base))
    rows.sort(key=lambda r: (-r.output_cosine, r.output_l1))
    return SensitivityReport(rows, threshold, mode="int16", baseline_cosine=base)


def _write(report: SensitivityReport, out_dir: str | os.PathLike, name: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    report.write_csv(os.path.join(out_dir, f"{name}.csv"))
    report.plot(os.path.join(out_dir, f"{name}.png"))


__all__ = ["SensitivityReport", "SensitivityRow", "sensitivity"]
