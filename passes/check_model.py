"""check-model: write the model check report (model_check_result.txt) from a pipeline.

    irq-opt model.irq -p 'builtin.module(functional-to-module, fuse, check-model{march=bayes path=report.txt})'

The pass changes nothing; it runs `irq.check_model` on the op it is given (usually
the builtin.module) and writes its report, so a pipeline can check the model at the
level it has reached. The counts are the pass's statistics.
"""

from __future__ import annotations

from irq.ir.operation import Operation
from irq.model_check import check_model, known_marches
from irq.transform.pass_base import Option, Pass, register_pass


@register_pass("check-model")
class CheckModel(Pass):
    """Write the model check report (fused groups, refusals, shared modules, unsupported ops, torch.call)."""

    march = Option(str, default="bayes", help="target march: a profile of irq/marches/*.json (bayes, nash) "
                   "or one registered with irq.march_profiles.register_march")
    path = Option(str, default="model_check_result.txt",
                  help="where to write the report ('-': stderr, leaving stdout to the IR)")

    def run(self, op: Operation) -> None:
        if self.march not in known_marches():
            raise self.fail(f"unknown march '{self.march}'; known: {', '.join(known_marches())}", op)
        if self.path == "-":
            import sys
            result = check_model(op, march=self.march, path=None)
            sys.stderr.write(result.text())
        else:
            result = check_model(op, march=self.march, path=self.path)
        self.statistics["fused groups"] += len(result.fused_groups)
        self.statistics["unfused patterns"] += len(result.unfused_patterns)
        self.statistics["shared modules"] += len(result.shared_modules)
        self.statistics["unsupported ops"] += len(result.unsupported)
        self.statistics["torch.call ops"] += len(result.torch_calls)
