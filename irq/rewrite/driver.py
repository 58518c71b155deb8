"""The greedy worklist driver (MLIR's applyPatternsGreedily).

Ops are popped from a worklist; each is erased if trivially dead, folded through
its `fold` hook, or offered to the patterns registered for its name (highest
benefit first). Every change reported by the rewriter puts exactly the affected
ops back on the worklist: new ops, modified ops, users of replaced values, and
the defining ops of an erased op's operands (which may have become dead). When
the worklist drains, the driver rescans once more to confirm the fixpoint;
failing to reach one within `max_iterations` is reported as a diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from irq.diagnostics import Diagnostic, emit
from irq.ir.attributes import Attribute
from irq.ir.operation import Operation, UnregisteredOp
from irq.ir.traits import ConstantLike, IsTerminator, Pure
from irq.ir.values import OpResult, Value
from irq.rewrite.pattern import FunctionPattern, Listener, PatternRewriter, RewritePattern


class _WorklistListener(Listener):
    __slots__ = ("driver",)

    def __init__(self, driver: GreedyDriver) -> None:
        self.driver = driver

    def op_inserted(self, op: Operation) -> None:
        self.driver.push(op)

    def op_modified(self, op: Operation) -> None:
        self.driver.push(op)

    def op_replaced(self, op: Operation, values: Sequence[Value]) -> None:
        push = self.driver.push
        for r in op.results:
            for use in r._uses:
                push(use.owner)

    def op_erased(self, op: Operation) -> None:
        d = self.driver
        d.present.discard(op)
        push = d.push
        for v in op.operands:
            if isinstance(v, OpResult):
                push(v.op)


_MISSING = object()


def _has_fold(cls: type, cache: dict) -> bool:
    r = cache.get(cls)
    if r is None:
        from irq.ir.opdef import Op
        fold = getattr(cls, "fold", None)
        r = cache[cls] = fold is not None and fold is not Op.fold
    return r


def is_trivially_dead(op: Operation) -> bool:
    """Pure, results unused, not a terminator: removable without changing meaning."""
    traits = op.traits
    if Pure not in traits or IsTerminator in traits:
        return False
    for r in op.results:
        if r._uses:
            return False
    return True


def _collect_ops(root: Operation, post_order: bool) -> list[Operation]:
    """Every op nested in `root` (not root itself), in `Operation.walk` order, as a list.

    The seed of every driver iteration visits the whole IR; walking the linked op
    lists directly instead of through nested generators keeps that pass cheap.
    """
    out: list[Operation] = []
    append = out.append
    stack: list[tuple] = []
    owner = root
    blocks = [b for r in root.regions for b in r.blocks]
    bi = 0
    op = blocks[0]._first if blocks else None
    while True:
        while op is None:
            bi += 1
            if bi < len(blocks):
                op = blocks[bi]._first
                continue
            if post_order and owner is not root:
                append(owner)  # after everything nested in it
            if not stack:
                return out
            owner, blocks, bi, op = stack.pop()
        nxt = op._next
        if op.regions:
            if not post_order:
                append(op)
            stack.append((owner, blocks, bi, nxt))
            owner = op
            blocks = [b for r in op.regions for b in r.blocks]
            bi = 0
            op = blocks[0]._first if blocks else None
        else:
            append(op)
            op = nxt


class GreedyDriver:
    def __init__(self, root: Operation, patterns: Iterable[RewritePattern], *, max_iterations: int = 10,
                 fold: bool = True, erase_dead: bool = True,
                 order: str | Callable[[list[Operation]], list[Operation]] = "post",
                 max_rewrites: int | None = None) -> None:
        self.root = root
        self.by_name: dict[str, list[RewritePattern]] = {}
        self.generic: list[RewritePattern] = []
        for p in patterns:
            names = p.root_names()
            if names is None:
                self.generic.append(p)
            else:
                for n in names:
                    self.by_name.setdefault(n, []).append(p)
        self._merged: dict[str, list[RewritePattern]] = {}
        self.max_iterations = max_iterations
        self.fold = fold
        self.erase_dead = erase_dead
        self.order = order
        self.max_rewrites = max_rewrites
        self.worklist: list[Operation] = []
        self.present: set[Operation] = set()
        self.rewriter = PatternRewriter(_WorklistListener(self))
        self._fold_cache: dict[type, bool] = {}
        self._materializers: dict[str, Callable | None] = {}  # dialect name -> constant hook
        # per op class: (erasable when unused, worth folding, pattern callables or None = look up by name)
        self._info: dict[type, tuple[bool, bool, tuple[Callable, ...] | None]] = {}
        self.num_rewrites = 0

    def push(self, op: Operation) -> None:
        if op not in self.present:
            self.present.add(op)
            self.worklist.append(op)

    def _patterns_for(self, op: Operation) -> list[RewritePattern]:
        name = op.name
        pats = self._merged.get(name)
        if pats is None:
            pats = self.by_name.get(name, []) + [g for g in self.generic if _generic_matches(g, op)]
            pats.sort(key=lambda p: -p.benefit)
            if not self.generic or all(g.root is None for g in self.generic):
                self._merged[name] = pats
        return pats

    def _class_info(self, op: Operation) -> tuple[bool, bool, tuple[Callable, ...] | None]:
        """What the drain loop needs to know about ops of `type(op)`, computed once per class.

        Traits, the fold hook and (for registered ops, whose name is the class's) the
        pattern list depend only on the class. Unregistered ops carry their name per
        instance, so their patterns are looked up by name each time.
        """
        cls = type(op)
        traits = cls.traits
        erasable = Pure in traits and IsTerminator not in traits
        # a constant folds to itself, so folding one never changes anything
        foldable = ConstantLike not in traits and _has_fold(cls, self._fold_cache)
        calls = None if issubclass(cls, UnregisteredOp) else _callables(self._patterns_for(op))
        info = self._info[cls] = (erasable, foldable, calls)
        return info

    def _seed(self) -> None:
        ops = _collect_ops(self.root, post_order=self.order != "pre")
        if callable(self.order):
            ops = list(self.order(ops))
        # the worklist pops from the end: reverse so ops are visited in the chosen order
        ops.reverse()
        self.worklist = ops
        self.present = set(ops)

    def run(self) -> bool:
        """Rewrite to a fixpoint; True if it converged within the iteration budget."""
        for _ in range(self.max_iterations):
            self._seed()
            if not self._drain():
                return True
            if self.max_rewrites is not None and self.num_rewrites >= self.max_rewrites:
                break
        emit(Diagnostic("warning", f"greedy pattern rewriter did not converge after {self.max_iterations} "
                                   f"iterations ({self.num_rewrites} rewrites)", self.root.location, None))
        return False

    def _drain(self) -> bool:
        changed = False
        worklist = self.worklist
        pop = worklist.pop
        discard = self.present.discard
        rewriter = self.rewriter
        root = self.root
        erase_dead = self.erase_dead
        fold = self.fold
        limit = self.max_rewrites
        infos = self._info
        # this loop runs for every visit of every op: the per-class facts come from one
        # dict lookup and the common checks are inlined
        while worklist:
            op = pop()
            discard(op)
            if op.parent is None and op is not root:
                continue  # erased or detached meanwhile
            info = infos.get(type(op))
            if info is None:
                info = self._class_info(op)
            erasable, foldable, calls = info
            if erasable and erase_dead:
                for r in op.results:
                    if r._uses:
                        break
                else:  # trivially dead (see is_trivially_dead)
                    rewriter.erase_op(op)
                    changed = True
                    continue
            if foldable and fold:
                result = op.fold()
                if result is not None and self._apply_fold(op, result):
                    changed = True
                    self.num_rewrites += 1
                    continue
            if calls is None:
                calls = _callables(self._patterns_for(op))
            for call in calls:
                rewriter._block, rewriter._before = op.parent, op  # insertion point: before op
                if call(op, rewriter):
                    changed = True
                    self.num_rewrites += 1
                    break
            if limit is not None and self.num_rewrites >= limit:
                return True
        return changed

    def _apply_fold(self, op: Operation, result) -> bool:
        """Replace `op` by the values / materialized constants `fold` returned; False if it cannot."""
        if isinstance(result, (Attribute, Value)):
            result = (result,)
        if len(result) != len(op.results):
            return False
        rewriter = self.rewriter
        values = []
        for r, f in zip(op.results, result):
            if isinstance(f, Value):
                values.append(f)
                continue
            dialect = op.dialect_name
            hook = self._materializers.get(dialect, _MISSING)
            if hook is _MISSING:
                hook = self._materializers[dialect] = _materializer(dialect)
                if hook is None:
                    _warn_no_materializer(op)
            const = None if hook is None else hook(f, r.type, op.location)
            if const is None:
                return False
            rewriter.set_insertion_point_before(op)
            rewriter.insert(const)
            values.append(const.results[0])
        if all(v is r for v, r in zip(values, op.results)):
            return False  # in-place fold: the op updated itself
        rewriter.replace_op(op, values)
        return True


def _callables(patterns: list[RewritePattern]) -> tuple[Callable, ...]:
    """`match_and_rewrite` of each pattern; a plain FunctionPattern's function directly (same truth value)."""
    return tuple(p.fn if type(p) is FunctionPattern else p.match_and_rewrite for p in patterns)


def _generic_matches(p: RewritePattern, op: Operation) -> bool:
    r = p.root
    if r is None:
        return True
    items = r if isinstance(r, tuple) else (r,)
    return any(isinstance(op, x) if isinstance(x, type) else op.name == x for x in items)


def _materializer(dialect_name: str) -> Callable | None:
    """The dialect's `materialize_constant` hook (MLIR's materializeConstant), or None.

    There is no fallback to another dialect's constant: an op of a user dialect quietly
    turning into an `arith.constant` would leave IR its own passes do not expect. As in
    MLIR, a fold to an attribute is applied only where the op's dialect can build the constant.
    """
    from irq.ir.dialect import default_context
    dialect = default_context().dialects.get(dialect_name)
    return getattr(dialect, "materialize_constant", None)


def _warn_no_materializer(op: Operation) -> None:
    emit(Diagnostic("warning", f"'{op.name}' folded to a constant, but dialect '{op.dialect_name}' has no "
                               f"materialize_constant hook: the fold is not applied (set "
                               f"Dialect.materialize_constant, see docs/writing-a-dialect.md)", op=op))


def materialize_constant(op: Operation, value: Attribute, type) -> Operation | None:
    """A constant op producing `value` of `type`, from the op's dialect (MLIR's materializeConstant)."""
    hook = _materializer(op.dialect_name)
    if hook is None:
        return None
    return hook(value, type, op.location)


def apply_patterns_greedily(root: Operation, patterns: Iterable[RewritePattern], *, max_iterations: int = 10,
                            fold: bool = True, erase_dead: bool = True,
                            order: str | Callable[[list[Operation]], list[Operation]] = "post",
                            max_rewrites: int | None = None) -> bool:
    """Apply `patterns` (plus folding and dead-op erasure) inside `root` until nothing changes.

    Returns True when a fixpoint was reached; otherwise a warning diagnostic is
    emitted and False returned. `order` ("post", "pre" or a function reordering
    the initial op list) only changes the path, not the fixpoint, for confluent
    pattern sets.
    """
    return GreedyDriver(root, patterns, max_iterations=max_iterations, fold=fold, erase_dead=erase_dead,
                        order=order, max_rewrites=max_rewrites).run()
