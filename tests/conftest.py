"""Suite-wide set-up: importable model zoo, reproducible randomness, no state leaking between tests.

Why each piece is here:

- The repository root goes on sys.path so tests can use the model zoo as `tests.models`.
- Hypothesis runs under the `ci` profile unless HYPOTHESIS_PROFILE says otherwise: examples are
  derandomized (the same examples every run, so a pass is a pass and a failure reproduces), no
  example database is written into the source tree, the failing example's blob is printed, and
  shrinking is bounded in time, so a real failure is reported in a minute instead of shrinking past
  the test timeout. `HYPOTHESIS_PROFILE=dev` draws fresh random examples (hypothesis prints the
  seed of a failure); keep what it finds as an explicit `@example` in the test.
- Every test starts from torch's, numpy's and Python's RNG seeded to 0, so a random input or
  weight never makes a tolerance fail one run in a hundred. The seed is set before fixtures of any
  scope are built, so module-scoped models are seeded too, whichever test happens to build them.
  A test module's own generator (`RNG = np.random.default_rng(seed)`, shared by helpers other
  modules import) is put back to its state after import before every test, so a test draws the
  same data alone, in its file, or after any other test.
- The pass registry, the march profiles (irq.register_march), the default dialect context and the
  environment are restored after each test: a test registering a pass, a march or a dialect, or
  setting a variable, cannot change the next one.
- The LALR parse-table cache lives in a per-run temporary directory (IRQ_CACHE_DIR, inherited by
  the irq-opt subprocesses and lit), never in the user's ~/.cache/irq shared by every run.
- torch runs one intra-op thread per test process (OMP_NUM_THREADS=1 unless the caller set it, inherited
  by the subprocesses tests start). The suite runs on two xdist workers, one per core, and a second
  OpenMP thread per worker only oversubscribes the cores: libgomp's threads spin after each parallel
  region, stealing the other worker's core. Measured on the 2-core box (2026-12-02, warm Numba
  cache): the whole suite 16 min 10 s (28.2 min CPU) with torch's default of two threads, 10 min 49 s
  (20.5 min CPU) with one; the MobileNetV2 demo-stage test 90 s -> 20 s. Tests about thread counts set
  them explicitly (torch.set_num_threads, numba.set_num_threads).
- `IRQ_TEST_ORDER=reverse` or `shuffle:SEED` reorders the run (scripts/order_sweep.py): a test that
  passes only after, or only without, some other test shows up as a failure in one of the orders.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SEED = 0


def _register_hypothesis_profiles() -> None:
    from hypothesis import HealthCheck, settings
    from hypothesis.internal.conjecture import engine

    settings.register_profile(
        "ci",
        derandomize=True,
        database=None,
        print_blob=True,
        # far above any example's run time on the shared 2-core machine: only a hang trips it
        deadline=10_000,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", deadline=10_000, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    # Hypothesis bounds shrinking by an internal constant only (300 s by default, which with a
    # slow property outlived the 300 s test timeout). Lower it when the constant exists.
    if hasattr(engine, "MAX_SHRINKING_SECONDS"):
        engine.MAX_SHRINKING_SECONDS = 60


_register_hypothesis_profiles()

_OWN_CACHE_DIR: str | None = None


def _one_torch_thread() -> None:
    """One torch thread per test process (module docstring: two xdist workers already fill two cores)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch = sys.modules.get("torch")  # imported before this hook (a plugin): the variable came too late
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_configure(config: pytest.Config) -> None:
    global _OWN_CACHE_DIR
    _one_torch_thread()
    _OWN_CACHE_DIR = tempfile.mkdtemp(prefix="irq-test-cache-")
    os.environ["IRQ_CACHE_DIR"] = _OWN_CACHE_DIR


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_CACHE_DIR is not None:
        shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)


_MODULE_RNGS: dict[int, tuple[object, dict]] = {}


def _rewind_module_rngs() -> None:
    """Put every test module's `RNG` generator back to the state it had when first seen (after import)."""
    np = sys.modules.get("numpy")
    if np is None:
        return
    for name, module in list(sys.modules.items()):
        if not (name.startswith("test_") or name.startswith("tests.")):
            continue
        rng = getattr(module, "RNG", None)
        if isinstance(rng, np.random.Generator) and id(rng) not in _MODULE_RNGS:
            _MODULE_RNGS[id(rng)] = (rng, rng.bit_generator.state)
    for rng, state in _MODULE_RNGS.values():
        rng.bit_generator.state = state


def seed_everything(seed: int = SEED) -> None:
    """Seed Python's, numpy's and torch's global RNGs (only the libraries already imported)."""
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Reverse or shuffle the collected tests when IRQ_TEST_ORDER asks (default: pytest's order).

    The shuffle keeps each file's tests together (file order and the order inside each file are
    shuffled), as pytest-randomly does, so module-scoped fixtures are built once per file.
    """
    order = os.environ.get("IRQ_TEST_ORDER", "")
    if order == "reverse":
        items.reverse()
    elif order.startswith("shuffle"):
        rng = random.Random(int(order.partition(":")[2] or 0))
        files: dict[str, list[pytest.Item]] = {}
        for item in items:
            files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
        groups = list(files.values())
        rng.shuffle(groups)
        for group in groups:
            rng.shuffle(group)
        items[:] = [item for group in groups for item in group]
    elif order:
        raise pytest.UsageError(f"IRQ_TEST_ORDER={order!r}: expected 'reverse' or 'shuffle:SEED'")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # before any fixture of the item is set up (module-scoped ones included)
    seed_everything()
    _rewind_module_rngs()


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Put the pass registry, the registered march profiles, the default dialect context and os.environ back
    after each test."""
    from irq import march_profiles
    from irq.ir import dialect as dialect_mod
    from irq.transform import pass_base

    pass_base.registered_passes()  # load built-ins and plugins first, so they are in the snapshot
    ctx = dialect_mod.default_context()
    registry = dict(pass_base._REGISTRY)
    ctx_state = (dict(ctx.dialects), dict(ctx.ops), dict(ctx.types), dict(ctx.attributes), ctx.allow_unregistered)
    environ = dict(os.environ)
    march_profiles.registered_marches()  # the shipped profiles first, so they are in the snapshot
    marches = dict(march_profiles._PROFILES)
    yield
    if march_profiles._PROFILES != marches:
        march_profiles._PROFILES.clear()
        march_profiles._PROFILES.update(marches)
    if pass_base._REGISTRY != registry:
        pass_base._REGISTRY.clear()
        pass_base._REGISTRY.update(registry)
    dialect_mod._default = ctx
    for current, saved in zip((ctx.dialects, ctx.ops, ctx.types, ctx.attributes), ctx_state):
        if current != saved:
            current.clear()
            current.update(saved)
    ctx.allow_unregistered = ctx_state[4]
    if os.environ != environ:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture
def two_threads():
    """The numba runtime on two threads for the test (its split calls go to the spinning pool), and the
    native hand-off switched back on after it (tests of the Python path turn `native_parts.ENABLED` off)."""
    import numba
    from irq.runtime.numba.kernels import native_parts

    before = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        yield
    finally:
        numba.set_num_threads(before)
        native_parts.ENABLED = True
