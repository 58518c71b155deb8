"""A declarative DAG matcher, so a fusion pattern reads like the pattern it matches.

    RELU_CONV = op("torch.relu", op("torch.conv2d", "x", "w", "b", name="conv", one_use=True))

    class FuseConvRelu(DagPattern):
        dag = RELU_CONV
        def rewrite(self, m, rewriter):
            conv = m["conv"]          # the matched conv op
            x = m["x"]                # the value bound to "x"
            ...

Operand patterns are: a string (capture any value under that name; the same
name twice must bind the same value), `any_value()`, `constant(name)` (a value
made by a ConstantLike op: `m[name]` is its attribute, `m[name + "_value"]` the
constant's Value), or a nested `op(...)`.
`...` as the last operand ignores the remaining operands. `commutative=True`
also tries the two operands swapped, for residual adds written either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from irq.ir.operation import Operation
from irq.ir.traits import ConstantLike
from irq.ir.values import OpResult, Value
from irq.rewrite.pattern import PatternRewriter, RewritePattern


class Match(dict):
    """Captured values and ops by name; `root` is the op the pattern matched at."""

    root: Operation

    def op(self, name: str) -> Operation:
        v = self[name]
        if not isinstance(v, Operation):
            raise TypeError(f"capture '{name}' is a value, not an op")
        return v


class ValuePattern:
    def match_value(self, v: Value, m: dict) -> Iterator[dict]:
        raise TypeError("abstract")


class _Any(ValuePattern):
    def __init__(self, name: str | None) -> None:
        self.name = name

    def match_value(self, v: Value, m: dict) -> Iterator[dict]:
        if self.name is None:
            yield m
            return
        bound = m.get(self.name)
        if bound is None:
            m2 = dict(m)
            m2[self.name] = v
            yield m2
        elif bound is v:
            yield m


class _Constant(ValuePattern):
    def __init__(self, name: str | None, where: Callable[[Any], bool] | None) -> None:
        self.name = name
        self.where = where

    def match_value(self, v: Value, m: dict) -> Iterator[dict]:
        if not isinstance(v, OpResult) or ConstantLike not in v.op.traits:
            return
        attr = v.op.get_attr("value")
        if self.where is not None and not self.where(attr):
            return
        m2 = dict(m)
        if self.name:
            if self.name in m2 and m2[self.name] is not attr:
                return
            m2[self.name] = attr
            m2[self.name + "_value"] = v
        yield m2


def any_value(name: str | None = None) -> ValuePattern:
    return _Any(name)


def constant(name: str | None = None, where: Callable[[Any], bool] | None = None) -> ValuePattern:
    """A value defined by a constant op; captures its `value` attribute (and `<name>_value`)."""
    return _Constant(name, where)


def _as_value_pattern(p: Any) -> Any:
    if isinstance(p, str):
        return _Any(p)
    if p is None:
        return _Any(None)
    return p


class OpPattern(ValuePattern):
    """Matches an op (by name(s) or class), its operands recursively, and constraints."""

    def __init__(self, kind: str | type | tuple, *operands: Any, name: str | None = None, one_use: bool = False,
                 attrs: dict[str, Any] | None = None, where: Callable[[Operation], bool] | None = None,
                 commutative: bool = False) -> None:
        self.kinds = kind if isinstance(kind, tuple) else (kind,)
        self.rest = bool(operands) and operands[-1] is Ellipsis
        self.operands = [_as_value_pattern(p) for p in (operands[:-1] if self.rest else operands)]
        self.name = name
        self.one_use = one_use
        self.attrs = attrs or {}
        self.where = where
        self.commutative = commutative

    @property
    def names(self) -> tuple[str, ...] | None:
        out = []
        for k in self.kinds:
            if isinstance(k, str):
                out.append(k)
            elif isinstance(k, type) and getattr(k, "name", ""):
                out.append(k.name)
            else:
                return None
        return tuple(out)

    def _kind_ok(self, op: Operation) -> bool:
        for k in self.kinds:
            if isinstance(k, str):
                if op.name == k:
                    return True
            elif isinstance(op, k):
                return True
        return False

    def match_value(self, v: Value, m: dict) -> Iterator[dict]:
        if not isinstance(v, OpResult):
            return
        if self.one_use and len(v._uses) != 1:
            return
        yield from self.match_op(v.op, m)

    def match_op(self, op: Operation, m: dict) -> Iterator[dict]:
        if not self._kind_ok(op):
            return
        for k, want in self.attrs.items():
            got = op.get_attr(k)
            if callable(want) and not isinstance(want, type):
                if not want(got):
                    return
            elif want is None:
                if got is not None:
                    return
            else:
                py = got.to_python() if got is not None else None
                if got != want and py != want:
                    return
        if self.where is not None and not self.where(op):
            return
        operands = op.operands
        n = len(self.operands)
        if (len(operands) != n and not self.rest) or len(operands) < n:
            return
        if self.name:
            if self.name in m and m[self.name] is not op:
                return
            m = dict(m)
            m[self.name] = op
        orders = [list(range(n))]
        if self.commutative and n == 2:
            orders.append([1, 0])
        for order in orders:
            yield from self._match_operands(operands, order, 0, m)

    def _match_operands(self, operands, order, i, m) -> Iterator[dict]:
        if i == len(order):
            yield m
            return
        pat = self.operands[i]
        for m2 in pat.match_value(operands[order[i]], m):
            yield from self._match_operands(operands, order, i + 1, m2)


def op(kind: str | type | tuple, *operands: Any, **kw: Any) -> OpPattern:
    return OpPattern(kind, *operands, **kw)


def match_op(p: OpPattern, target: Operation) -> Match | None:
    """The first match of `p` rooted at `target`, or None."""
    for m in p.match_op(target, {}):
        result = Match(m)
        result.root = target
        return result
    return None


class DagPattern(RewritePattern):
    """A RewritePattern given by a `dag` (an `op(...)` tree) and a `rewrite(match, rewriter)` method."""

    dag: OpPattern

    @property
    def root(self) -> tuple:
        return self.dag.kinds

    def root_names(self) -> tuple[str, ...] | None:
        return self.dag.names

    def match_and_rewrite(self, target: Operation, rewriter: PatternRewriter) -> bool:
        m = match_op(self.dag, target)
        if m is None:
            return False
        return self.rewrite(m, rewriter) is not False

    def rewrite(self, m: Match, rewriter: PatternRewriter) -> bool | None:
        raise TypeError(f"{type(self).__name__} must implement rewrite(match, rewriter)")
