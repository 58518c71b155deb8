"""A seeded, bounded generator of small plain-torch models for the quantization chain (chainfuzz).

Hand-written configs test the compositions someone thought of; this draws random small DAGs of the ops the
march profiles list (irq/marches/*.json) and writes each one out as the Python source of an ordinary
`nn.Module`, so a failing case prints as a model a person can read, cut down and keep as a regression test.

Why the generator *runs* each op while it draws it: shape rules of convs, pools with ceil_mode, pads and
interpolations are easy to get subtly wrong in a generator, and a generator that is wrong about a shape
makes invalid models instead of finding bugs. So every candidate line is executed on a batch-1 example
with eager torch; if torch rejects it (or it produces a non-finite or huge value) the line is dropped and
another is drawn. The shapes the generator continues from are the shapes torch computed.

A case is fully determined by its seed: `generate(seed)` gives the source, the inputs, the march, the qconfig
(as source text too) and the batch sizes. `tests/test_chain_fuzz.py` runs the chain on it.
"""

from __future__ import annotations

import linecache
import random
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

#: Generated sources are registered in linecache under this name pattern, so torch.fx / irq locations
#: point at real lines ("chainfuzz_17.py:12") and error messages can be checked for them.
FILENAME = "chainfuzz_{seed}.py"

ACTIVATIONS = {
    "relu": "F.relu({x})", "relu6": "F.relu6({x})", "sigmoid": "torch.sigmoid({x})", "tanh": "torch.tanh({x})",
    "gelu": "F.gelu({x})", "silu": "F.silu({x})", "hardswish": "F.hardswish({x})",
    "hardsigmoid": "F.hardsigmoid({x})", "leaky_relu": "F.leaky_relu({x}, {slope})",
    "clamp": "torch.clamp({x}, {lo}, {hi})", "hardtanh": "F.hardtanh({x}, {lo}, {hi})", "relu_method": "{x}.relu()",
    "clamp_min": "{x}.clamp_min({lo})", "exp": "torch.exp({x})",
}
#: element-wise ops march bayes runs since issue 12 (abs / neg integer ops, sqrt / rsqrt tables): drawn less there
NASH_ONLY = {"abs": "torch.abs({x})", "neg": "-{x}",
             "sqrt": "torch.sqrt(torch.sigmoid({x}))", "rsqrt": "torch.rsqrt(torch.sigmoid({x}) + 0.5)"}


@dataclass
class Value:
    """A value of the forward: its name in the source and its eager batch-1 tensor (for shapes)."""

    name: str
    tensor: torch.Tensor

    @property
    def dims(self) -> tuple[int, ...]:
        """The shape without the batch dimension."""
        return tuple(self.tensor.shape[1:])

    @property
    def rank(self) -> int:
        return self.tensor.dim()


@dataclass
class Case:
    """One generated model and how to run it through the chain."""

    seed: int
    source: str                      # the module source: `class FuzzModel(nn.Module)` + helper imports
    inputs: list[tuple[tuple[int, ...], str]]   # per input: shape without batch, "float" or "int:<vocab>"
    march: str
    qconfig_source: str              # a Python expression over irq.qconfig names
    batch: int                       # the traced batch
    other_batch: int                 # the batch deployed besides it
    ops: list[str] = field(default_factory=list)   # op kinds drawn, for coverage counts
    qat_steps: int = 0               # SGD steps in QAT state between calibration and VALIDATION

    @property
    def filename(self) -> str:
        return FILENAME.format(seed=self.seed)

    def build(self) -> nn.Module:
        """A fresh float model (weights from torch.manual_seed(seed)), eval mode, BN statistics non-trivial."""
        cls = load_class(self.source, self.filename)
        torch.manual_seed(self.seed)
        model = cls()
        g = torch.Generator().manual_seed(self.seed + 1)
        with torch.no_grad():
            for m in model.modules():
                norm = isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d, nn.InstanceNorm2d))
                if norm and m.running_mean is not None:
                    m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                    m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if norm and m.weight is not None:
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        return model.eval()

    def qconfig(self):
        return eval(self.qconfig_source, _qconfig_namespace())  # noqa: S307 - our own generated expression

    def sample(self, batch: int, generator: torch.Generator, gain: float = 1.0) -> tuple[torch.Tensor, ...]:
        out = []
        for shape, kind in self.inputs:
            if kind.startswith("int:"):
                out.append(torch.randint(0, int(kind[4:]), (batch, *shape), generator=generator))
            else:
                out.append(torch.randn(batch, *shape, generator=generator) * gain)
        return tuple(out)

    def describe(self) -> str:
        return (f"chainfuzz seed {self.seed}: march={self.march} batch={self.batch}/{self.other_batch} "
                f"qat_steps={self.qat_steps} "
                f"inputs={self.inputs}\nqconfig = {self.qconfig_source}\n{self.source}")


def _qconfig_namespace() -> dict:
    from irq import qconfig as qc
    return {"QConfig": qc.QConfig, "QuantizerSpec": qc.QuantizerSpec}


def load_class(source: str, filename: str) -> type[nn.Module]:
    """Compile `source` under `filename`, registered in linecache so tracebacks and fx see its lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {"__name__": filename[:-3]}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated by this module
    return namespace["FuzzModel"]


class _Builder:
    """Draws lines of `__init__` and `forward`, executing each on batch-1 tensors to learn its shapes."""

    def __init__(self, rng: random.Random, march: str) -> None:
        self.rng, self.march = rng, march
        self.init_lines: list[str] = []
        self.forward_lines: list[str] = []
        self.values: list[Value] = []
        self.holder = nn.Module()
        self.count = 0
        self.ops: list[str] = []

    # -- the two kinds of lines ----------------------------------------------------------------------------
    def try_line(self, kind: str, expr: str, modules: dict[str, str] | None = None,
                 outputs: int = 1) -> list[Value] | None:
        """Add `v = expr` (and `self.mK = ctor` for each module), if eager torch accepts it; else undo."""
        added: list[str] = []
        names: dict[str, str] = {}
        for key, ctor in (modules or {}).items():
            attr = f"m{self.count}_{key}"
            try:
                setattr(self.holder, attr, eval(ctor, {"nn": nn, "torch": torch}))  # noqa: S307
            except Exception:
                for a in added:
                    delattr(self.holder, a)
                return None
            added.append(attr)
            names[key] = f"self.{attr}"
        expr = expr.format(**names)
        env = {v.name: v.tensor for v in self.values}
        env.update(torch=torch, F=F, self=self.holder)
        try:
            with torch.no_grad():
                result = eval(expr, env)  # noqa: S307
        except Exception:
            result = None
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        if result is None or len(results) != outputs or not all(_usable(r) for r in results):
            for a in added:
                delattr(self.holder, a)
            return None
        targets = [f"v{self.count}" if outputs == 1 else f"v{self.count}_{i}" for i in range(outputs)]
        for key, attr in zip(modules or {}, added):
            self.init_lines.append(f"self.{attr} = {modules[key]}")
        self.forward_lines.append(f"{', '.join(targets)} = {expr}" + ("" if outputs == 1 else ""))
        self.count += 1
        self.ops.append(kind)
        new = [Value(t, r) for t, r in zip(targets, results)]
        self.values.extend(new)
        return new

    def add(self, kind: str, expr: str, modules: dict[str, str] | None = None, outputs: int = 1) -> str | None:
        """`try_line`, returning the kind when the line was added, else None."""
        return kind if self.try_line(kind, expr, modules, outputs) else None

    # -- helpers -------------------------------------------------------------------------------------------
    def pick(self, rank: int | None = None, float_only: bool = True) -> Value | None:
        pool = [v for v in self.values if (rank is None or v.rank == rank)
                and (not float_only or v.tensor.is_floating_point())]
        if not pool:
            return None
        # recent values more often, but any earlier one can be read again (residuals, several consumers)
        weights = [1.0 + i for i in range(len(pool))]
        return self.rng.choices(pool, weights)[0]

    def partner(self, x: Value) -> Value | None:
        """Another float value x can be combined with element-wise (same shape, or broadcastable)."""
        same = [v for v in self.values if v is not x and v.tensor.is_floating_point()
                and _broadcasts(v.tensor.shape, x.tensor.shape)]
        return self.rng.choice(same) if same else None

    def scalar(self, nonzero: bool = False) -> str:
        c = self.rng.choice([0.5, 2.0, -1.5, 0.25, 3.0, -0.75, 1.0, 0.1])
        return repr(c) if nonzero or self.rng.random() < 0.9 else "0.0"


def _usable(t) -> bool:
    if not isinstance(t, torch.Tensor) or t.numel() == 0 or t.dim() < 2 or t.dim() > 5:
        return False
    if t.is_floating_point():
        return bool(torch.isfinite(t).all()) and float(t.abs().max()) < 1e3
    return True


def _broadcasts(a: torch.Size, b: torch.Size) -> bool:
    """Whether a op b has b's shape with a's batch on b's: same rank (a lower-rank partner would align its
    batch with another axis, and eager torch itself would then mix the samples), a's other dims 1 or equal."""
    if len(a) != len(b) or a[0] != b[0]:
        return False
    for da, db in zip(reversed(a), reversed(b)):
        if da != db and da != 1:
            return False
    return True


# -- the op catalogue: each draws one op on value x and returns the kind name, or None ------------------------
def _conv(b: _Builder, x: Value) -> str | None:
    r = b.rng
    if x.rank not in (3, 4):
        return None
    two_d = x.rank == 4
    cin = x.dims[0]
    style = r.choice(["dense", "dense", "grouped", "depthwise"])
    if style == "depthwise":
        groups, cout = cin, cin * r.choice([1, 1, 2])
    elif style == "grouped":
        divisors = [g for g in range(2, cin + 1) if cin % g == 0]
        if not divisors:
            return None
        groups = r.choice(divisors)
        cout = groups * r.randint(1, 2)
    else:
        groups, cout = 1, r.randint(1, 8)
    k = r.choice([1, 1, 2, 3, 3, 5]) if two_d else r.choice([1, 2, 3, 5])
    kernel = (k, r.choice([k, 1, 3])) if two_d and r.random() < 0.3 else k
    stride = r.choice([1, 1, 1, 2])
    dilation = r.choice([1, 1, 1, 2])
    padding = r.choice([0, 0, 1, 1, 2])
    mode = r.choice(["zeros"] * 6 + ["reflect", "replicate", "circular"]) if padding else "zeros"
    bias = r.random() < 0.7
    cls = "Conv2d" if two_d else "Conv1d"
    modules = {"conv": f"nn.{cls}({cin}, {cout}, {kernel}, stride={stride}, padding={padding}, "
                       f"dilation={dilation}, groups={groups}, bias={bias}, padding_mode='{mode}')"}
    expr = "{conv}(" + x.name + ")"
    tail = r.random()
    if tail < 0.35:
        bn = "BatchNorm2d" if two_d else "BatchNorm1d"
        modules["bn"] = f"nn.{bn}({cout})"
        expr = "{bn}(" + expr + ")"
    kind = f"conv{'2' if two_d else '1'}d_{style}"
    if r.random() < 0.4:
        act = r.choice(["F.relu", "F.relu6"])
        expr = f"{act}({expr})"
    return b.add(kind, expr, modules)


def _conv_transpose(b: _Builder, x: Value) -> str | None:
    r = b.rng
    if x.rank != 4:
        return None
    k, s = r.choice([1, 2, 3, 4]), r.choice([1, 2, 2])
    p = r.randint(0, k - 1)
    op = r.randint(0, s - 1)
    cout = r.randint(1, 6)
    ctor = f"nn.ConvTranspose2d({x.dims[0]}, {cout}, {k}, stride={s}, padding={p}, output_padding={op})"
    return b.add("conv_transpose2d", "{ct}(" + x.name + ")", {"ct": ctor})


def _linear(b: _Builder, x: Value) -> str | None:
    r = b.rng
    n = r.randint(1, 12)
    ctor = f"nn.Linear({x.dims[-1]}, {n}, bias={r.random() < 0.8})"
    expr = "{fc}(" + x.name + ")"
    if r.random() < 0.3:
        expr = f"F.relu({expr})"
    return b.add("linear", expr, {"fc": ctor})


def _matmul(b: _Builder, x: Value) -> str | None:
    if x.rank < 3:
        return None
    others = [v for v in b.values if v.tensor.is_floating_point() and v.rank == x.rank
              and v.dims[:-2] == x.dims[:-2] and v.dims[-1] == x.dims[-1]]
    y = b.rng.choice(others)
    form = b.rng.choice(["torch.matmul({x}, {y}.transpose(-2, -1))", "{x} @ {y}.transpose(-1, -2)"])
    return b.add("matmul", form.format(x=x.name, y=y.name))


def _binary(b: _Builder, x: Value) -> str | None:
    r = b.rng
    op = r.choice(["+", "-", "*", "/"])
    if r.random() < 0.35:  # a Python scalar on either side
        c = b.scalar(nonzero=op == "/")  # x * 0.0, x + 0.0: a constant output or an identity
        if op == "/" and r.random() < 0.5:
            return None  # scalar / tensor is a reciprocal: not in the profiles
        expr = f"{x.name} {op} {c}" if r.random() < 0.5 or op == "/" else f"{c} {op} {x.name}"
        kind = {"+": "add_scalar", "-": "sub_scalar", "*": "mul_scalar", "/": "div_scalar"}[op]
        return b.add(kind, expr)
    y = b.partner(x)
    if y is None:
        return None
    left, right = (x.name, y.name) if r.random() < 0.5 else (y.name, x.name)
    if op == "/":
        right = f"(torch.sigmoid({right}) + 0.5)"  # a denominator bounded away from zero
    kind = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[op]
    if y.tensor.shape != x.tensor.shape:
        kind += "_broadcast"
    if op in "+-" and r.random() < 0.2:
        kind += "_relu"
        return b.add(kind, f"F.relu({left} {op} {right})")
    return b.add(kind, f"{left} {op} {right}")


def _activation(b: _Builder, x: Value) -> str | None:
    r = b.rng
    name = r.choice(list(ACTIVATIONS) + ["prelu"] + list(NASH_ONLY) * (b.march == "nash" or r.random() < 0.2))
    if name in NASH_ONLY:
        return b.add(name, NASH_ONLY[name].format(x=x.name))
    if name == "prelu":
        channels = r.choice([1, x.dims[0]])
        return b.add("prelu", "{act}(" + x.name + ")", {"act": f"nn.PReLU({channels}, init=-0.2)"})
    lo = r.choice([-1.0, -0.5, 0.0])
    hi = lo + r.choice([0.5, 1.0, 3.0])
    expr = ACTIVATIONS[name].format(x=x.name, slope=r.choice([0.01, 0.1, 0.2]), lo=lo, hi=hi)
    return b.add(name, expr)


def _pool(b: _Builder, x: Value) -> str | None:
    r = b.rng
    if x.rank != 4:
        return None
    k = r.choice([1, 2, 2, 3, 3, 4])
    s = r.choice([None, 1, 2, k])
    p = r.randint(0, k // 2)
    ceil = r.random() < 0.4
    if r.random() < 0.5:
        d = r.choice([1, 1, 2])
        expr = f"F.max_pool2d({x.name}, {k}, stride={s}, padding={p}, dilation={d}, ceil_mode={ceil})"
        return b.add("max_pool2d", expr)
    cip = r.random() < 0.5
    expr = f"F.avg_pool2d({x.name}, {k}, stride={s}, padding={p}, ceil_mode={ceil}, count_include_pad={cip})"
    return b.add("avg_pool2d", expr)


def _adaptive_pool(b: _Builder, x: Value) -> str | None:
    if x.rank != 4:
        return None
    h, w = x.dims[1:]
    sizes = [(oh, ow) for oh in range(1, h + 1) for ow in range(1, w + 1) if h % oh == 0 and w % ow == 0]
    size = b.rng.choice([(1, 1)] * 3 + sizes)
    arg = "1" if size == (1, 1) and b.rng.random() < 0.5 else repr(size)
    return b.add("adaptive_avg_pool2d", f"F.adaptive_avg_pool2d({x.name}, {arg})")


def _interpolate(b: _Builder, x: Value) -> str | None:
    r = b.rng
    if x.rank != 4:
        return None
    mode = r.choice(["nearest", "bilinear"])
    ac = "" if mode == "nearest" else f", align_corners={r.random() < 0.5}"
    if r.random() < 0.5:
        arg = f"scale_factor={r.choice([2, 2, 3])}"
    else:
        arg = f"size=({r.randint(1, 12)}, {r.randint(1, 12)})"
    return b.add(f"interpolate_{mode}", f"F.interpolate({x.name}, {arg}, mode='{mode}'{ac})")


def _norm(b: _Builder, x: Value) -> str | None:
    r = b.rng
    choice = r.choice(["layer_norm", "layer_norm", "group_norm", "batch_norm", "softmax", "softmax"])
    if choice == "layer_norm":
        n = 2 if x.rank >= 3 and r.random() < 0.2 else 1  # over 2 dims is refused (lowers over the last only)
        shape = x.dims[-n:]
        affine = r.random() < 0.7
        return "layer_norm" if b.try_line("layer_norm", "{ln}(" + x.name + ")",
                                          {"ln": f"nn.LayerNorm({list(shape)}, elementwise_affine={affine})"}) else None
    if choice == "group_norm":
        if x.rank < 3:
            return None
        c = x.dims[0]
        g = r.choice([d for d in range(1, c + 1) if c % d == 0])
        return b.add("group_norm", "{gn}(" + x.name + ")", {"gn": f"nn.GroupNorm({g}, {c})"})
    if choice == "batch_norm":
        if x.rank == 4:
            ctor = f"nn.BatchNorm2d({x.dims[0]})"
        elif x.rank in (2, 3):
            ctor = f"nn.BatchNorm1d({x.dims[0]})"
        else:
            return None
        return b.add("batch_norm", "{bn}(" + x.name + ")", {"bn": ctor})
    dim = r.randint(1, x.rank - 1) if r.random() < 0.5 else -1
    return b.add("softmax", f"torch.softmax({x.name}, dim={dim})")


def _reduce(b: _Builder, x: Value) -> str | None:
    r = b.rng
    dims = sorted(r.sample(range(1, x.rank), r.randint(1, x.rank - 1)))
    if x.rank == 2 and len(dims) == 1 and r.random() < 0.7:
        keep = True  # keep rank >= 2
    else:
        keep = r.random() < 0.5
    fn = r.choice(["mean", "sum"])
    dim = dims[0] if len(dims) == 1 and r.random() < 0.5 else tuple(dims)
    if r.random() < 0.5:
        expr = f"{x.name}.{fn}({dim!r}, keepdim={keep})"
    else:
        expr = f"torch.{fn}({x.name}, {dim!r}, keepdim={keep})"
    return b.add(fn, expr)


def _movement(b: _Builder, x: Value) -> str | None:
    r = b.rng
    choice = r.choice(["flatten", "permute", "transpose", "reshape", "slice", "pad", "pixel_shuffle",
                       "unsqueeze", "squeeze"])
    n = x.rank
    if choice == "flatten":
        start = r.randint(1, n - 1) if n > 2 else 1
        expr = f"torch.flatten({x.name}, {start})" if r.random() < 0.5 else f"{x.name}.flatten({start})"
    elif choice == "permute":
        rest = list(range(1, n))
        r.shuffle(rest)
        expr = f"{x.name}.permute(0, {', '.join(map(str, rest))})"
    elif choice == "transpose":
        if n < 3:
            return None
        i, j = r.sample(range(1, n), 2)
        expr = f"{x.name}.transpose({i}, {j})"
    elif choice == "reshape":
        dims = list(x.dims)
        total = 1
        for d in dims:
            total *= d
        factors = [f for f in range(1, total + 1) if total % f == 0]
        a = r.choice(factors)
        shape = [a, total // a]
        if r.random() < 0.5:
            shape = [-1 if r.random() < 0.5 else a, total // a]
        how = r.choice(["reshape", "view"])
        expr = f"{x.name}.{how}({x.name}.shape[0], {', '.join(map(str, shape))})"
    elif choice == "slice":
        d = r.randint(1, n - 1)
        size = x.tensor.shape[d]
        if size < 2:
            return None
        start = r.randint(0, size - 1)
        stop = r.randint(start + 1, size)
        step = r.choice([1, 1, 2])
        idx = ", ".join([":"] * d + [f"{start}:{stop}:{step}"])
        expr = f"{x.name}[{idx}]"
    elif choice == "pad":
        if n not in (3, 4):
            return None
        mode = r.choice(["constant", "constant", "reflect", "replicate", "circular"])
        pads = [r.randint(0, 2) for _ in range(2 * (n - 2))]
        value = f", value={b.scalar()}" if mode == "constant" and r.random() < 0.5 else ""
        expr = f"F.pad({x.name}, {tuple(pads)!r}, mode='{mode}'{value})"
    elif choice == "pixel_shuffle":
        if n != 4:
            return None
        if x.dims[0] % 4 == 0 and r.random() < 0.5:
            expr = f"F.pixel_shuffle({x.name}, 2)"
        else:
            expr = f"F.pixel_unshuffle({x.name}, 2)"
    elif choice == "unsqueeze":
        if n >= 4:
            return None
        expr = f"{x.name}.unsqueeze({r.randint(1, n)})"
    else:
        ones = [d for d in range(1, n) if x.tensor.shape[d] == 1]
        if not ones or n <= 2:
            return None
        expr = f"{x.name}.squeeze({r.choice(ones)})"
    return b.add(choice, expr)


def _split(b: _Builder, x: Value) -> str | None:
    r = b.rng
    d = r.randint(1, x.rank - 1)
    size = x.tensor.shape[d]
    if size < 2:
        return None
    if r.random() < 0.5:
        pieces = r.randint(2, min(3, size))
        parts = -(-size // pieces)
        count = -(-size // parts)
        return b.add("chunk", f"torch.chunk({x.name}, {pieces}, dim={d})", outputs=count)
    cut = r.randint(1, size - 1)
    return b.add("split", f"torch.split({x.name}, [{cut}, {size - cut}], dim={d})", outputs=2)


def _concat(b: _Builder, x: Value) -> str | None:
    r = b.rng
    d = r.randint(1, x.rank - 1)
    fits = [v for v in b.values if v.tensor.is_floating_point() and v.rank == x.rank
            and all(v.tensor.shape[i] == x.tensor.shape[i] for i in range(x.rank) if i != d)]
    if r.random() < 0.3:  # stack needs equal shapes
        same = [v for v in fits if v.tensor.shape == x.tensor.shape]
        if x.rank >= 4:
            return None
        parts = [x.name] + [v.name for v in r.sample(same, min(len(same), r.randint(1, 2)))]
        sd = r.randint(1, x.rank)
        return b.add("stack", f"torch.stack([{', '.join(parts)}], dim={sd})")
    parts = [x.name] + [v.name for v in r.sample(fits, min(len(fits), r.randint(1, 3)))]
    r.shuffle(parts)
    return b.add("cat", f"torch.cat([{', '.join(parts)}], dim={d})")


def _island(b: _Builder, x: Value) -> str | None:
    """The ops the float-island work made convertible (cumsum, log_softmax, instance norm, division with a
    rounding_mode by a tensor or a constant) and the no-ops a model carries (dropout, identity, contiguous)."""
    r = b.rng
    choice = r.choice(["cumsum", "log_softmax", "instance_norm", "div_rounded", "div_scalar_rounded", "no_op"])
    if choice == "cumsum":
        d = r.randint(1, x.rank - 1) if r.random() < 0.7 else -1
        form = r.choice(["torch.cumsum({x}, dim={d})", "{x}.cumsum({d})"])
        return b.add("cumsum", form.format(x=x.name, d=d))
    if choice == "log_softmax":
        d = r.randint(1, x.rank - 1) if r.random() < 0.5 else -1
        form = r.choice(["F.log_softmax({x}, dim={d})", "torch.log_softmax({x}, dim={d})"])
        return b.add("log_softmax", form.format(x=x.name, d=d))
    if choice == "instance_norm":
        if x.rank not in (3, 4):
            return None
        cls = "InstanceNorm2d" if x.rank == 4 else "InstanceNorm1d"
        affine, running = r.random() < 0.6, r.random() < 0.3
        ctor = f"nn.{cls}({x.dims[0]}, affine={affine}, track_running_stats={running})"
        return b.add("instance_norm", "{inorm}(" + x.name + ")", {"inorm": ctor})
    mode = r.choice(["floor", "trunc"])
    if choice == "div_rounded":
        y = b.partner(x)
        if y is None:
            return None
        return b.add("div_rounded", f"torch.div({x.name}, torch.sigmoid({y.name}) + 0.5, rounding_mode='{mode}')")
    if choice == "div_scalar_rounded":
        c = r.choice([0.5, 0.25, -0.75, 2.0, 0.1])
        if r.random() < 0.3:
            return b.add("floordiv_scalar", f"{x.name} // {c}")
        return b.add("div_scalar_rounded", f"torch.div({x.name}, {c}, rounding_mode='{mode}')")
    how = r.choice(["dropout", "identity", "contiguous"])
    if how == "dropout":
        return b.add("dropout", "{drop}(" + x.name + ")", {"drop": "nn.Dropout(0.25)"})
    if how == "identity":
        return b.add("identity", "{ident}(" + x.name + ")", {"ident": "nn.Identity()"})
    return b.add("contiguous", f"{x.name}.contiguous()")


CATALOGUE = {
    "conv": (_conv, 5), "conv_transpose": (_conv_transpose, 1), "linear": (_linear, 3), "matmul": (_matmul, 1),
    "binary": (_binary, 5), "activation": (_activation, 5), "pool": (_pool, 2), "adaptive_pool": (_adaptive_pool, 1),
    "interpolate": (_interpolate, 1), "norm": (_norm, 3), "reduce": (_reduce, 1), "movement": (_movement, 4),
    "split": (_split, 1), "concat": (_concat, 2), "island": (_island, 2),
}


def _qconfig_source(rng: random.Random, march: str, owners: list[str]) -> str:
    """A qconfig expression: a global activation dtype / observer and weight scheme, sometimes per-owner
    overrides (int16 for one owner, int32 output for the last conv/linear)."""
    def spec(dtype: str) -> str:
        observer = rng.choice(["mse", "min_max", "moving_average_min_max", "percentile"])
        extra = ", averaging_constant=1.0" if observer == "moving_average_min_max" else ""
        return f'QuantizerSpec("{dtype}", "{observer}"{extra})'

    def weight() -> str:
        if rng.random() < 0.7:
            return 'QuantizerSpec("qint8", "per_channel_min_max", "per_channel")'
        return 'QuantizerSpec("qint8", "min_max")'

    dtype = "qint16" if rng.random() < (0.25 if march == "nash" else 0.1) else "qint8"
    rules = [f'"": QConfig({spec(dtype)}, {weight()})']
    if owners and rng.random() < 0.3:
        owner = rng.choice(owners)
        other = "qint8" if dtype == "qint16" else "qint16"
        rules.append(f'"{owner}": QConfig({spec(other)}, {weight()})')
    return "{" + ", ".join(rules) + "}"


def generate(seed: int, max_ops: int = 8) -> Case:
    """The model of `seed`: 2..max_ops drawn ops on 1-2 inputs, 1-3 outputs."""
    rng = random.Random(seed)
    march = rng.choice(["bayes", "nash"])
    b = _Builder(rng, march)
    torch.manual_seed(seed)
    inputs: list[tuple[tuple[int, ...], str]] = []
    shape_kind = rng.choice(["image", "image", "image", "sequence", "features", "tokens"])
    n_inputs = 2 if rng.random() < 0.2 and shape_kind != "tokens" else 1
    for i in range(n_inputs):
        if shape_kind == "image":
            shape = (rng.randint(1, 5), rng.choice([1, 3, 4, 5, 7, 8]), rng.choice([1, 3, 4, 6, 8, 9]))
        elif shape_kind == "sequence":
            shape = (rng.randint(1, 6), rng.choice([1, 3, 5, 8, 12]))
        elif shape_kind == "features":
            shape = (rng.randint(1, 16),)
        else:
            shape = (rng.randint(1, 7),)
        if i == 1 and rng.random() < 0.7:
            shape = inputs[0][0]  # a second input of the same shape: element-wise partners
        kind = f"int:{rng.randint(3, 20)}" if shape_kind == "tokens" else "float"
        inputs.append((shape, kind))
        b.values.append(Value(f"x{i}", _example(shape, kind, seed)))
    if shape_kind == "tokens":
        vocab = int(inputs[0][1][4:])
        dim = rng.randint(1, 8)
        b.try_line("embedding", "{emb}(x0)", {"emb": f"nn.Embedding({vocab}, {dim})"})
    families = list(CATALOGUE)
    weights = [CATALOGUE[f][1] for f in families]
    target = rng.randint(2, max_ops)
    attempts = 0
    while len(b.ops) < target + (shape_kind == "tokens") and attempts < 200:
        attempts += 1
        x = b.pick()
        if x is None:
            break
        fn = CATALOGUE[rng.choices(families, weights)[0]][0]
        try:
            fn(b, x)
        except (IndexError, ValueError):
            continue  # the draw did not fit this value (an empty choice): draw again
    float_values = [v for v in b.values if v.tensor.is_floating_point() and not v.name.startswith("x")]
    if not float_values:
        float_values = [v for v in b.values if v.tensor.is_floating_point()]
    outputs = [float_values[-1]]
    extra = [v for v in float_values[:-1] if v not in outputs]
    for v in rng.sample(extra, min(len(extra), rng.choice([0, 0, 1, 2]))):
        outputs.append(v)  # an output that is also an intermediate
    roll = rng.random()
    if roll < 0.05:
        outputs.append(outputs[0])  # the same value returned twice
    elif roll < 0.1 and b.values[0].tensor.is_floating_point():
        outputs.append(b.values[0])  # a model input returned as it came
    args = ", ".join(f"x{i}" for i in range(n_inputs))
    lines = ["import torch", "import torch.nn.functional as F", "from torch import nn", "", "",
             "class FuzzModel(nn.Module):", "    def __init__(self):", "        super().__init__()"]
    lines += [f"        {line}" for line in b.init_lines]
    lines += ["", f"    def forward(self, {args}):"]
    lines += [f"        {line}" for line in b.forward_lines]
    ret = outputs[0].name if len(outputs) == 1 else "(" + ", ".join(v.name for v in outputs) + ")"
    lines.append(f"        return {ret}")
    source = "\n".join(lines) + "\n"
    owners = [line.split("=")[0].strip()[5:] for line in b.init_lines]
    batch = rng.choice([1, 2, 3])
    case = Case(seed, source, inputs, march, _qconfig_source(rng, march, owners), batch,
                rng.choice([bb for bb in (1, 2, 4) if bb != batch]), list(b.ops))
    case.qat_steps = rng.choice([0, 0, 0, 2])
    if "floordiv_scalar" in case.ops:
        case.qat_steps = 0  # eager torch has no derivative for `//` (aten::floor_divide): nothing to train
    weighted = [o for o in owners if o.endswith(("_conv", "_fc", "_ct"))]
    if weighted and rng.random() < 0.15:  # a high-precision (int32) output, as a final conv/linear has
        case.qconfig_source = (case.qconfig_source[:-1]
                               + f', "{weighted[-1]}": "default_calib_8bit_weight_32bit_out"}}')
    return case


def _example(shape: tuple[int, ...], kind: str, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind.startswith("int:"):
        return torch.randint(0, int(kind[4:]), (1, *shape), generator=g)
    return torch.randn(1, *shape, generator=g)


__all__ = ["Case", "generate", "load_class"]
