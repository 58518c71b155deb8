"""Pass infrastructure: Pass, options, registry, pipelines, the pass manager, instrumentation."""

from irq.transform.instrumentation import IRPrinter, PassInstrumentation, Timing
from irq.transform.pass_base import (
                                     Option,
                                     OptionError,
                                     Pass,
                                     PassFailure,
                                     lookup_pass,
                                     register_pass,
                                     registered_passes,
)
from irq.transform.pass_manager import PassManager, reproducer_pipeline, write_reproducer
from irq.transform.pipeline import PipelineSyntaxError, parse_pipeline

__all__ = ["IRPrinter", "PassInstrumentation", "Timing", "Option", "OptionError", "Pass", "PassFailure",
           "lookup_pass", "register_pass", "registered_passes", "PassManager", "reproducer_pipeline",
           "write_reproducer", "PipelineSyntaxError", "parse_pipeline"]
