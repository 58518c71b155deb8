"""irq.debug.sensitivity: which owners hurt the output most when quantized alone.

Each owner's quantizers (its weight and its output) fake-quantize (QAT mode) while every other
quantizer passes float through, and the model output is compared with float. Owners are ranked worst first:
the top of the list is where int16, a better scale or leaving the op in float pays most. Quantizing
one owner at a time separates an owner's own damage from the error it inherits (what `compare`
alone cannot do). Fake quantization, not VALIDATION, is used on purpose: VALIDATION's integer
emulation of an op reads its producers' scales too (an add rescales its operands), which would blame
an owner for its producer's scale. The model's quantization state is left exactly as found.

The ranking is a list (worst first) that also prints itself (`table()`), says what to try
(`suggestions()`: int16 or float for the owners that cost most, or `irq.quant.mixed_precision`, which
does it under a budget) and writes `sensitivity.csv` and `sensitivity.png` with `out_dir=`, as
`irq.debug.compare` does."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

from torch import nn

from irq.debug.capture import run_recording
from irq.debug.compare import DEFAULT_THRESHOLD, _outputs_cosine
from irq.debug.metrics import l1_error
from irq.quant.state import fake_quant_modules


@dataclass
class SensitivityRow:
    owner: str
    #: model output cosine vs float when only this owner is quantized
    output_cosine: float
    #: mean absolute error of the (first) model output
    output_l1: float


class SensitivityReport(list):
    """The ranking (a list of SensitivityRow, worst first) with its table, advice and files."""

    def __init__(self, rows: list[SensitivityRow], threshold: float = DEFAULT_THRESHOLD) -> None:
        super().__init__(rows)
        self.threshold = threshold
        self.files: dict[str, str] = {}

    def table(self) -> str:
        lines = [f"{'owner':<32} {'output cosine':>13} {'output L1':>10}"]
        lines += [f"{r.owner:<32} {r.output_cosine:>13.6f} {r.output_l1:>10.4g}" for r in self]
        return "\n".join(lines + self.suggestions())

    def suggestions(self, limit: int = 3) -> list[str]:
        """Plain words for the owners that alone take the output below the threshold, worst first."""
        worst = [r for r in self if r.output_cosine < self.threshold][:limit]
        tips = [f"{r.owner}: quantized alone it takes the output cosine to {r.output_cosine:.4f}; give it int16 "
                f"(qconfig rule {{\"{r.owner}\": \"default_qat_16bit\"}}) or keep it in float "
                f"({{\"{r.owner}\": \"float\"}})" for r in worst]
        if len(worst) > 1:
            tips.append("irq.quant.mixed_precision(model, inputs, batches, budget=N) gives int16 outputs to the N "
                        "owners this ranking puts first, skipping those the march cannot run in int16")
        return tips

    def write_csv(self, path: str | os.PathLike) -> str:
        from irq.output_file import write_text
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(SensitivityRow)])
        writer.writeheader()
        for r in self:
            writer.writerow(asdict(r))
        write_text(path, buffer.getvalue())
        self.files["csv"] = os.fspath(path)
        return os.fspath(path)

    def plot(self, path: str | os.PathLike) -> str:
        """A PNG bar chart of the output cosine with each owner alone quantized, worst at the top."""
        try:
            import matplotlib
        except ImportError as e:  # optional dependency
            raise ImportError("irq.debug plots need matplotlib: pip install 'irq[debug]'") from e
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7.0, max(2.5, 0.3 * len(self) + 1.0)))
        ys = range(len(self))
        ax.barh(ys, [1.0 - r.output_cosine for r in self], color="tab:red")
        ax.set_yticks(list(ys))
        ax.set_yticklabels([r.owner for r in self], fontsize=7)
        ax.invert_yaxis()
        ax.axvline(1.0 - self.threshold, color="grey", linestyle="--", label=f"threshold {self.threshold}")
        ax.set_xlabel("1 - output cosine vs float, this owner alone quantized")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.fspath(path), format="png")
        plt.close(fig)
        self.files["png"] = os.fspath(path)
        return os.fspath(path)


def _owners(qat_model: nn.Module) -> list[str]:
    seen: dict[str, None] = {}
    for fq in fake_quant_modules(qat_model):
        if not fq.is_marker:
            seen.setdefault(fq.owner or fq.path, None)
    return list(seen)


def _first(y: Any) -> Any:
    return y[0] if isinstance(y, (tuple, list)) else y


def sensitivity(qat_model: nn.Module, inputs: Any, *, owners: list[str] | None = None,
                threshold: float = DEFAULT_THRESHOLD, out_dir: str | os.PathLike | None = None,
                name: str = "sensitivity") -> SensitivityReport:
    """Rank owners by the output cosine when each is the only quantized one (lowest first).

    inputs: one batch (a tensor or numpy array, or a tuple of the forward's inputs). threshold: the
    output cosine below which `suggestions()` names an owner. out_dir: when given, writes `<name>.csv`
    and `<name>.png` there."""
    owners = _owners(qat_model) if owners is None else owners
    if not owners:
        raise ValueError("irq.debug.sensitivity: the model has no fake-quant modules; pass the module "
                         "irq.prepare returned")
    y_float, _ = run_recording(qat_model, inputs, lambda fq: "float")
    rows = []
    for owner in owners:
        y, _ = run_recording(qat_model, inputs,
                             lambda fq, o=owner: "qat" if (fq.owner or fq.path) == o else "float")
        rows.append(SensitivityRow(owner=owner, output_cosine=_outputs_cosine(y_float, y),
                                   output_l1=l1_error(_first(y_float), _first(y))))
    rows.sort(key=lambda r: (r.output_cosine, -r.output_l1))
    report = SensitivityReport(rows, threshold)
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        report.write_csv(os.path.join(out_dir, f"{name}.csv"))
        report.plot(os.path.join(out_dir, f"{name}.png"))
    return report


__all__ = ["SensitivityReport", "SensitivityRow", "sensitivity"]
