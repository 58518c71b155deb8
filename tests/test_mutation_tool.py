"""bench/mutation.py's replay and stratified subset: the parts that decide which mutants count as killed.

The replay credits a new test with the survivors it kills; a replay that runs the wrong tests or the wrong
mutant reports survivors that are dead (an under-count) or kills that are not (an over-count), and the
figures in docs/design.md are only as good as it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("cosmic_ray")
from cosmic_ray.mutating import MutationVisitor  # noqa: E402
from cosmic_ray.plugins import get_operator  # noqa: E402


def _load_bench_module(name: str):
    """bench/ is not a package: load the file by path, leaving sys.path as every other test finds it."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name while the class is created
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


_exec = _load_bench_module("_mutation_exec")
CoverageMap, mutation_starts, relocate, replay_tests = (_exec.CoverageMap, _exec.mutation_starts, _exec.relocate,
                                                        _exec.replay_tests)


def _cmap(order: list[str]) -> CoverageMap:
    return CoverageMap(lines={}, spawning=[], durations={x: 1.0 for x in order}, order=order, modules=[], tree=[])


def test_replay_runs_tests_added_to_existing_files_since_the_session():
    # the under-count: a kill test added to tests/test_a.py after the session is not in the coverage map,
    # so the map's selection never ran it and its survivor stayed "survived"
    cmap = _cmap(["tests/test_a.py::t1", "tests/test_a.py::t2"])
    current = ["tests/test_a.py::t1", "tests/test_a.py::t2", "tests/test_a.py::t_new", "tests/test_kills.py::k"]
    got = replay_tests(cmap, ["tests/test_a.py::t2"], current, ["tests/test_kills.py"])
    assert got == ["tests/test_kills.py", "tests/test_a.py::t_new", "tests/test_a.py::t2"]


def test_replay_drops_test_ids_that_no_longer_exist():
    # a renamed test left in the selection makes pytest exit 4 ("not found") before running anything
    cmap = _cmap(["tests/test_a.py::old_name", "tests/test_a.py::kept"])
    got = replay_tests(cmap, ["tests/test_a.py::old_name", "tests/test_a.py::kept"],
                       ["tests/test_a.py::kept", "tests/test_a.py::new_name"], [])
    assert got == ["tests/test_a.py::new_name", "tests/test_a.py::kept"]


OLD = """def f(a, b):
    x = a + b
    return x + 1
"""

NEW = """def g(c):
    return c + 2


def f(a, b):
    x = a + b
    return x + 1
"""


def _mutated_lines(source: str, operator, occurrence: int) -> list[str]:
    out = MutationVisitor.mutate_code(source, operator, occurrence)
    return [b for a, b in zip(source.splitlines(), out.splitlines()) if a != b]


def test_relocate_follows_a_mutant_whose_file_grew_above_it():
    add_sub = get_operator("core/ReplaceBinaryOperator_Add_Sub")()
    assert len(mutation_starts(OLD, add_sub)) == 2
    for occurrence, line in ((0, "    x = a - b"), (1, "    return x - 1")):
        assert _mutated_lines(OLD, add_sub, occurrence) == [line]
        moved = relocate(OLD, NEW, add_sub, occurrence)
        # without relocation the session's numbering would mutate g's `c + 2` (occurrence 0) instead
        assert moved == occurrence + 1
        assert _mutated_lines(NEW, add_sub, moved) == [line]


def test_relocate_refuses_a_mutant_whose_line_changed():
    add_sub = get_operator("core/ReplaceBinaryOperator_Add_Sub")()
    assert relocate(OLD, OLD.replace("x + 1", "x + 2"), add_sub, 1) is None
    assert relocate(OLD, OLD, add_sub, 1) == 1


DECORATED = """import dataclasses


@dataclasses.dataclass
class Q:
    x: int = 0


def f(q):
    return q.x + 1
"""


def test_a_decorator_mutant_runs_at_import_time(tmp_path):
    # the under-count: ast puts a decorated class's lineno on the `class` line, so `@dataclass` removed
    # (line 4) lay outside every statement, was taken for a function-body mutant and swapped into the live
    # process, where it changes nothing: reported as a survivor whatever the tests
    src = tmp_path / "m.py"
    src.write_text(DECORATED)
    index = _exec.StatementIndex(src)
    cmap = CoverageMap(lines={"m.py": {10: ["t::f"]}}, spawning=[], durations={"t::f": 1.0, "t::g": 1.0},
                       order=["t::f", "t::g"], modules=[], tree=[])
    assert _exec.statement_lines(index, 4, 0) == [4, 5, 6]
    tests, why = _exec.select_tests(cmap, index, "m.py", 4, 0)
    assert why == "import time: all tests" and sorted(tests) == ["t::f", "t::g"]
    # a mutant in a function body still runs only the tests that execute it
    assert _exec.select_tests(cmap, index, "m.py", 10, 15) == (["t::f"], "1 covering")


FACTORY = """def simple(spec, rename=None):
    rename = rename or {}

    def h(x):
        return rename.get(x, x)
    return h


TABLE = {"relu": simple("relu")}
"""


def test_a_factory_body_run_while_importing_selects_every_test(tmp_path):
    # the under-count of the ninth round: `rename = rename or {}` (line 2) runs only while the module builds
    # TABLE, before any test's coverage context, so the map lists no test for it and the mutant `or` -> `and`
    # was scored "survived, no test executes it" without running, although every handler call then fails
    src = tmp_path / "m.py"
    src.write_text(FACTORY)
    index = _exec.StatementIndex(src)
    cmap = CoverageMap(lines={"m.py": {5: ["t::f"]}}, spawning=[], durations={"t::f": 1.0, "t::g": 1.0},
                       order=["t::f", "t::g"], modules=[], tree=[])
    assert _exec.select_tests(cmap, index, "m.py", 2, 13) == ([], "no test executes it")
    tests, why = _exec.select_tests(cmap, index, "m.py", 2, 13, at_import={1, 2, 4, 6, 9})
    assert why == "runs while importing: all tests" and sorted(tests) == ["t::f", "t::g"]
    # the handler's own body did not run while importing: still only the tests that execute it
    assert _exec.select_tests(cmap, index, "m.py", 5, 15, at_import={1, 2, 4, 6, 9}) == (["t::f"], "1 covering")


BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench_python(code: str) -> str:
    """Run `code` with bench/ first on sys.path, as `python bench/mutation.py` runs (the tool's modules import
    each other by top-level name)."""
    import subprocess

    r = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(BENCH)!r}); {code}"],
                       capture_output=True, text=True, cwd=BENCH.parent, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_replay_collects_the_current_test_ids_under_the_project_addopts():
    # the under-count (and worse) found in the ninth round: pyproject's addopts "-q" plus the collection's own
    # "-q" printed one count per file and no ids, so a replay knew no current test; a survivor then ran only the
    # kill files, and one without any ran pytest with no ids (the whole suite)
    out = _bench_python(
        "import os; from pathlib import Path; import _mutation_replay as r; "
        "print('\\n'.join(r._collect(Path('.'), dict(os.environ), ['tests/test_mutation_tool.py'])))"
    )
    ids = out.split()
    assert "tests/test_mutation_tool.py::test_replay_collects_the_current_test_ids_under_the_project_addopts" in ids
    assert all(x.startswith("tests/test_mutation_tool.py::") for x in ids)


def test_a_score_reads_the_lines_the_session_was_taken_from(tmp_path):
    # found in the ninth round: a fix two lines above a mutant moved the worktree's lines, and the score matched
    # the mutant against the wrong line (and the wrong equivalent); the session's scratch tree keeps the old text
    src = "irq/frontend/emit.py"
    old = "# the text the session was taken from\n"
    (tmp_path / "tree" / src).parent.mkdir(parents=True)
    (tmp_path / "tree" / src).write_text(old)
    digest = __import__("hashlib").sha256(old.encode()).hexdigest()
    (tmp_path / "sources.json").write_text(__import__("json").dumps({src: digest}))
    code = (
        "from pathlib import Path; import _mutation_report as r; "
        f"print(r._session_texts(Path({str(tmp_path / 'session.sqlite')!r}), ({src!r},))[{src!r}])"
    )
    assert _bench_python(code).strip() == str(tmp_path / "tree")
    (tmp_path / "tree" / src).write_text(old + "# a mutant applied, or the copy refreshed\n")
    assert _bench_python(code).strip() == str(BENCH.parent)


def test_every_tool_module_is_copied_into_a_resumed_executor_tree():
    # a resumed session refreshes the tool in its scratch trees from TOOL_FILES; a module of the tool missing
    # there leaves the executor importing a stale copy next to a current mutation.py (or none: ImportError)
    listed = _bench_python("import _mutation_runner as r; print('\\n'.join(r.TOOL_FILES))").split()
    on_disk = sorted(f"bench/{p.name}" for p in BENCH.glob("*.py") if p.name == "mutation.py"
                     or p.name.startswith("_mutation"))
    assert sorted(listed) == on_disk


def test_the_command_line_lists_every_target_with_its_sources_and_tests():
    # the split modules must keep `python bench/mutation.py --list` (the documented entry point) working
    import subprocess

    r = subprocess.run([sys.executable, str(BENCH / "mutation.py"), "--list"], capture_output=True, text=True,
                       cwd=BENCH.parent, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    targets = _bench_python("import _mutation_targets as t, json; print(json.dumps({n: [*x.sources, *x.tests, *x.lit] "
                            "for n, x in t.TARGETS.items()}))")
    import json

    lines = [line for line in r.stdout.splitlines() if not line.split()[:1] == ["env:"]]  # a target's environment
    listed = {a.split()[0]: set(a.split()[1:]) | set(b.split()[1:]) for a, b in zip(lines[::2], lines[1::2])}
    expected = {name: set(files) for name, files in json.loads(targets).items()}
    assert listed == expected
