"""Numba's on-disk cache, keyed on every source file of the runtime at once.

Why: Numba keys a cached kernel on its *own* file (a sha256 of its contents in the Numba this project
runs, its time stamp and size in older ones). An ``inline="always"`` helper or an llvmlite intrinsic from another file
(requantize.round_shift, vnni_microkernel._store_codes) is compiled into the caller's machine code, so a
change to the helper's file alone left the caller's cached code in place: the next process ran the old
arithmetic without a word (docs/design.md, "Numba's cache does not follow callees across files"). A
`git pull` or a local edit that touches only a helper is exactly that case; a wheel upgrade is not (it
rewrites every file), which is why it went unseen.

The fix: for functions defined under this runtime's folder, the cache index's source stamp is Numba's own
stamp plus a digest of the contents of every ``.py`` file under the folder. Any edit anywhere in the
runtime makes every one of its cached kernels stale, so a process after the edit recompiles them (one
cold start, about 25-35 s for MobileNetV2) instead of running old code. Functions elsewhere (a user's own
``@njit(cache=True)``) keep Numba's rule.

How: Numba picks a "locator" per cached function from ``CacheImpl._locator_classes``, trying each class's
``from_function`` in order. `install` puts, in front of that list, a subclass of each of its source-file
locators (``NUMBA_CACHE_DIR``, the in-tree ``__pycache__``, the per-user cache of a read-only install), in
Numba's order, that claims only the runtime's files and extends their ``get_source_stamp``. The list is
Numba's internal API (``CacheImpl``, ``_CacheImpl`` in older releases); a Numba without it fails `install`
loudly rather than caching stale code quietly.
"""

from __future__ import annotations

import hashlib
import os

from numba.core import caching

#: The folder whose files share one stamp: runtime/numba (kernels/, siblings.py, ...).
ROOT = os.path.dirname(os.path.abspath(__file__))


def tree_digest(root: str) -> bytes:
    """sha256 over the relative paths and contents of every ``.py`` file under `root`, in sorted order."""
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                h.update(os.path.relpath(path, root).encode())
                h.update(b"\0")
                with open(path, "rb") as f:
                    h.update(f.read())
                h.update(b"\0")
    return h.digest()


#: Numba's locators for functions of a regular source file, in its order: NUMBA_CACHE_DIR, the in-tree
#: __pycache__, and the per-user cache Numba falls back to when the tree is not writable (a read-only install)
_FILE_LOCATORS = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")


def _impl_class():
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    if impl is None or not hasattr(impl, "_locator_classes"):
        import numba
        raise ImportError(f"numba {numba.__version__} has no CacheImpl._locator_classes: irq's runtime cannot key "
                          "its cache on all of its sources with it (pyproject.toml lists the supported range)")
    return impl


def tree_locators(root: str, digest: bytes) -> list[type]:
    """Locator classes for the functions of files under `root`, stamped with `digest` as well."""
    root = os.path.normcase(os.path.abspath(root)) + os.sep
    made = []
    for base in _impl_class()._locator_classes:
        if base.__name__.lstrip("_") not in _FILE_LOCATORS:
            continue

        class TreeStamped(base):
            _irq_root = root

            def get_source_stamp(self):
                return (super().get_source_stamp(), digest)

            @classmethod
            def from_function(cls, py_func, py_file):
                if not os.path.normcase(os.path.abspath(py_file)).startswith(cls._irq_root):
                    return None
                return super().from_function(py_func, py_file)

        TreeStamped.__name__ = TreeStamped.__qualname__ = f"TreeStamped{base.__name__}"
        made.append(TreeStamped)
    return made


def install(root: str = ROOT) -> None:
    """Put `tree_locators(root, ...)` in front of Numba's locators, once per root. Must run before the first
    ``cache=True`` kernel under `root` is decorated: Numba picks the locator then."""
    impl = _impl_class()
    norm = os.path.normcase(os.path.abspath(root)) + os.sep
    if any(getattr(c, "_irq_root", None) == norm for c in impl._locator_classes):
        return
    impl._locator_classes[:0] = tree_locators(root, tree_digest(root))
