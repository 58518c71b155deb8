"""bench/mutation.py's replay: the survivors of a kept session against the current tests.

Why a replay rather than a new run: a new test is credited only with the mutants it fails against, and
a survivor runs only the tests that execute its statement, so the "after this round's tests" figure costs
minutes, not the hours of the session.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _mutation_report import _enclosing_functions_of, _equivalent_reason
from _mutation_runner import _env, _run_lit, make_scratch_copy
from _mutation_targets import ROOT, TARGETS


def _session_sources(work: Path, sources: tuple[str, ...]) -> dict[str, str]:
    """The text each source had when the kept session in `work` was taken (its mutants are numbered in it).

    The session's scratch tree holds it, unless a run was interrupted mid-mutant; sources.json's digests
    tell, and the worktree's file stands in when it is still the same.
    """
    digests = json.loads((work / "sources.json").read_text())
    out = {}
    for src in sources:
        for candidate in (work / "tree" / src, ROOT / src):
            if candidate.exists() and hashlib.sha256(candidate.read_bytes()).hexdigest() == digests.get(src):
                out[src] = candidate.read_text()
                break
        else:
            raise SystemExit(f"{src}: neither {work / 'tree'} nor the worktree holds the text the session was "
                             "taken from (a run interrupted mid-mutant after the file changed): run the target again")
    return out


def _collect(copy: Path, env: dict[str, str], files: list[str]) -> list[str]:
    """The ids of the tests `files` hold today (pytest --collect-only in the scratch copy).

    `-o addopts=`: pyproject's `addopts = "-q"` plus this `-q` made `-qq`, which prints a count per file and
    no test ids, so every replay until the ninth round saw no current test: each survivor ran only the kill
    files, and one with none ran pytest without ids, i.e. the whole suite.
    """
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-o", "addopts=", "-q", "-p",
                        "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly", *files], cwd=copy, env=env,
                       capture_output=True, text=True)
    if r.returncode not in (0, 5):
        raise SystemExit(f"collecting {' '.join(files)} failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    ids = [x.strip() for x in r.stdout.splitlines() if "::" in x and not x.startswith(" ")]
    if files and r.returncode == 0 and not ids:
        raise SystemExit(f"collecting {' '.join(files)} printed no test ids:\n{r.stdout[-3000:]}")
    return ids


def replay(name: str, work: Path, fresh: bool) -> int:
    """Re-apply every survivor of a kept session to a new scratch copy of the current tree and run its tests again.

    The tests are the target's tests/test_mutation_kills_*.py files, every test collected today that the
    session never saw, and the tests the session chose that still exist (_mutation_exec.replay_tests), so a
    new test is credited only with the mutants it fails against. A source changed since the session is
    handled by finding each mutant again by its line (_mutation_exec.relocate). `fresh` runs each in a new
    pytest process instead of the fork server (an independent check of the fork server's verdicts).
    """
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    t = TARGETS[name]
    session = work / "session.sqlite"
    old_tree = work / "tree"
    old_text = _session_sources(work, t.sources)
    functions = {src: _enclosing_functions_of(text) for src, text in old_text.items()}
    jobs = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.test_outcome != TestOutcome.SURVIVED:
                continue
            m = item.mutations[0]
            path = os.path.relpath(m.module_path, old_tree) if os.path.isabs(m.module_path) else str(m.module_path)
            fn = functions.get(path, {}).get(m.start_pos[0])
            line = old_text[path].splitlines()[m.start_pos[0] - 1].strip()
            if _equivalent_reason(path, line, fn, m.operator_name, m.start_pos[1]) is None:
                jobs.append(item.job_id)
    print(f"[{name}] replaying {len(jobs)} survivors{' in fresh processes' if fresh else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"irq-replay-{name}-") as tmp:
        copy = make_scratch_copy(Path(tmp) / "tree")
        (Path(tmp) / "cache").mkdir()
        env = _env(copy, Path(tmp) / "cache", t.env)
        old_dir = Path(tmp) / "session-sources"
        for src, text in old_text.items():
            (old_dir / src).parent.mkdir(parents=True, exist_ok=True)
            (old_dir / src).write_text(text)
        jobs_file = Path(tmp) / "jobs.json"
        current = _collect(copy, env, [x for x in t.tests if (copy / x).exists()])
        # the tests the session's map does not know (kill files, tests added since) get a map of their own on
        # the current tree, so each survivor runs only those of them that execute its statement
        cmap = json.loads((work / "coverage.json").read_text())
        known = set(cmap["order"])
        whole = [x for x in t.tests if (copy / x).exists() and ("mutation_kills" in x or not any(
            o.startswith(x + "::") for o in known))]
        new = whole + [x for x in current if x not in known and not x.startswith(tuple(f + "::" for f in whole))]
        new_map = Path(tmp) / "new-tests-coverage.json"
        if new:
            print(f"[{name}] mapping the coverage of {len(new)} test files/ids the session never ran", flush=True)
            code = ("import json, sys; sys.path.insert(0, 'bench'); from pathlib import Path; "
                    "from _mutation_exec import write_coverage_map; "
                    f"sys.exit(write_coverage_map({list(t.sources)!r}, json.loads(sys.argv[1]), Path(sys.argv[2])))")
            r = subprocess.run([sys.executable, "-c", code, json.dumps(new), str(new_map)], cwd=copy, env=env,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{name}: the new tests fail on the unmutated tree:\n{r.stdout[-3000:]}"
                                 f"{r.stderr[-2000:]}")
        jobs_file.write_text(json.dumps({"jobs": jobs, "current": current, "old_sources": str(old_dir),
                                         "new_map": str(new_map) if new else None}))
        cmd = [sys.executable, str(copy / "bench" / "mutation.py"), "--replay-exec", name, str(session),
               str(work / "coverage.json"), str(jobs_file)]
        return subprocess.run(cmd + (["--fresh"] if fresh else []), cwd=copy, env=env).returncode


def replay_exec(name: str, session: Path, coverage_map: Path, jobs_file: Path, fresh: bool) -> int:
    """The replay's worker (cwd = the new scratch copy): one line per survivor, then the counts."""
    import cosmic_ray.plugins
    from _mutation_exec import (
        CoverageMap,
        ForkServer,
        StatementIndex,
        mutation_starts,
        relocate,
        replay_tests,
        run_fresh,
        select_tests,
        statement_lines,
    )
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.work_db import WorkDB, use_db

    t = TARGETS[name]
    copy = Path.cwd()
    cmap = CoverageMap.load(coverage_map)
    spec = json.loads(jobs_file.read_text())
    old_dir = Path(spec["old_sources"])
    # whole files: the kill tests, and test files added to the target after the session's coverage map
    whole_files = [x for x in t.tests if (copy / x).exists() and ("mutation_kills" in x or not any(
        o.startswith(x + "::") for o in cmap.order))]
    server = None if fresh else ForkServer(cmap, list(t.sources))
    old_index = {src: StatementIndex(old_dir / src) for src in t.sources}  # the map's lines are the session's
    index = {src: StatementIndex(copy / src) for src in t.sources}
    log = copy / "replay.child.log"
    jobs = set(spec["jobs"])
    new_map = CoverageMap.load(Path(spec["new_map"])) if spec.get("new_map") else None
    counts: dict[str, int] = {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = [item for item, _ in db.completed_work_items if item.job_id in jobs]
    for item in items:
        m = item.mutations[0]
        src = os.path.relpath(m.module_path, session.parent / "tree") if os.path.isabs(m.module_path) else str(
            m.module_path)
        old_line = (old_dir / src).read_text().splitlines()[m.start_pos[0] - 1].strip()
        operator = cosmic_ray.plugins.get_operator(m.operator_name)(**(m.operator_args or {}))
        occurrence = relocate((old_dir / src).read_text(), (copy / src).read_text(), operator, m.occurrence)
        if occurrence is None:
            counts["gone"] = counts.get("gone", 0) + 1
            print(f"  gone     {src}:{m.start_pos[0]} {m.operator_name} #{m.occurrence}: {old_line}  "
                  "(its line changed since the session: run the target again)", flush=True)
            continue
        selected, _ = select_tests(cmap, old_index[src], src, *m.start_pos)
        with use_mutation(copy / src, operator, occurrence) as (original, mutated):
            starts = mutation_starts(original, operator)
            at = starts[occurrence] if occurrence < len(starts) else tuple(m.start_pos)
            # a function body run while importing (a handler factory filling a table): every test meets it
            # (select_tests); the session's map is of the old lines, so the current statement decides
            at_import = server.import_lines[src] if server is not None else set()
            if not selected and at_import.intersection(statement_lines(index[src], *at)):
                selected = list(cmap.order)
            if new_map is None:
                tests = replay_tests(cmap, selected, spec["current"], whole_files)
            else:  # the new tests that execute the mutant's statement, then the session's that still exist
                fresh, _ = select_tests(new_map, index[src], src, *at, at_import)
                tests = replay_tests(cmap, selected, [x for x in spec["current"] if x in set(cmap.order)], [])
                tests = fresh + tests
            budget = 120 + 10 * sum(cmap.durations.get(x, 1.0) for x in tests)
            how = "not run"
            if mutated is None:
                verdict = "gone"
            elif not tests:  # no test executes the statement; pytest handed no ids would run all of testpaths
                verdict = "survived"
            elif server is not None and server.hot(src, statement_lines(index[src], *at)):
                verdict, _ = server.run_hot(src, original, mutated, tests, budget, log)
                how = "forked"
            else:
                verdict, _ = run_fresh(tests, budget, log)
                how = "fresh process"
            if verdict == "survived" and t.lit and _run_lit(t.lit) != 0:
                verdict = "killed"
        verdict = "killed" if verdict == "timeout" else verdict
        counts[verdict] = counts.get(verdict, 0) + 1
        print(f"  {verdict:8s} {src}:{m.start_pos[0]} (now {at[0]}) {m.operator_name} #{m.occurrence}: {old_line}  "
              f"[{len(tests)} tests, {how}]", flush=True)
    undecided = {k: v for k, v in counts.items() if k not in ("killed", "survived")}
    print(f"[{name}] {counts.get('killed', 0)} of {len(items)} survivors killed now, {counts.get('survived', 0)} "
          f"survive" + (f", not decided: {undecided}" if undecided else ""), flush=True)
    return 0
