"""fuse: conv / conv-transpose / linear + batch norm + residual add + relu/relu6 -> one hl op.

The BPU computes a convolution, its batch norm, a residual add and a ReLU in one
pass with the intermediates in high precision; quantizing between them would lose
accuracy the chip never loses. This pass merges such chains into one hl op (the
form hl.py documents), so quantization annotates only the fused op's output:

    %0 = hl.conv2d %x, %w {owner = "layer1.0.conv2", ...}
    %1 = hl.batch_norm %0 running_mean %m running_var %v weight %g bias %b {owner = "layer1.0.bn2", ...}
    %2 = hl.add %1, %identity {owner = "layer1.0.add"}          // or %identity + %1
    %3 = hl.relu %2 {owner = "layer1.0.relu"}
  ->
    %3 = hl.conv2d %x, %w bn_weight %g bn_bias %b bn_mean %m bn_var %v residual %identity
           {owner = "layer1.0.conv2", bn_owner = "layer1.0.bn2", activation = "relu", bn_eps = ...}

The batch norm keeps its parameters as operands (QAT trains them and simulates the
folding; inference folds exactly, see runtime/torch/functions.py). The fused op's
location is a `fused<[owners]>[...]` location of every member, so diagnostics and
the model check still name each of them.

Patterns (option `patterns`, default all): `conv-bn`, `conv-relu`, `conv-bn-relu`,
`conv-add`, `conv-bn-add`, `conv-add-relu`, `conv-bn-add-relu`. `conv` stands for
any of hl.conv1d, hl.conv2d, hl.conv_transpose2d and hl.linear; a name may start
with one of those instead (`linear-bn`) to enable a chain for that op only. `relu`
covers relu, relu6 and hardtanh(0, 6). The residual add may be written either way
round; when both operands could take it, the op computed later does (the other
operand is then ready when it runs, as on the chip).

A dropout between the head (after its batch norm) and the residual add is absorbed too when it is the identity
in eval: one that follows the module's train/eval mode (no `training` attribute; recorded as the fused op's
`dropout` rate, which the torch executor applies there while training) or is fixed off. It is no pattern step:
every enabled chain with an add allows it. One fixed on, or a channel-wise / alpha dropout, is refused. The fused
op takes the dropout's place when the residual is ready there, so torch's random draws keep eager's order in
training; when the residual comes later and a random op runs between the dropout and the add, the dropout is
refused (moving it past that op would drop other units than eager).

Fusion refuses when an intermediate has another user (its value must exist on its
own), when the parts do not fit (batch norm over other channels than the op's
outputs, no running statistics, an add with alpha, a residual that is not the
output's shape), when the user's torch.ao fused groups disagree, or when the chain
is not enabled. Refusals are recorded on the op that would have absorbed the chain
(`hl.unfused`), and `irq.check_model` lists them under "Fusable patterns left unfused".
Run functional-to-module first: fusion works on hl ops (they have owners).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Iterator

from irq.dialects import hl
from irq.dialects._tensor_specs import WEIGHTED

from irq.ir.attributes import ArrayAttr, DenseArrayAttr, DictionaryAttr, FloatAttr, IntegerAttr, StringAttr
from irq.ir.location import FusedLoc, Location
from irq.ir.operation import Operation
from irq.ir.types import ShapedType, i32
from irq.ir.values import OpResult, Value
from irq.rewrite import DagPattern, Match, OpPattern, PatternRewriter, apply_patterns_greedily, op
from irq.transform.pass_base import Option, Pass, register_pass

#: Every chain a head op can absorb, in the order the parts apply.
CHAINS: tuple[tuple[str, ...], ...] = (("bn",), ("relu",), ("bn", "relu"), ("add",), ("bn", "add"),
                                       ("add", "relu"), ("bn", "add", "relu"))
HEADS = tuple(f"hl.{k}" for k in WEIGHTED)
#: The ops a head absorbs. The add and the activations are also matched at the torch level (IR
#: written by hand or converted in part); batch norms and heads must be hl ops (they need owners).
_STEP_OPS = {"bn": ("hl.batch_norm",), "add": ("hl.add", "torch.add"),
             "relu": ("hl.relu", "hl.relu6", "hl.hardtanh", "torch.relu", "torch.relu6", "torch.hardtanh")}
#: A dropout between the head (after its batch norm) and the residual add: the identity in eval, so it may sit
#: inside a fused group; the fused op applies it in training (its `dropout` rate). Not a user-selectable step: it
#: is allowed inside every enabled chain with an add.
_DROPOUT_OPS = ("torch.dropout",)
#: Attribute on a head op listing the fusions it was refused, {pattern, reason} each.
UNFUSED_ATTR = "hl.unfused"


def pattern_name(steps: tuple[str, ...], head: str = "conv") -> str:
    return "-".join((head, *steps))


ALL_PATTERNS = tuple(pattern_name(c) for c in CHAINS)


def parse_patterns(names: list[str]) -> set[tuple[str, tuple[str, ...]]]:
    """{(head kind or "conv", steps)} from option values; ValueError naming the bad entry."""
    out = set()
    heads = ("conv", *WEIGHTED)
    for name in names:
        head, *steps = name.strip().split("-")
        if head not in heads or tuple(steps) not in CHAINS:
            raise ValueError(f"unknown fusion pattern '{name}'; known: {', '.join(ALL_PATTERNS)} "
                             f"(or with the head {', '.join(WEIGHTED)} instead of 'conv')")
        out.add((head, tuple(steps)))
    return out


_PARTS = {(bn, add, act): tuple(n for n, on in (("bn", bn), ("add", add), ("relu", act)) if on)
          for bn in (False, True) for add in (False, True) for act in (False, True)}


def fused_parts(o: Operation) -> tuple[str, ...]:
    """The chain steps an hl weighted op already carries, in order (asked for every candidate head)."""
    seg = o.properties.get("operandSegmentSizes")
    if isinstance(seg, DenseArrayAttr) and len(seg.value) == len(o.definition.operands):
        has_residual = seg.value[-1] > 0  # residual is the last declared operand (hl.FUSED_OPERANDS)
    else:
        has_residual = o.residual is not None
    return _PARTS[(o.get_attr("bn_eps") is not None, has_residual, o.get_attr("activation") is not None)]


def _relu_like(o: Operation) -> bool:
    if not o.name.endswith(".hardtanh"):
        return True
    lo, hi = o.get_attr("min_val"), o.get_attr("max_val")
    return isinstance(lo, FloatAttr) and isinstance(hi, FloatAttr) and lo.value == 0.0 and hi.value == 6.0


def activation_of(o: Operation) -> str:
    return "relu" if o.name.endswith(".relu") else "relu6"


@functools.cache
def build_dag(steps: tuple[str, ...], split: int, one_use: bool, dropout: bool = False) -> OpPattern:
    """The DAG for absorbing steps[split:] into a head that already carries steps[:split] (built once);
    `dropout`: with a dropout (captured as "drop") between the step before the add and the add."""
    have = steps[:split]
    node: OpPattern = op(HEADS, "x", ..., name="head", one_use=one_use,
                         where=lambda o, have=have: fused_parts(o) == have)
    todo = steps[split:]
    for i, step in enumerate(todo):
        last = i == len(todo) - 1
        if step == "bn":
            node = op(_STEP_OPS["bn"], node, ..., name="bn", one_use=one_use and not last)
        elif step == "add":
            if dropout:
                node = op(_DROPOUT_OPS, node, name="drop", one_use=one_use)
            node = op(_STEP_OPS["add"], node, "residual", name="add", commutative=True, one_use=one_use and not last)
        else:
            node = op(_STEP_OPS["relu"], node, name="act", where=_relu_like)
    return node


# -- legality -------------------------------------------------------------------------------------
def who(o: Operation) -> str:
    """How reports name an op: its owner (or module path), else its op name and enclosing module."""
    for a in ("owner", "module"):
        v = o.get_attr(a)
        if isinstance(v, StringAttr):
            return v.value
    if o.name == "func.return":
        return "the function's results"
    scope = o.get_attr("scope")
    return f"{o.name} in {scope.value}" if isinstance(scope, StringAttr) else o.name


def _channels(head: Operation) -> tuple[int | None, str | None]:
    """(output channels, why batch norm cannot fold) of a weighted op from its result type."""
    t = head.results[0].type
    if not isinstance(t, ShapedType) or t.shape is None:
        return None, f"{who(head)}'s output shape is unknown"
    kind = head.name[len("hl."):]
    if kind == "linear":
        if t.rank != 2:
            return None, (f"batch_norm normalizes dim 1 of the rank-{t.rank} output of {who(head)}, "
                          "not its output features")
        return t.shape[1], None
    nd = 1 if kind == "conv1d" else 2
    if t.rank != nd + 2:
        return None, f"{who(head)} has an unbatched output (rank {t.rank})"
    return t.shape[1], None


def _bn_problem(head: Operation, bn: Operation) -> str | None:
    if bn.running_mean is None or bn.running_var is None:
        return f"{who(bn)} has no running statistics (track_running_stats=False)"
    channels, why = _channels(head)
    if why is not None:
        return why
    for v in (bn.running_mean, bn.running_var, bn.weight, bn.bias):
        t = v.type if v is not None else None
        if isinstance(t, ShapedType) and tuple(t.shape or ()) != (channels,):
            n = t.shape[0] if t.shape else "?"
            return f"{who(bn)} has {n} features but {who(head)} has {channels} output channels"
    return None


def _add_problem(head_value: Value, add: Operation, residual: Value) -> str | None:
    alpha = add.get_attr("alpha")
    if alpha is not None and not (isinstance(alpha, (IntegerAttr, FloatAttr)) and alpha.value == 1):
        return f"{who(add)} scales its operand (alpha = {alpha.value})"
    rt, ht = residual.type, head_value.type
    if not isinstance(rt, ShapedType) or rt.element_type is not ht.element_type:
        return f"the residual of {who(add)} is {rt}, not a {ht.element_type} tensor"
    if add.results[0].type != ht:
        return f"{who(add)} broadcasts {who(head_value.op)}'s output {ht} to {add.results[0].type}"
    if rt != ht:  # `conv(x) + bias_param` ([1, C, 1, 1]): not a residual the op's requantize can take
        return f"the residual of {who(add)} is {rt}, broadcast to {who(head_value.op)}'s output {ht}"
    return None


def _dropout_problem(drop: Operation) -> str | None:
    """Why a dropout may not sit inside a fused group: only one that is the identity in eval may."""
    if hl.drops_in_eval(drop):
        return f"{who(drop)} drops in eval mode too (training fixed True)"
    kind = drop.get_attr("kind")
    if isinstance(kind, StringAttr) and kind.value != "dropout":
        article = "an" if kind.value.startswith(tuple("aeiou")) else "a"
        return f"{who(drop)} is {article} {kind.value}, not an element-wise dropout"
    return None


def _applies_in_training(drop: Operation) -> bool:
    """Whether the dropout draws random numbers when the model trains (a rate > 0, not fixed off)."""
    training, p = drop.get_attr("training"), drop.get_attr("p")
    return not (training is not None and not training.value) and not (isinstance(p, FloatAttr) and p.value <= 0)


def _draws_random(o: Operation) -> bool:
    """Whether running `o` in training may draw from torch's global RNG: a dropout, a fused op applying one, or an
    opaque call (it may call anything)."""
    return any((n.name in _DROPOUT_OPS and _applies_in_training(n)) or n.get_attr("dropout") is not None
               or n.name == "torch.call" for n in o.walk())


def _residual_before(m: Match, drop: Operation) -> bool:
    """Whether the residual is ready where the dropout runs, so the fused op can take the dropout's place."""
    r = m.get("residual")
    if not isinstance(r, OpResult) or r.op.parent is not drop.parent:
        return True  # a block argument or a value of an enclosing region: defined before the whole block
    return r.op.is_before_in_block(drop)


def _fused_op_place(m: Match) -> Operation:
    """The op the fused op is inserted before. Eager applies a dropout where it is written; the fused op applies
    it where it runs, so it runs at the dropout's place when the residual is ready there (the order of torch's
    random draws is eager's, whatever random ops follow), else at the chain's end."""
    drop = m.get("drop")
    if drop is not None and _applies_in_training(drop) and _residual_before(m, drop):
        return drop
    return m.root


def _dropout_order_problem(m: Match, drop: Operation) -> str | None:
    """Why a training dropout may not move to the chain's end: a random op runs between them, so training would
    drop other units than eager from the same RNG state."""
    if _fused_op_place(m) is drop or not _applies_in_training(drop) or drop.parent is not m.root.parent:
        return None
    o = drop.next_op
    while o is not None and o is not m.root:
        if _draws_random(o):
            return (f"{who(o)} draws random numbers between {who(drop)} and {who(m.root)}, and the residual is "
                    f"computed after the dropout: in training the fused op would drop other units than eager")
        o = o.next_op
    return None


def _chain_steps(m: Match, steps: tuple[str, ...], split: int) -> list[tuple[str, Operation]]:
    """(step, op) of the head ("head") and then of each absorbed op in order, a dropout as "drop"."""
    names = {"bn": "bn", "add": "add", "relu": "act"}
    out = [("head", m["head"])]
    for s in steps[split:]:
        if s == "add" and "drop" in m:
            out.append(("drop", m["drop"]))
        out.append((s, m[names[s]]))
    return out


def _chain_ops(m: Match, steps: tuple[str, ...], split: int) -> list[Operation]:
    """Head first, then the absorbed ops in order."""
    return [o for _, o in _chain_steps(m, steps, split)]


def problems(m: Match, steps: tuple[str, ...], split: int, enabled: set, *, check_uses: bool) -> list[str]:
    """Why the matched chain must not be fused (empty: it may)."""
    head = m["head"]
    reasons: list[str] = []
    kind = head.name[len("hl."):]
    if ("conv", steps) not in enabled and (kind, steps) not in enabled:
        listed = ",".join(sorted(pattern_name(s, h) for h, s in enabled))
        reasons.append(f"pattern '{pattern_name(steps)}' is not enabled (fuse{{patterns={listed}}})")
    chain = _chain_ops(m, steps, split)
    value = head.results[0]
    for step, o in _chain_steps(m, steps, split)[1:]:
        why = None
        if step == "bn":
            why = _bn_problem(head, o)
        elif step == "drop":
            why = _dropout_problem(o) or _dropout_order_problem(m, o)
        elif step == "add":
            why = _add_problem(value, o, m["residual"])
        if why:
            reasons.append(why)
        value = o.results[0]
    groups = {o.get_attr("fused_group") for o in chain}
    if len(groups) > 1:
        named = ", ".join(f"{who(o)} in {g.value!r}" if isinstance(g, StringAttr) else f"{who(o)} in none"
                          for o, g in ((o, o.get_attr("fused_group")) for o in chain))
        reasons.append(f"the user's torch.ao fused groups differ ({named})")
    if check_uses:
        for o in chain[:-1]:
            r = o.results[0]
            if len(r._uses) != 1:
                nxt = _next_in_chain(chain, o)
                users = []
                for u in r.uses:
                    if u.owner is not nxt and who(u.owner) not in users:
                        users.append(who(u.owner))
                desc = who(o) if o is not head or not fused_parts(o) else f"{who(o)} (fused with " \
                    f"{', '.join(fused_parts(o))})"
                if users:
                    reasons.append(f"{desc}'s output is also used by {', '.join(users)}")
                else:
                    reasons.append(f"{desc}'s output is used more than once by {who(nxt)}")
    return reasons


def _next_in_chain(chain: list[Operation], o: Operation) -> Operation | None:
    i = chain.index(o)
    return chain[i + 1] if i + 1 < len(chain) else None


# -- rewriting ------------------------------------------------------------------------------------
def _locations(o: Operation) -> tuple[list[Location], list[StringAttr]]:
    """The member locations and owner names an op contributes to a fused location."""
    loc = o.location
    if isinstance(loc, FusedLoc) and isinstance(loc.metadata, ArrayAttr):
        return list(loc.locations), list(loc.metadata)
    owner = o.properties.get("owner")
    return [loc], [owner if isinstance(owner, StringAttr) else StringAttr(who(o))]


_ACTIVATION_ATTRS = {"relu": StringAttr("relu"), "relu6": StringAttr("relu6")}
_SEGMENTS: dict[tuple[int, ...], DenseArrayAttr] = {}


def _segment_sizes(sizes: list[int]) -> DenseArrayAttr:
    key = tuple(sizes)
    a = _SEGMENTS.get(key)
    if a is None:
        a = _SEGMENTS[key] = DenseArrayAttr(i32, key)
    return a


def build_fused(m: Match, steps: tuple[str, ...], split: int) -> Operation:
    """The fused hl op for a legal match (not inserted): the head's operands and attributes plus
    the absorbed parts, in the order the hl op declares them."""
    chain = _chain_steps(m, steps, split)
    head = chain[0][1]
    cls = type(head)
    d = cls.definition
    operands = head.operands
    groups = {name: operands[start:start + n] for (name, _), (start, n) in zip(d.operands, d.operand_groups(head))}
    props = dict(head.properties)
    locs, members = _locations(head)
    for step, o in chain[1:]:
        if step == "bn":
            for name, v in (("bn_weight", o.weight), ("bn_bias", o.bias), ("bn_mean", o.running_mean),
                            ("bn_var", o.running_var), ("bn_num_batches_tracked", o.num_batches_tracked)):
                groups[name] = (v,) if v is not None else ()
            props["bn_eps"] = o.get_attr("eps")
            props["bn_owner"] = o.get_attr("owner")
            if o.get_attr("momentum") is not None:
                props["bn_momentum"] = o.get_attr("momentum")
            if o.get_attr("training") is not None:  # a mode the batch norm fixed: the fused op keeps it
                props["bn_training"] = o.get_attr("training")
            if o.get_attr("sync") is not None:  # SyncBatchNorm: its statistics stay synchronised when fused
                props["bn_sync"] = o.get_attr("sync")
        elif step == "drop":
            p = o.get_attr("p")
            if o.get_attr("training") is None and isinstance(p, FloatAttr) and p.value > 0:
                props["dropout"] = p  # follows the module's mode: applied in training only
        elif step == "add":
            groups["residual"] = (m["residual"],)
        else:
            props["activation"] = _ACTIVATION_ATTRS[activation_of(o)]
        more_locs, more_members = _locations(o)
        locs += more_locs
        members += more_members
    new_operands: list[Value] = []
    sizes = []
    for name, _ in d.operands:
        vals = groups[name]
        new_operands.extend(vals)
        sizes.append(len(vals))
    ordered = {k: props[k] for k in d.attributes if props.get(k) is not None}
    ordered["operandSegmentSizes"] = _segment_sizes(sizes)
    attrs = {k: v for k, v in head.attributes.items() if k != UNFUSED_ATTR}
    loc = FusedLoc(locs, ArrayAttr(members))
    last = chain[-1][1]
    new = cls.create(new_operands, [last.results[0].type], attrs, ordered, location=loc)
    new.results[0].name_hint = last.results[0].name_hint
    return new


class FusionPattern(DagPattern):
    """Absorb steps[split:] into a head op already carrying steps[:split]."""

    def __init__(self, steps: tuple[str, ...], split: int, enabled: set, counts: dict, dropout: bool = False) -> None:
        self.steps, self.split, self.enabled, self.counts = steps, split, enabled, counts
        self.dag = build_dag(steps, split, one_use=True, dropout=dropout)
        self.benefit = len(steps) - split
        # what must produce the root's first operand (either operand of an add): a cheap test
        # before the DAG matcher, which most ops of a model fail at once
        self.producers = frozenset(self.dag.operands[0].names)
        self.operands_to_check = 2 if steps[-1] == "add" else 1
        # when that producer is the head itself, what it must already carry
        self.head_parts = steps[:split] if split == len(steps) - 1 and not dropout else None

    def match_and_rewrite(self, target: Operation, rewriter: PatternRewriter) -> bool:
        producers, head_parts = self.producers, self.head_parts
        for v in target.operands[:self.operands_to_check]:
            if isinstance(v, OpResult) and v.op.name in producers and (head_parts is None or
                                                                       fused_parts(v.op) == head_parts):
                break
        else:
            return False
        best: Match | None = None
        for m in all_matches(self.dag, target):
            if problems(m, self.steps, self.split, self.enabled, check_uses=False):
                continue
            if best is None or best["head"].is_before_in_block(m["head"]):
                best = m  # the residual goes to the op computed later
        if best is None:
            return False
        chain = _chain_ops(best, self.steps, self.split)
        rewriter.set_insertion_point_before(_fused_op_place(best))
        new = rewriter.insert(build_fused(best, self.steps, self.split))
        rewriter.replace_op(target, new)
        for o in reversed(chain[:-1]):
            rewriter.erase_op(o)
        name = pattern_name(fused_parts(new))
        self.counts[name] = self.counts.get(name, 0) + 1
        return True


def all_matches(dag: OpPattern, target: Operation) -> Iterator[Match]:
    for d in dag.match_op(target, {}):
        m = Match(d)
        m.root = target
        yield m


# -- refusals -------------------------------------------------------------------------------------
def find_refusals(ops: Iterable[Operation], enabled: set) -> dict[Operation, list[tuple[str, str]]]:
    """For each head op, the fusions it could take but may not: [(pattern, reasons)] in program order."""
    relaxed = [(steps, split, build_dag(steps, split, one_use=False, dropout=d))
               for steps, split, d in _variants(CHAINS)]
    best: dict[tuple[Operation, Operation], tuple[int, str, str]] = {}
    order: list[tuple[Operation, Operation]] = []
    roots = {n for names in _STEP_OPS.values() for n in names}
    for target in ops:
        if target.name not in roots:
            continue
        for steps, split, dag in relaxed:
            if steps[-1] != _step_of(target):
                continue
            for m in all_matches(dag, target):
                reasons = problems(m, steps, split, enabled, check_uses=True)
                if not reasons:
                    continue
                chain = _chain_ops(m, steps, split)
                key = (chain[0], chain[1])
                entry = (len(steps) - split, pattern_name(steps), "; ".join(reasons))
                if key not in best:
                    order.append(key)
                    best[key] = entry
                elif entry[0] > best[key][0]:
                    best[key] = entry
    out: dict[Operation, list[tuple[str, str]]] = {}
    for key in order:
        _, name, why = best[key]
        out.setdefault(key[0], []).append((name, why))
    return out


def _variants(chains: Iterable[tuple[str, ...]]) -> Iterator[tuple[tuple[str, ...], int, bool]]:
    """(steps, split, with a dropout before the add) for every way a head can absorb a chain's rest."""
    for steps in chains:
        for split in range(len(steps)):
            yield steps, split, False
            if "add" in steps[split:]:
                yield steps, split, True


def _step_of(o: Operation) -> str:
    for step, names in _STEP_OPS.items():
        if o.name in names:
            return step
    return ""


def record_refusals(root: Operation, enabled: set) -> tuple[int, Counter]:
    """Set `hl.unfused` on every head op with refused fusions (clearing stale records).

    Returns how many refusals there are and how many fused ops of each pattern the IR holds.
    """
    ops = list(root.walk(include_self=False))
    groups: Counter = Counter()
    heads = frozenset(HEADS)
    for o in ops:
        if o.attributes and UNFUSED_ATTR in o.attributes:
            del o.attributes[UNFUSED_ATTR]
        if o.name in heads:
            parts = fused_parts(o)
            if parts:
                groups[pattern_name(parts)] += 1
    n = 0
    for head, entries in find_refusals(ops, enabled).items():
        head.attributes[UNFUSED_ATTR] = ArrayAttr(
            DictionaryAttr({"pattern": StringAttr(p), "reason": StringAttr(r)}) for p, r in entries)
        n += len(entries)
    return n, groups


def _unconverted(root: Operation) -> Operation | None:
    for o in root.walk(include_self=False):
        if o.name in ("torch.batch_norm", *(f"torch.{k}" for k in WEIGHTED)):
            return o
    return None


@register_pass("fuse")
class Fuse(Pass):
    """Fuse conv/conv-transpose/linear + batch_norm + residual add + relu/relu6 into one hl op."""

    patterns = Option(list[str], default=list(ALL_PATTERNS), help="chains to fuse: " + ", ".join(ALL_PATTERNS),
                      validate=parse_patterns)
    max_iterations = Option(int, default=10, help="rescans of the whole op before giving up")

    def run(self, target: Operation) -> None:
        try:
            enabled = parse_patterns(self.patterns)
        except ValueError as e:
            raise self.fail(str(e), target) from None
        left = _unconverted(target)
        if left is not None:
            raise self.fail(f"fuse works on hl ops, but '{left.name}' is still at the torch level; run "
                            "functional-to-module first: builtin.module(func.func(functional-to-module, fuse))", left)
        counts: dict[str, int] = {}
        chains = {steps for _, steps in enabled}
        pats = [FusionPattern(steps, split, enabled, counts, d) for steps, split, d in _variants(CHAINS)
                if steps in chains]
        # Not reaching a fixpoint leaves valid IR with fewer fusions; the driver warns, as canonicalize does.
        apply_patterns_greedily(target, pats, max_iterations=self.max_iterations, fold=False, erase_dead=False)
        self.statistics["fusion rewrites"] += sum(counts.values())
        refused, groups = record_refusals(target, enabled)
        for name, n in sorted(groups.items()):
            self.statistics[f"{name} ops"] += n
        self.statistics["refused fusions"] += refused


__all__ = ["ALL_PATTERNS", "CHAINS", "Fuse", "UNFUSED_ATTR", "find_refusals", "fused_parts", "parse_patterns"]
