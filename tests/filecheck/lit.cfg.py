# lit configuration for irq's IR tests: each *.irq / *.mlir file has `// RUN:` lines
# (usually `irq-opt ... | filecheck %s`) and `// CHECK:` lines, as in MLIR and xDSL.
import os
import tempfile

import lit.formats

config.name = "irq"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".irq", ".mlir"]
config.test_source_root = os.path.dirname(__file__)
# Output/ directories go to a temporary directory (tests/test_filecheck.py passes one per run), never
# into the source tree, where a stale output could be mistaken for a fresh one.
config.test_exec_root = os.environ.get("IRQ_LIT_OUTPUT") or tempfile.mkdtemp(prefix="irq-lit-")
config.excludes = ["lit.cfg.py", "Inputs"]
config.environment["PATH"] = os.environ.get("PATH", "")
# PYTHONDONTWRITEBYTECODE too: without it each irq-opt wrote .pyc files into the tree, and a source restored
# within the same second at the same size (a mutant planted by hand, then undone) kept running from its stale .pyc
for var in ("PYTHONPATH", "HOME", "TMPDIR", "NUMBA_CACHE_DIR", "IRQ_CACHE_DIR", "IRQ_NO_PARSE_CACHE",
            "PYTHONDONTWRITEBYTECODE"):
    if var in os.environ:
        config.environment[var] = os.environ[var]
# lit's internal shell runs its out-of-process builtins (`diff`, `cat`) with PYTHONPATH set to lit's
# own directory, and that assignment stays in the test's shell environment (lit 23.1,
# TestRunner._executeShCmd): every RUN line after a `diff` would import the *installed* irq instead
# of the tree on PYTHONPATH (a mutation run's scratch copy, a worktree). Each irq-opt gets the
# suite's PYTHONPATH back through lit's `env`.
if "PYTHONPATH" in os.environ:
    import shlex

    config.substitutions.append(
        (r"(?<![^\s|])irq-opt(?=\s)", "env PYTHONPATH=" + shlex.quote(os.environ["PYTHONPATH"]) + " irq-opt")
    )
