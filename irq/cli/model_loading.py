"""What `irq quantize` and `irq check` read from the command line: a model factory, input shapes, data.

Each reader turns a user mistake into a CLIError whose message is one line naming the file (and the
line, for a syntax error): the CLI is for users who do not write Python glue, so a traceback into
irq's internals would tell them nothing about what to fix.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: `file.py:factory` or `file.py:factory(arg, key=value)`; the path is greedy, so a ':' inside the
#: arguments (a string literal) does not split the path
FACTORY_SPEC = re.compile(r"(?P<path>.+):(?P<name>[A-Za-z_]\w*)(?P<call>\(.*\))?", re.S)

#: the dtypes `--example-input SHAPE:DTYPE` accepts (torch names); float32 when none is given
INPUT_DTYPES = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


class CLIError(Exception):
    """A bad command-line input; the message is printed as `irq: error: <message>`."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def split_factory_spec(spec: str) -> tuple[str, str, tuple, dict[str, Any]]:
    """'model.py:build(10, width=0.5)' -> ('model.py', 'build', (10,), {'width': 0.5}).

    Arguments must be Python literals (numbers, strings, tuples, lists, dicts, True/False/None):
    they are read with ast.literal_eval, so the command line never runs code of its own.
    """
    match = FACTORY_SPEC.fullmatch(spec)
    if match is None:
        raise CLIError(f"expected MODEL as 'file.py:factory' or 'file.py:factory(arg, key=value)', got '{spec}'")
    name, call = match["name"], match["call"]
    if call is None:
        return match["path"], name, (), {}
    try:
        node = ast.parse(name + call, mode="eval").body
        if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            raise ValueError("not a plain call")
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise CLIError(f"'{name}{call}': factory arguments must be Python literals "
                       "(numbers, strings, tuples, lists, True/False/None), like build_model(10, width=0.5)") from None
    return match["path"], name, args, kwargs


@contextlib.contextmanager
def as_script(path: Path) -> Iterator[None]:
    """Run the user's code as `python path` would see it: its folder importable (a models/ package or a
    helper next to it) and `sys.argv == [path]`, so a script that parses its command line at import gets
    its defaults instead of irq's own arguments."""
    folder = str(path.resolve().parent)
    saved_argv = sys.argv
    sys.path.insert(0, folder)
    sys.argv = [str(path)]
    try:
        yield
    finally:
        sys.argv = saved_argv
        try:
            sys.path.remove(folder)
        except ValueError:
            pass


def load_factory(spec: str):
    """`path/to/model.py:build_model` -> the callable `build_model`, imported from that file."""
    path_text, name, _, _ = split_factory_spec(spec)
    path = Path(path_text)
    if path.is_dir():
        raise CLIError(f"{path}: is a directory, expected a Python file")
    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    module_name = f"irq_user_model_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise CLIError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    with as_script(path):
        try:
            module_spec.loader.exec_module(module)
        except SyntaxError as e:
            raise CLIError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
        except SystemExit as e:
            hint = "" if isinstance(e.code, str) else ("; code that parses the command line or runs the script "
                                                       "belongs under `if __name__ == '__main__':`")
            raise CLIError(f"{path}: importing it called sys.exit({e.code!r}){hint}") from None
        except Exception as e:  # noqa: BLE001 - any failure while importing the user's file is reported as such
            raise CLIError(f"{path}: importing it failed: {type(e).__name__}: {one_line(e)}") from None
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
    path, _, args, kwargs = split_factory_spec(spec)
    with as_script(Path(path)):
        try:
            model = factory(*args, **kwargs)
        except SystemExit as e:
            raise CLIError(f"{spec}: the factory called sys.exit({e.code!r})") from None
        except Exception as e:  # noqa: BLE001
            raise CLIError(f"{spec}: the factory raised {type(e).__name__}: {one_line(e)}") from None
    if not isinstance(model, nn.Module):
        raise CLIError(f"{spec}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


@dataclass(frozen=True)
class InputSpec:
    """One `--example-input`: its text as the user wrote it, the shape and the torch dtype name."""

    text: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith("float")


def parse_shape(text: str) -> tuple[int, ...]:
    """'1x3x224x224' -> (1, 3, 224, 224)."""
    try:
        shape = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise CLIError(f"--example-input '{text}': expected positive sizes joined by 'x', like 1x3x224x224")
    return shape


def parse_example_inputs(values: list[str]) -> list[InputSpec]:
    """Every `--example-input` value, each 'SHAPE[:DTYPE]' or several joined by commas, in order.

    '1x3x32x32,1x10' is two inputs (as repeating the flag is); '1x16:int64' is token ids.
    """
    specs = []
    for value in values:
        for text in value.split(","):
            text = text.strip()
            shape_text, _, dtype = text.partition(":")
            dtype = dtype.strip().lower() or "float32"
            if dtype not in INPUT_DTYPES:
                raise CLIError(f"--example-input '{text}': unknown dtype '{dtype}' (known: {', '.join(INPUT_DTYPES)})")
            specs.append(InputSpec(text, parse_shape(shape_text.strip()), dtype))
    return specs


def load_npz(path: str, n_inputs: int) -> tuple[list[Any], Any | None]:
    """The calibration file: inputs under `x` (or `x0`, `x1`, ... for several inputs), optional labels `y`.

    A file holding a single array (an .npz with one name, or a .npy) is taken as the only input.
    Returns (inputs, labels or None).
    """
    import numpy as np
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a .npy file: one array, the only input's samples
            if n_inputs != 1:
                raise CLIError(f"{path}: a .npy file holds one array, the model has {n_inputs} inputs; store them "
                               f"in one .npz as {', '.join(f'x{i}' for i in range(n_inputs))} (numpy.savez)")
            return [loaded], None
        with loaded as data:
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
