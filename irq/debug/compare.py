"""irq.debug.compare: a per-owner table of how far each quantized activation is from float.

For every activation quantizer (an owner's output, a model input) it reports the float activation's
similarity to the QAT (fake-quant) and VALIDATION (integer-exact, what the bpu program computes)
activations, the quantizer's scale and dtype, and its saturation rate (the fraction of float values
beyond the representable range, which rounding cannot fix). Owners are listed in execution order,
so the first owner whose VALIDATION cosine falls below the threshold is where the error starts:
everything after it inherits its error. The deployed column is the bpu program's own value at each
quantizer (irq.debug.deployed: lowered as irq.convert lowers, run on the reference runtime,
dequantized), so a user sees float / QAT / VALIDATION / deployed per owner, and an owner whose
deployed value differs from VALIDATION is a compiler bug, named. A program passed in is also run
(numba runtime) and compared on the outputs."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from irq.debug.capture import as_args, call_model, output_quantizers, preserved, run_recording
from irq.debug.metrics import cosine, l1_error, max_abs_error
from irq.quant.fake_quantize import FakeQuantize

#: a VALIDATION cosine below this marks an owner as divergent
DEFAULT_THRESHOLD = 0.99
#: a saturation rate above this is reported as the likely cause
SATURATION_LIMIT = 0.01


@dataclass
class OwnerRow:
    """One activation quantizer's numbers (float is the reference of every metric)."""

    owner: str
    path: str
    dtype: str
    scale: float
    cosine_qat: float
    cosine_validation: float
    max_abs_error: float
    l1_error: float
    saturation_rate: float
    fused: bool = False
    #: the deployed program's value here vs float (None: no deployed column)
    cosine_deployed: float | None = None
    #: the deployed program's value here equals VALIDATION's bit for bit (None: no deployed column)
    deployed_equals_validation: bool | None = None
    #: batches the quantizer's observer has seen; 0: never calibrated, its scale is the initial 1.0
    observed: int = 1


@dataclass
class CompareReport:
    rows: list[OwnerRow]
    threshold: float
    output_cosine_qat: float
    output_cosine_validation: float
    #: float model output vs the prepared model with fake quantization off (fusion/import exactness)
    output_cosine_float_vs_prepared: float
    #: deployed program output vs float, and vs VALIDATION (expected 1.0: bit for bit)
    output_cosine_deployed: float | None = None
    deployed_equals_validation: bool | None = None
    #: why the deployed column is missing (the model does not convert), else None
    deployed_error: str | None = None
    #: the rounding the deployed column was lowered with; VALIDATION emulates half_up only
    rounding: str = "half_up"
    files: dict[str, str] = field(default_factory=dict)

    @property
    def first_deployed_mismatch(self) -> OwnerRow | None:
        """The first owner whose deployed value differs from VALIDATION (a lowering or runtime bug)."""
        return next((r for r in self.rows if r.deployed_equals_validation is False), None)

    @property
    def first_divergent(self) -> OwnerRow | None:
        """The first owner, in execution order, whose VALIDATION cosine drops below the threshold."""
        return next((r for r in self.rows if r.cosine_validation < self.threshold), None)

    @property
    def uncalibrated(self) -> list[OwnerRow]:
        """Quantizers whose observer never saw a batch: their scale is the initial 1.0, not a measurement."""
        return [r for r in self.rows if r.observed == 0]

    def suggestions(self) -> list[str]:
        """Plain-words fixes for the first divergent owner (empty when nothing diverges)."""
        row = self.first_divergent
        if row is None:
            return []
        if self.uncalibrated:
            # every other tip would be about a scale nobody chose: calibrate first
            names = ", ".join(r.owner for r in self.uncalibrated[:5]) + (", ..." if len(self.uncalibrated) > 5 else "")
            return [f"{len(self.uncalibrated)} quantizer(s) were never calibrated ({names}): their scale is the "
                    "initial 1.0; run calibration batches first (irq.workflow.calibrate(qat, batches), or "
                    "FakeQuantState.CALIBRATION in eval mode), then compare again"]
        tips = []
        if row.saturation_rate > SATURATION_LIMIT:
            tips.append(f"{row.owner}: {row.saturation_rate:.1%} of its outputs saturate at scale {row.scale:.4g}; "
                        "its range is too small: recalibrate with more representative data, or give it a fixed "
                        "scale covering its real range (qconfig rule with fixed_scale), or use int16 for it")
        else:
            tips.append(f"{row.owner}: rounding error dominates (cosine {row.cosine_validation:.4f} at scale "
                        f"{row.scale:.4g}, {row.dtype}); use int16 for this owner "
                        f"(qconfig rule {{\"{row.owner}\": \"default_qat_16bit\"}} or similar), or clip outliers")
        if row.fused:
            tips.append(f"{row.owner}: it is a fused op; if the error comes from a member's intermediate range, "
                        "unfuse it (disable that fusion pattern) so each member gets its own scale")
        return tips

    def table(self) -> str:
        head = f"{'owner':<28} {'dtype':<7} {'scale':>10} {'cos_qat':>9} {'cos_val':>9} {'cos_dep':>9} " \
               f"{'dep=val':>7} {'max_abs':>10} {'L1':>10} {'sat':>7}"
        lines = [head]
        first = self.first_divergent
        for r in self.rows:
            mark = "  <-- first divergent" if r is first else ""
            label = r.owner if r.path == f"{r.owner}.out_quant" else r.path
            dep = "-" if r.cosine_deployed is None else f"{r.cosine_deployed:.5f}"
            same = {None: "-", True: "yes", False: "NO"}[r.deployed_equals_validation]
            lines.append(f"{label:<28} {r.dtype:<7} {r.scale:>10.4g} {r.cosine_qat:>9.5f} "
                         f"{r.cosine_validation:>9.5f} {dep:>9} {same:>7} {r.max_abs_error:>10.4g} "
                         f"{r.l1_error:>10.4g} {r.saturation_rate:>7.2%}{mark}")
        lines.append(f"output cosine vs float: qat {self.output_cosine_qat:.5f}, validation "
                     f"{self.output_cosine_validation:.5f}" + ("" if self.output_cosine_deployed is None else
                                                              f", deployed {self.output_cosine_deployed:.5f}"))
        if self.deployed_error is not None:
            lines.append(f"no deployed column: {self.deployed_error.splitlines()[0]}")
        mismatch = self.first_deployed_mismatch
        if mismatch is not None and self.rounding != "half_up":
            lines.append(f"{mismatch.owner}: the deployed program differs from VALIDATION here first, as expected: it "
                         f"rounds {self.rounding} and VALIDATION emulates half_up (codes differ at exact ties)")
        elif mismatch is not None:
            lines.append(f"{mismatch.owner}: the deployed program differs from VALIDATION here first; VALIDATION and "
                         "the program must agree bit for bit, so this is a bug in lowering or the runtime: report it")
        if self.uncalibrated:
            lines.append(f"{len(self.uncalibrated)} quantizer(s) never calibrated (scale 1.0): the numbers above "
                         "measure no calibration")
        lines.extend(self.suggestions())
        return "\n".join(lines)

    def write_csv(self, path: str) -> str:
        """The table as CSV, one row per quantizer; written whole or not at all (irq.output_file)."""
        import io

        from irq.output_file import write_text
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(OwnerRow)])
        writer.writeheader()
        for r in self.rows:
            writer.writerow(asdict(r))
        write_text(path, buffer.getvalue())
        self.files["csv"] = path
        return path

    def plot(self, path: str) -> str:
        """A PNG of per-owner cosine (QAT and VALIDATION), the first divergent owner marked."""
        try:
            import matplotlib
        except ImportError as e:  # optional dependency
            raise ImportError("irq.debug plots need matplotlib: pip install 'irq[debug]'") from e
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        xs = range(len(self.rows))
        fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(self.rows)), 4.0))
        ax.plot(xs, [r.cosine_qat for r in self.rows], "o-", label="QAT (fake-quant)")
        ax.plot(xs, [r.cosine_validation for r in self.rows], "s-", label="VALIDATION (integer)")
        if any(r.cosine_deployed is not None for r in self.rows):
            ax.plot(xs, [math.nan if r.cosine_deployed is None else r.cosine_deployed for r in self.rows], "x",
                    label="deployed (bpu program, reference runtime)")
        ax.axhline(self.threshold, color="grey", linestyle="--", label=f"threshold {self.threshold}")
        first = self.first_divergent
        if first is not None:
            ax.axvline(self.rows.index(first), color="red", alpha=0.5, label=f"first divergent: {first.owner}")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r.owner for r in self.rows], rotation=70, fontsize=7)
        ax.set_ylabel("cosine vs float")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, format="png")
        plt.close(fig)
        self.files["png"] = path
        return path


def _saturation_rate(fq: FakeQuantize, x: torch.Tensor) -> float:
    s = fq._view(fq.scale.detach().double(), x)
    codes = torch.round(x.detach().double() / s)
    return float(((codes < fq.qmin) | (codes > fq.qmax)).double().mean()) if x.numel() else 0.0


def _leaves(y: Any) -> list[torch.Tensor]:
    return [t for t in (y if isinstance(y, (tuple, list)) else (y,))]


def _outputs_cosine(ref: Any, approx: Any) -> float:
    return min(cosine(a, b) for a, b in zip(_leaves(ref), _leaves(approx), strict=True))


def _fused_owners(qat_model: nn.Module) -> set[str]:
    """Owners of ops the fusion pass merged (their location is a FusedLoc naming every member)."""
    from irq.ir.location import FusedLoc
    from irq.quant.prepare import ir_of
    try:
        module = ir_of(qat_model)
    except ValueError:
        return set()
    owners = set()
    for op in module.walk():
        if not op.name.startswith("hl.") or not isinstance(op.location, FusedLoc):
            continue
        owner = op.get_attr("owner")
        if owner is not None:
            owners.add(owner.to_python() if hasattr(owner, "to_python") else str(owner))
    return owners


def _deployed_column(qat_model: nn.Module, inputs: Any, march: str | None, float_fallback: bool, rounding: str,
                     ) -> tuple[list[torch.Tensor], dict[str, np.ndarray]]:
    from irq.debug.deployed import lower_with_taps, run_tapped
    with preserved(qat_model):  # freezing refreshes weight quantizers' statistics; debugging changes nothing
        tapped = lower_with_taps(qat_model, march=march, float_fallback=float_fallback, rounding=rounding)
    outputs, acts = run_tapped(tapped, [t.detach().numpy() for t in as_args(inputs)])
    return [torch.from_numpy(np.asarray(a)) for a in outputs], acts


def program_rounding(program) -> str:
    """The rounding `irq.convert(..., rounding=...)` gave a bpu program: lower-bpu writes a `rounding`
    attribute on every rounding op unless it is the default half_up, so one mode is found, or none."""
    modes = {a.value for op in program.walk() if op.dialect_name == "bpu"
             and (a := op.get_attr("rounding")) is not None}
    if len(modes) > 1:
        raise ValueError(f"irq.debug.compare: the program mixes rounding modes {sorted(modes)}; pass rounding=")
    return modes.pop() if modes else "half_up"


def compare(float_model: nn.Module, qat_model: nn.Module, inputs: Any, *, program=None,
            threshold: float = DEFAULT_THRESHOLD, out_dir: str | os.PathLike | None = None,
            name: str = "compare", deployed: bool = True, march: str | None = None,
            float_fallback: bool = False, rounding: str | None = None) -> CompareReport:
    """Per-owner float / QAT / VALIDATION / deployed comparison of a calibrated (or trained) prepared model.

    float_model: the original float module (its output checks the prepared model's float pass).
    qat_model: the module irq.prepare returned, calibrated. program: optionally its bpu program
    (irq.convert(qat_model)); its outputs are compared with float and with VALIDATION.
    deployed: lower the model as irq.convert does (for `march`, default the one it was prepared for;
    `float_fallback` and `rounding` as in convert; `rounding` defaults to the one `program` was converted
    with, else half_up) and run it on the reference runtime, recording every quantizer's value: the
    per-owner deployed column, lowered the way the user's convert was. A model that does not convert gets no
    deployed column, and `deployed_error` says why (the float / QAT / VALIDATION columns are still there).
    out_dir: when given, writes `<name>.csv` and `<name>.png` there.
    The model's quantization state is left exactly as found.
    """
    if program is not None:
        converted = program_rounding(program)
        if rounding is not None and rounding != converted:
            raise ValueError(f"irq.debug.compare: rounding='{rounding}' but the program was converted with "
                             f"'{converted}'; the deployed column must lower as the program was")
        rounding = converted
    rounding = rounding or "half_up"
    quantizers = {fq.path: fq for fq in output_quantizers(qat_model)}
    if not quantizers:
        raise ValueError("irq.debug.compare: the model has no activation fake-quant modules; pass the module "
                         "irq.prepare returned")
    # the float reference runs in eval mode (batch norm's running statistics); the user's mode is restored
    modes = {m: m.training for m in float_model.modules()}
    float_model.eval()
    try:
        y_float_model = call_model(float_model, inputs, "irq.debug.compare")
    finally:
        for m, training in modes.items():
            m.training = training
    y_float, rec_float = run_recording(qat_model, inputs, lambda fq: "float")
    y_qat, rec_qat = run_recording(qat_model, inputs, lambda fq: "qat")
    y_val, rec_val = run_recording(qat_model, inputs, lambda fq: "validation")
    fused = _fused_owners(qat_model)
    rows = []
    for path, (x_float, _) in rec_float.items():
        fq = quantizers[path]
        out_qat, out_val = rec_qat[path][1], rec_val[path][1]
        scale = fq.scale.detach().double()
        rows.append(OwnerRow(
            owner=fq.owner or path, path=path, dtype=fq.dtype,
            scale=float(scale.max()) if scale.numel() else math.nan,
            cosine_qat=cosine(x_float, out_qat), cosine_validation=cosine(x_float, out_val),
            max_abs_error=max_abs_error(x_float, out_val), l1_error=l1_error(x_float, out_val),
            saturation_rate=_saturation_rate(fq, x_float), fused=(fq.owner in fused),
            observed=int(getattr(fq, "observed", 1))))
    report = CompareReport(rows=rows, threshold=threshold,
                           output_cosine_qat=_outputs_cosine(y_float, y_qat),
                           output_cosine_validation=_outputs_cosine(y_float, y_val),
                           output_cosine_float_vs_prepared=_outputs_cosine(y_float_model, y_float),
                           rounding=rounding)
    if deployed:
        from irq.transform import PassFailure
        try:
            y_dep_ref, acts = _deployed_column(qat_model, inputs, march, float_fallback, rounding)
        except (PassFailure, ValueError) as e:
            report.deployed_error = str(e)
        else:
            for row in rows:
                a = acts.get(row.path)
                if a is None:
                    continue
                dep = torch.from_numpy(np.asarray(a))
                row.cosine_deployed = cosine(rec_float[row.path][0], dep)
                row.deployed_equals_validation = torch.equal(dep, rec_val[row.path][1].to(dep.dtype))
            report.output_cosine_deployed = _outputs_cosine(y_float, y_dep_ref)
            report.deployed_equals_validation = all(
                torch.equal(a.float(), b.float()) for a, b in zip(_leaves(y_val), y_dep_ref, strict=True))
    if program is not None:
        import irq
        arrays = [t.detach().numpy() for t in as_args(inputs)]
        y_dep = irq.run(program, *arrays)
        y_dep = [torch.from_numpy(np.asarray(a)) for a in (y_dep if isinstance(y_dep, tuple) else (y_dep,))]
        report.output_cosine_deployed = _outputs_cosine(y_float, y_dep)
        report.deployed_equals_validation = (report.deployed_equals_validation is not False) and all(
            torch.equal(a.float(), b.float()) for a, b in zip(_leaves(y_val), y_dep, strict=True))
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        report.write_csv(os.path.join(out_dir, f"{name}.csv"))
        report.plot(os.path.join(out_dir, f"{name}.png"))
    return report
