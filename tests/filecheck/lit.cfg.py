# lit configuration for irq's IR tests: each *.irq / *.mlir file has `// RUN:` lines
# (usually `irq-opt ... | filecheck %s`) and `// CHECK:` lines, as in MLIR and xDSL.
import os

import lit.formats

config.name = "irq"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".irq", ".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["lit.cfg.py", "Inputs"]
config.environment["PATH"] = os.environ.get("PATH", "")
for var in ("PYTHONPATH", "HOME", "TMPDIR", "NUMBA_CACHE_DIR"):
    if var in os.environ:
        config.environment[var] = os.environ[var]
