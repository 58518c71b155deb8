"""The pass manager: nested pipelines, verification, failure recovery, reproducers.

    pm = PassManager.parse("builtin.module(func.func(canonicalize, cse), dce)")
    pm.run(module)                  # in place; raises PassFailure

Each pass runs on every op of its manager's anchor kind directly nested in the
op the parent manager runs on, as in MLIR. Before a pass on the top op, and before
a nested pipeline (`func.func(...)`) sweeps the top op's children, the top op is
snapshotted (cloned); if a pass fails, raises, or leaves IR the verifier rejects,
the top op is restored in place from the snapshot (so edits a function pass made
to sibling functions are undone too, and callers keep a valid module), and a
reproducer (that IR plus the pass or nested pipeline that failed, in an
`external_resources` section) is written when a reproducer file is set.
`irq-opt --run-reproducer` reruns it.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Iterable

from irq.diagnostics import Diagnostic
from irq.ir.operation import Operation
from irq.transform.instrumentation import PassInstrumentation, statistics_report
from irq.transform.pass_base import OptionError, Pass, PassFailure, lookup_pass
from irq.transform.pipeline import NestSpec, PassSpec, parse_pipeline

REPRODUCER_KEY = "irq_reproducer"


class PassManager:
    """A list of passes and nested managers anchored on an op name ("any" matches every op)."""

    def __init__(self, anchor: str = "builtin.module", *, verify_each: bool = True,
                 reproducer_file: str | None = None, restore_on_failure: bool = True,
                 instrumentations: Iterable[PassInstrumentation] = (), implicit_anchor: bool = False) -> None:
        self.anchor = anchor
        self.items: list[Pass | PassManager] = []
        self.verify_each = verify_each
        self.reproducer_file = reproducer_file
        self.restore_on_failure = restore_on_failure
        self.instrumentations = list(instrumentations)
        self.implicit_anchor = implicit_anchor

    # -- building -----------------------------------------------------------------------------
    def add(self, item: Pass | PassManager | str) -> PassManager:
        if isinstance(item, str):
            item = lookup_pass(item)()
        self.items.append(item)
        return self

    def nest(self, anchor: str) -> PassManager:
        pm = PassManager(anchor)
        self.items.append(pm)
        return pm

    @classmethod
    def parse(cls, text: str, **kw) -> PassManager:
        """Build from mlir-opt pipeline syntax; `str(pm)` prints it back."""
        items = parse_pipeline(text)
        if len(items) == 1 and isinstance(items[0], NestSpec):
            pm = cls(items[0].anchor, **kw)
            _fill(pm, items[0].items)
        else:
            pm = cls("any", implicit_anchor=True, **kw)
            _fill(pm, items)
        return pm

    def __str__(self) -> str:
        inner = ", ".join(str(i) if isinstance(i, PassManager) else i.pipeline_text() for i in self.items)
        return inner if self.implicit_anchor else f"{self.anchor}({inner})"

    def passes(self) -> list[Pass]:
        out: list[Pass] = []
        for i in self.items:
            out.extend(i.passes() if isinstance(i, PassManager) else [i])
        return out

    # -- running ------------------------------------------------------------------------------
    def run(self, op: Operation) -> None:
        """Run the pipeline on `op` in place; raise PassFailure (with the op restored) on failure."""
        if self.anchor != "any" and op.name != self.anchor:
            raise PassFailure(f"pipeline anchored on '{self.anchor}' cannot run on '{op.name}'")
        # Passes create and erase many small, mostly long-lived objects; with the cyclic GC on,
        # each full collection rescans the whole module (a third of the time of functional-to-module
        # plus fuse on a 20,000-op model, bench/frontend.py). Collect once afterwards instead.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._run_items(op, self, [self.anchor])
        finally:
            if gc_was_enabled:
                gc.enable()
            for ins in self.instrumentations:
                ins.finish()

    def statistics(self) -> str:
        return statistics_report(self.passes())

    def _run_items(self, op: Operation, top: PassManager, anchors: list[str]) -> None:
        for item in self.items:
            if isinstance(item, PassManager):
                children = [c for c in _nested_ops(op) if item.anchor == "any" or c.name == item.anchor]
                if not children:
                    continue
                # A pass on one function may (wrongly) edit its siblings, and only a snapshot of the op
                # holding them all can undo that. So the outermost nested pipeline snapshots `op` once
                # and a failure anywhere inside restores `op` as it was before that pipeline (one clone
                # per pipeline, where a snapshot per pass and function cost one clone per pass).
                outermost = len(anchors) == 1
                snapshot = op.clone() if outermost and top.restore_on_failure else None
                try:
                    for child in children:
                        item._run_items(child, top, anchors + [item.anchor])
                except PassFailure as failure:
                    if outermost:
                        if snapshot is not None:
                            _restore(op, snapshot)
                        top._reproduce(failure, op, anchors, str(item))
                    raise
            else:
                top._run_pass(item, op, anchors)

    def _run_pass(self, p: Pass, op: Operation, anchors: list[str]) -> None:
        if p.anchor is not None and op.name != p.anchor:
            raise PassFailure(f"pass '{p.name}' runs on '{p.anchor}' ops, not '{op.name}'", pass_name=p.name)
        top_level = len(anchors) == 1  # nested passes are undone by their pipeline's snapshot
        snapshot = op.clone() if top_level and self.restore_on_failure else None
        for ins in self.instrumentations:
            ins.before_pass(p, op)
        failure: PassFailure | None = None
        try:
            if p.run(op) is False:
                failure = PassFailure(f"pass '{p.name}' failed", [Diagnostic("error", f"pass '{p.name}' failed",
                                                                            op.location, None)], p.name)
            elif self.verify_each:
                from irq.verifier import verify_ops
                diags = verify_ops(op)
                if diags:
                    failure = PassFailure(f"verification failed after pass '{p.name}'", diags, p.name)
        except PassFailure as e:
            e.pass_name = e.pass_name or p.name
            failure = e
        except Exception as e:  # a crashing pass is a failing pass: recover and report it
            tb = traceback.format_exc(limit=-3)
            failure = PassFailure(f"pass '{p.name}' raised {type(e).__name__}: {e}",
                                  [Diagnostic("error", f"pass '{p.name}' raised {type(e).__name__}: {e}\n{tb}",
                                              op.location, None)], p.name)
            failure.__cause__ = e
        if failure is None:
            for ins in self.instrumentations:
                ins.after_pass(p, op)
            return
        for ins in self.instrumentations:
            ins.after_failed_pass(p, op)
        if snapshot is not None:
            _restore(op, snapshot)
        if top_level:
            self._reproduce(failure, op, anchors, p.pipeline_text())
        raise failure

    def _reproduce(self, failure: PassFailure, op: Operation, anchors: list[str], pipeline: str) -> None:
        """Write the reproducer (the IR `op` is now in, restored, plus `pipeline` under `anchors`)."""
        if not self.reproducer_file:
            return
        for a in reversed(anchors):
            if a != "any":
                pipeline = f"{a}({pipeline})"
        try:
            failure.reproducer = write_reproducer(self.reproducer_file, op, pipeline)
        except OSError as e:  # the pass's own failure is the news; say why the reproducer is missing
            failure.reproducer_error = str(e)


def _fill(pm: PassManager, items: list) -> None:
    for it in items:
        if isinstance(it, NestSpec):
            _fill(pm.nest(it.anchor), it.items)
        else:
            assert isinstance(it, PassSpec)
            cls = lookup_pass(it.name)
            try:
                pm.add(cls.from_option_text(it.options) if it.options else cls())
            except OptionError:
                raise
            except TypeError as e:
                raise OptionError(f"pass '{it.name}': {e}") from None


def _nested_ops(op: Operation) -> list[Operation]:
    return [child for r in op.regions for b in r.blocks for child in b.ops]


def _restore(op: Operation, snapshot: Operation) -> None:
    """Put `snapshot`'s regions and attributes back into `op` (same object, so callers' references stay)."""
    for r in op.regions:
        for b in r.blocks:
            for child in list(b.ops):
                child.drop_all_references()
    for r in snapshot.regions:
        r.parent = op
    op.regions = snapshot.regions
    op.attributes = snapshot.attributes
    op.properties = snapshot.properties
    op.location = snapshot.location
    snapshot.regions = ()
    snapshot.drop_all_references()


def _root(op: Operation) -> Operation:
    while op.parent_op is not None:
        op = op.parent_op
    return op


def write_reproducer(path: str, op: Operation, pipeline: str) -> str:
    """Write the IR (top-level op, generic form, with locations) and the failing pipeline."""
    from irq.text.printer import print_module
    from irq.text.strings import quote_string
    root = _root(op)
    extra = getattr(root, "extra_resources", None)
    entry = ("external_resources", REPRODUCER_KEY, "pipeline", quote_string(pipeline))
    saved = list(extra) if extra is not None else None
    try:
        if saved is None:
            try:
                root.extra_resources = [entry]
            except AttributeError:
                pass
        else:
            root.extra_resources = [e for e in saved if e[1] != REPRODUCER_KEY] + [entry]
        text = print_module(root, generic=True, debuginfo=True)
        if entry[3] not in text:  # the root cannot carry resources: append a section ourselves
            text += (f"\n{{-#\n  external_resources: {{\n    {REPRODUCER_KEY}: {{\n"
                     f"      pipeline: {entry[3]}\n    }}\n  }}\n#-}}\n")
    finally:
        if saved is not None:
            root.extra_resources = saved
        elif hasattr(root, "extra_resources"):
            try:
                del root.extra_resources
            except AttributeError:
                pass
    from irq.output_file import write_text
    write_text(path, text)
    return str(path)


def reproducer_pipeline(module: Operation) -> str | None:
    """The pipeline recorded in a reproducer module, if any."""
    from irq.text.strings import unescape_string
    for group, dialect, key, value in getattr(module, "extra_resources", None) or []:
        if group == "external_resources" and dialect == REPRODUCER_KEY and key == "pipeline":
            return unescape_string(value)
    return None
