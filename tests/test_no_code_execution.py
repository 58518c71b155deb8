"""Parsing runs no code named by the text: no eval/exec/compile, no pickle, no imports, no processes.

IR files are shared like data (models, weights), so reading one must be as safe as
reading JSON. During parsing, the dangerous entry points are replaced by traps; the
texts name real modules and functions in every position a name can appear.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import marshal
import os
import pickle
import subprocess
import sys

import pytest

import irq

# a pickle that, if loaded, would hand back os.system
PICKLE_PAYLOAD = pickle.dumps(os.system)
# modules that exist in the standard library but that nothing in irq imports
NEVER_IMPORTED = ["antigravity", "this", "smtplib", "tkinter", "webbrowser", "ftplib", "telnetlib", "turtle"]


def payload_texts(marker: str) -> dict[str, str]:
    py = f"__import__('os').system('touch {marker}')"
    blob = PICKLE_PAYLOAD.hex().upper()
    return {
        "string_attrs": f'"t.a"() {{code = "{py}", eval = "eval(compile(\\22print(1)\\22, \\22x\\22, \\22exec\\22))"}}'
                        ' : () -> ()\n',
        "op_names": '"os.system"() {cmd = "touch x"} : () -> ()\n"subprocess.Popen"() : () -> ()\n'
                    '"builtins.eval"() : () -> ()\n"antigravity.fly"() : () -> ()\n"pickle.loads"() : () -> ()\n',
        "real_module_dialects": "".join(f'"{m}.op"() : () -> ()\n' for m in NEVER_IMPORTED),
        "types": '"t.a"() : () -> (!os.system<"touch x">, !pickle.loads<"cos\\0Asystem">, !antigravity.x, '
                 '!this<"s">)\n',
        "attributes": '"t.a"() {a = #os.system<"touch x">, b = #importlib.import_module<"antigravity">, '
                      'c = @os::@system, d = #tkinter.Tk, e = tensor<2x!smtplib.SMTP>} : () -> ()\n',
        "locations": f'"t.a"() : () -> () loc("{py}":1:2)\n"t.b"() : () -> () loc(callsite("os.system" at '
                     f'fused<#webbrowser.open<"http://x">>["__import__"]))\n',
        "pickle_blob": '"t.c"() {v = dense_resource<payload> : tensor<' + str(len(blob) // 2) + 'xi8>} : () -> ()\n'
                       '{-#\n  dialect_resources: {\n    builtin: {\n      payload: "0x01000000' + blob + '"\n    }\n'
                       '  },\n  external_resources: {\n    os: {\n      system: "cos\\0Asystem"\n    }\n  }\n#-}\n',
        "properties_and_regions": '"webbrowser.open"() <{url = "http://x", __reduce__ = "os.system"}> ({\n'
                                  '^bb0(%arg0: !ftplib.FTP):\n  "exec"(%arg0) : (!ftplib.FTP) -> ()\n'
                                  '}) : () -> ()\n',
        "func_with_payload_names": 'func.func private @"__import__(\'os\').system(\'x\')"(!turtle.Turtle) '
                                   'attributes {"eval(1)" = "exec(1)"}\n',
        "custom_op_named_like_python": f'os.system "{py}"\n',
        "alias_named_like_python": f'#os = "{py}"\n!telnetlib = !telnetlib.Telnet<"x">\n'
                                   '"t.a"() {a = #os, t = !telnetlib} : () -> ()\n',
    }


class Trap(BaseException):
    """Raised when parsing reaches something that could run code."""


@contextlib.contextmanager
def traps():
    """While active, eval/exec/compile, pickle, marshal, imports of modules not yet loaded and
    process spawning raise Trap and are recorded. Kept short: pytest itself needs them."""
    real_import = builtins.__import__
    calls: list[str] = []

    def trap(name):
        def f(*args, **kwargs):
            calls.append(name)
            raise Trap(f"parsing called {name}")
        return f

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # `import x` of an already-loaded module is a dictionary lookup; loading a new one runs its code
        resolved = importlib.util.resolve_name("." * level + name, globals.get("__package__")) if level else name
        if resolved not in sys.modules:
            calls.append(f"import {resolved}")
            raise Trap(f"parsing imported {resolved}")
        return real_import(name, globals, locals, fromlist, level)

    patches = [(builtins, n, trap(n)) for n in ("eval", "exec", "compile")] + [
        (builtins, "__import__", guarded_import),
        (importlib, "import_module", trap("importlib.import_module")),
        (pickle, "loads", trap("pickle.loads")), (pickle, "load", trap("pickle.load")),
        (marshal, "loads", trap("marshal.loads")),
        (os, "system", trap("os.system")), (os, "popen", trap("os.popen")),
        (subprocess, "Popen", trap("subprocess.Popen")),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, value in patches:
        setattr(obj, name, value)
    try:
        yield calls
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


def parse_trapped(text: str):
    """(module or None, ParseError or None, trapped calls, modules newly imported)."""
    _warm_up()
    before = set(sys.modules)
    module = error = None
    with traps() as calls:
        try:
            module = irq.parse_module(text)
        except irq.ParseError as e:
            error = e
        except Trap:
            pass
    return module, error, calls, set(sys.modules) - before


def _warm_up() -> None:
    """Build the grammar and load irq's dialects before trapping: that is irq's own code."""
    irq.parse_module('func.func @f(%a: i32) -> i32 {\n  %0 = arith.addi %a, %a : i32\n  return %0 : i32\n}\n'
                     '"t.q"() {t = !quant.uniform<i8:f32, 0.5>, d = dense<[1.0, 0x7FC00000]> : tensor<2xf32>, '
                     'x = 1 : i32, y = 1.5 : f32, s = "\\22"} : () -> () loc("a":1:1)\n')


@pytest.mark.parametrize("name", list(payload_texts("x")))
def test_parsing_runs_nothing_named_by_the_text(name, tmp_path):
    marker = tmp_path / "pwned"
    m, error, calls, new_modules = parse_trapped(payload_texts(str(marker))[name])
    assert calls == [] and new_modules == set()
    assert not marker.exists()
    assert not any(mod in sys.modules for mod in NEVER_IMPORTED)
    if error is not None:  # only a custom-form op with an unknown name is rejected
        assert name == "custom_op_named_like_python" and "unknown" in error.message, error
        return
    # the payloads are data: printing gives them back, and reading that runs nothing either
    m2, error2, calls2, new2 = parse_trapped(irq.print_module(m))
    assert error2 is None and calls2 == [] and new2 == set()
    assert irq.structurally_equal(m, m2)


def test_payloads_are_kept_as_data(tmp_path):
    marker = tmp_path / "pwned"
    m, _, calls, _ = parse_trapped(payload_texts(str(marker))["string_attrs"])
    assert next(m.ops).attributes["code"].value == f"__import__('os').system('touch {marker}')"
    m, _, calls2, _ = parse_trapped(payload_texts(str(marker))["pickle_blob"])
    assert next(m.ops).attributes["v"].to_numpy().view("u1").tobytes() == PICKLE_PAYLOAD
    assert m.extra_resources == [("external_resources", "os", "system", '"cos\\0Asystem"')]
    assert calls == calls2 == []


def test_traps_are_effective():
    """The traps really catch what they claim to (so the tests above can fail)."""
    with traps() as calls:
        for attempt in (lambda: eval("1"), lambda: pickle.loads(b"."), lambda: __import__("antigravity"),
                        lambda: importlib.import_module("this"), lambda: os.system("true")):
            try:
                attempt()
            except Trap:
                pass
    assert calls == ["eval", "pickle.loads", "import antigravity", "importlib.import_module", "os.system"]
    assert "antigravity" not in sys.modules
