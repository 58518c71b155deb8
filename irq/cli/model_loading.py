"""What `irq quantize` and `irq check` read from the command line: a model factory, input shapes, data.

Each reader turns a user mistake into a CLIError whose message is one line naming the file (and the
line, for a syntax error): the CLI is for users who do not write Python glue, so a traceback into
irq's internals would tell them nothing about what to fix.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from typing import Any


class CLIError(Exception):
    """A bad command-line input; the message is printed as `irq: error: <message>`."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def load_factory(spec: str):
    """`path/to/model.py:build_model` -> the callable `build_model`, imported from that file."""
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise CLIError(f"expected MODEL as 'file.py:factory', got '{spec}'")
    path = Path(path_text)
    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    module_name = f"irq_user_model_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise CLIError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    # the model file may import its neighbours (a models/ package next to it)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as e:
        raise CLIError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:  # noqa: BLE001 - any failure while importing the user's file is reported as such
        raise CLIError(f"{path}: importing it failed: {type(e).__name__}: {one_line(e)}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    factory = getattr(module, name, None)
    if not callable(factory):
        found = sorted(k for k, v in vars(module).items()
                       if callable(v) and getattr(v, "__module__", "") == module_name)
        hint = f" (callables defined there: {', '.join(found)})" if found else ""
        raise CLIError(f"{path}: no function '{name}'{hint}")
    return factory


def build_model(spec: str):
    """Call the factory; it must return a torch.nn.Module."""
    from torch import nn
    factory = load_factory(spec)
    try:
        model = factory()
    except Exception as e:  # noqa: BLE001
        raise CLIError(f"{spec}: the factory raised {type(e).__name__}: {one_line(e)}") from None
    if not isinstance(model, nn.Module):
        raise CLIError(f"{spec}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def parse_shape(text: str) -> tuple[int, ...]:
    """'1x3x224x224' -> (1, 3, 224, 224)."""
    try:
        shape = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise CLIError(f"--example-input '{text}': expected positive sizes joined by 'x', like 1x3x224x224")
    return shape


def load_npz(path: str, n_inputs: int) -> tuple[list[Any], Any | None]:
    """The calibration file: inputs under `x` (or `x0`, `x1`, ... for several inputs), optional labels `y`.

    A file holding a single array is taken as the only input. Returns (inputs, labels or None).
    """
    import numpy as np
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CLIError(f"{path}: not a readable .npz calibration file ({one_line(e)})") from None
    if not isinstance(arrays, dict) or not arrays:
        raise CLIError(f"{path}: the calibration file holds no arrays")
    names = ["x"] if n_inputs == 1 else [f"x{i}" for i in range(n_inputs)]
    if n_inputs == 1 and "x" not in arrays and len(arrays) == 1:
        names = list(arrays)
    missing = [n for n in names if n not in arrays]
    if missing:
        raise CLIError(f"{path}: missing array(s) {', '.join(missing)} (has: {', '.join(sorted(arrays))}); "
                       f"store the calibration inputs as {', '.join(names)}")
    return [arrays[n] for n in names], arrays.get("y")
