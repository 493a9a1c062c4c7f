"""Fresh-process checks, certified by the trusted side: a second job on handed-over files.

Some checks must prove that something works in a new Python process that holds none of the
notebook's state (a model reloaded from its files, a layer rebuilt from its config). The
student's own job cannot certify that about itself, so such a check is two tests:

1. a test in the grading job saves files into ``handover(name)`` (``out/handover/<name>/``);
2. a test marked ``@pytest.mark.fresh(name)`` runs in a **second** job that this module
   starts after the first: the same hidden grader files, no notebook cell, only the
   selected fresh tests, and a copy of the hand-over in ``in/handover/<name>/``.

Which tests are fresh is read from the grader's source with :mod:`ast` (job 1 is untrusted,
so its records never decide it). The copy takes regular files and folders only, never
follows a symbolic link at any component, checks every name and limits the number of
entries and bytes (``handover_files``, ``handover_mb``); a hand-over that breaks a rule is
refused whole and its fresh tests fail with the reason. The two outputs are merged: fresh
tests' records come from job 2 only, every other test's from job 1 only.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from autograder.load.exercise import Exercise
from autograder.load.notebook import CodeCell
from autograder.run.job_output import JobOutput
from autograder.run.jobs import JobResult, run_job
from autograder.run.sandbox.base import Sandbox
from autograder.runtime.protocol import HANDOVER_DIR, HANDOVER_NAME, IN_DIR, OUT_DIR
from autograder.runtime.protocol import HANDOVER_REPORT as REPORT_FILE
from autograder.settings import Limits

#: Changes whenever the way the two jobs are run or merged changes (part of key digests).
FRESH_FORMAT = "1"
#: A file or folder name inside a hand-over: no leading dot or dash, no separators.
ENTRY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
#: Deepest folder nesting inside a hand-over.
MAX_DEPTH = 6
_READ_CHUNK = 1 << 20


class FreshPlanError(ValueError):
    """A grader's ``fresh`` markers cannot be read statically (a grader error)."""


class Refused(Exception):
    """A hand-over breaks a rule; the message says which, in words a student can act on."""


@dataclass(frozen=True)
class FreshPlan:
    """The fresh tests of an exercise: test id (``"test_x.py::test_y"``) -> hand-over name."""

    tests: dict[str, str] = field(default_factory=dict)

    def split(self, select: Sequence[str] | None) -> tuple[list[str] | None, list[str]]:
        """The selections of job 1 and job 2 for a run that selects ``select`` (None: all)."""
        if select is None:
            return None, sorted(self.tests)
        return [t for t in select if t not in self.tests], sorted(
            t for t in select if t in self.tests
        )


@dataclass(frozen=True)
class Handover:
    """What the trusted side did with one hand-over folder."""

    name: str
    files: int = 0
    bytes: int = 0
    refused: str = ""


@dataclass(frozen=True)
class GradedRun:
    """The grading job, the fresh job (if one ran) and their merged output."""

    first: JobResult
    fresh: JobResult | None
    output: JobOutput
    handovers: dict[str, Handover] = field(default_factory=dict)


def fresh_plan(exercise: Exercise) -> FreshPlan:
    """Read the ``fresh`` markers of the exercise's grader files (cached by their content).

    Raises:
        FreshPlanError: If a ``fresh`` marker is used anywhere but as a decorator with one
            literal, valid name on a module-level test function.
    """
    sources = tuple(
        (p.name, p.read_text(encoding="utf-8"))
        for p in exercise.grader_files()
        if p.suffix == ".py" and p.name.startswith("test_")
    )
    return _plan(sources)


@cache
def _plan(sources: tuple[tuple[str, str], ...]) -> FreshPlan:
    tests: dict[str, str] = {}
    for file_name, text in sources:
        tree = ast.parse(text, filename=file_name)
        found = 0
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                name = _fresh_name(decorator, f"{file_name}::{node.name}")
                if name is not None:
                    tests[f"{file_name}::{node.name}"] = name
                    found += 1
        uses = sum(1 for n in ast.walk(tree) if _is_fresh_attribute(n))
        if uses != found:
            raise FreshPlanError(
                f"{file_name}: `pytest.mark.fresh` is used {uses} time(s) but only {found} "
                'as a decorator `@pytest.mark.fresh("name")` of a module-level test '
                "function; the trusted side reads fresh tests statically, so mark each one "
                "that way (no pytestmark, aliases or classes)"
            )
    return FreshPlan(tests)


def _is_fresh_attribute(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "fresh"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
    )


def _fresh_name(decorator: ast.expr, where: str) -> str | None:
    if not isinstance(decorator, ast.Call) or not _is_fresh_attribute(decorator.func):
        return None
    args = decorator.args
    if (
        len(args) != 1
        or decorator.keywords
        or not isinstance(args[0], ast.Constant)
        or not isinstance(args[0].value, str)
        or not HANDOVER_NAME.match(args[0].value)
    ):
        raise FreshPlanError(
            f'{where}: write `@pytest.mark.fresh("name")` with one literal hand-over name '
            f"matching {HANDOVER_NAME.pattern}"
        )
    return args[0].value


# -- the hand-over copy -------------------------------------------------------------------------
class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.max_entries = limits.handover_files
        self.max_bytes = limits.handover_mb << 20
        self.entries = 0
        self.bytes = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise Refused(
                f"more than {self.max_entries} files and folders were saved (save fewer files)"
            )

    def left(self) -> int:
        return self.max_bytes - self.bytes

    def add(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise Refused(
                f"the saved files hold more than {self.max_bytes >> 20} MB (save smaller files)"
            )


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def copy_handover(
    out_dir: Path, dest: Path, names: Iterable[str], limits: Limits
) -> dict[str, Handover]:
    """Copy ``out_dir/handover/<name>/`` into ``dest/<name>/`` for each name, safely.

    Nothing is followed: ``out_dir``, ``handover`` and every entry are opened with
    ``O_NOFOLLOW`` relative to their parent's descriptor. Only regular files and folders are
    taken; a symbolic link, device, FIFO or socket, a name outside :data:`ENTRY_NAME`, more
    than ``limits.handover_files`` entries, more than ``limits.handover_mb`` or folders
    deeper than :data:`MAX_DEPTH` refuse the whole hand-over (nothing of it is copied).
    A name that was never saved is left out of the report. ``dest/handover.json`` records
    the report for the fresh job. Never raises for anything the job left in ``out_dir``.

    Returns:
        Hand-over name -> what was copied or why it was refused.
    """
    dest.mkdir(parents=True, exist_ok=True)
    report: dict[str, Handover] = {}
    wanted = sorted({n for n in names if HANDOVER_NAME.match(n)})
    root = _open_dir(None, str(out_dir))
    try:
        handover = _open_dir(root, HANDOVER_DIR) if root is not None else None
        try:
            for name in wanted:
                if handover is not None:
                    entry = _copy_one(handover, name, dest / name, limits)
                    if entry is not None:
                        report[name] = entry
        finally:
            if handover is not None:
                os.close(handover)
    finally:
        if root is not None:
            os.close(root)
    data = {
        n: {"files": h.files, "bytes": h.bytes, "refused": h.refused} for n, h in report.items()
    }
    (dest / REPORT_FILE).write_text(json.dumps(data), encoding="utf-8")
    return report


def _open_dir(parent: int | None, name: str) -> int | None:
    """A folder's descriptor, or ``None`` when it is missing or not a real folder."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        return None


def _copy_one(handover: int, name: str, target: Path, limits: Limits) -> Handover | None:
    try:
        st = os.stat(name, dir_fd=handover, follow_symlinks=False)
    except OSError:
        return None  # never saved
    try:
        if not stat.S_ISDIR(st.st_mode):
            raise Refused(f"`{name}` is not a folder")
        fd = _open_dir(handover, name)
        if fd is None:
            raise Refused(f"`{name}` could not be opened as a folder")
        budget = _Budget(limits)
        try:
            target.mkdir()
            _copy_tree(fd, target, budget, name, 0)
        finally:
            os.close(fd)
    except Refused as exc:
        shutil.rmtree(target, ignore_errors=True)
        return Handover(name, refused=str(exc)[:300])
    except OSError as exc:  # a file vanished or could not be read: refuse, never crash
        shutil.rmtree(target, ignore_errors=True)
        return Handover(name, refused=f"the saved files could not be read ({exc.strerror})")
    return Handover(name, budget.entries, budget.bytes)


def _copy_tree(dir_fd: int, target: Path, budget: _Budget, where: str, depth: int) -> None:
    entries: list[str] = []
    with os.scandir(dir_fd) as it:
        for entry in it:
            budget.entry()
            entries.append(entry.name)
    for name in sorted(entries):
        shown = f"{where}/{name}" if ENTRY_NAME.match(name) else f"{where}/{name[:40]!r}"
        if not ENTRY_NAME.match(name):
            raise Refused(
                f"the file name {shown} is not allowed (use letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-')"
            )
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if depth + 1 > MAX_DEPTH:
                raise Refused(f"{shown} is nested more than {MAX_DEPTH} folders deep")
            sub = _open_dir(dir_fd, name)
            if sub is None:
                raise Refused(f"{shown} could not be opened as a folder")
            try:
                (target / name).mkdir()
                _copy_tree(sub, target / name, budget, shown, depth + 1)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(dir_fd, name, target / name, budget, shown)
        else:
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise Refused(f"{shown} is {kind}; save regular files only")


def _copy_file(dir_fd: int, name: str, target: Path, budget: _Budget, shown: str) -> None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise Refused(f"{shown} could not be opened ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat above
            raise Refused(f"{shown} is not a regular file; save regular files only")
        with open(target, "xb") as out:
            while True:
                chunk = os.read(fd, min(_READ_CHUNK, budget.left() + 1))
                if not chunk:
                    break
                budget.add(len(chunk))
                out.write(chunk)
    finally:
        os.close(fd)
    target.chmod(0o444)


# -- the two jobs -------------------------------------------------------------------------------
def merge_outputs(
    first: JobOutput, fresh: JobOutput | None, plan: FreshPlan, fresh_select: Sequence[str]
) -> JobOutput:
    """Job 1's output with its fresh-test records replaced by job 2's.

    Each job is believed only about its own tests: records job 1 wrote for a fresh test and
    records job 2 wrote for any test that was not selected for it are dropped.
    """
    tests = {t: r for t, r in first.tests.items() if t not in plan.tests}
    collect_errors = list(first.collect_errors)
    problems = list(first.problems)
    runtime_error = first.runtime_error
    if fresh is not None:
        chosen = set(fresh_select)
        tests.update({t: r for t, r in fresh.tests.items() if t in chosen})
        collect_errors += [f"fresh job: {e}" for e in fresh.collect_errors]
        problems += [f"fresh job: {p}" for p in fresh.problems]
        if fresh.runtime_error:
            runtime_error = (runtime_error + "\n" if runtime_error else "") + (
                f"fresh job: {fresh.runtime_error}"
            )
    return replace(
        first,
        tests=tests,
        collect_errors=collect_errors,
        problems=problems,
        runtime_error=runtime_error,
    )


def run_graded(
    exercise: Exercise,
    cells: Sequence[CodeCell],
    seed: int,
    sandbox: Sandbox,
    keep: Path | None = None,
    select: Sequence[str] | None = None,
) -> GradedRun:
    """Run the grading job and, when fresh tests are selected, the fresh job after it.

    Args:
        exercise: The exercise whose grader runs.
        cells: The notebook's code cells (job 1 only; job 2 runs none).
        seed: The batch seed.
        sandbox: Where both jobs run.
        keep: If given, job 1's ``out`` is copied to ``keep`` and job 2's to
            ``keep.parent / "fresh_out"`` (see :func:`read_kept`).
        select: Run only these test ids (default: all).
    """
    plan = fresh_plan(exercise)
    first_select, fresh_select = plan.split(select)
    if not fresh_select:
        first = _with_retry(
            lambda: run_job(exercise, cells, seed, sandbox, keep=keep, select=first_select)
        )
        return GradedRun(first, None, merge_outputs(first.output, None, plan, ()))
    staging = Path(tempfile.mkdtemp(prefix="gradetape-handover-"))
    try:
        report: dict[str, dict[str, Handover]] = {}
        names = {plan.tests[t] for t in fresh_select}

        def collect(job_dir: Path) -> None:
            shutil.rmtree(staging / HANDOVER_DIR, ignore_errors=True)
            report["copied"] = copy_handover(
                job_dir / OUT_DIR, staging / HANDOVER_DIR, names, exercise.limits
            )

        first = _with_retry(
            lambda: run_job(
                exercise, cells, seed, sandbox, keep=keep, select=first_select, collect=collect
            )
        )

        def provide(job_dir: Path) -> None:  # a trusted tree: regular files and folders
            shutil.copytree(staging / HANDOVER_DIR, job_dir / IN_DIR / HANDOVER_DIR)

        fresh_keep = keep.parent / "fresh_out" if keep is not None else None
        fresh = _with_retry(
            lambda: run_job(
                exercise,
                [],
                seed,
                sandbox,
                keep=fresh_keep,
                select=fresh_select,
                fresh=True,
                provide=provide,
            )
        )
        output = merge_outputs(first.output, fresh.output, plan, fresh_select)
        return GradedRun(first, fresh, output, report.get("copied", {}))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _with_retry(run: Callable[[], JobResult]) -> JobResult:
    """Run a job; once more when its runtime never started (a worker problem)."""
    result = run()
    if "ready" not in result.output.events and not result.run.timed_out:
        result = run()
    return result


def read_kept(
    out_dir: Path,
    exercise: Exercise,
    select: Sequence[str] | None,
    read: Callable[[Path], JobOutput],
) -> JobOutput:
    """Merge the outputs :func:`run_graded` kept (``out_dir`` and its sibling ``fresh_out``)."""
    plan = fresh_plan(exercise)
    _, fresh_select = plan.split(select)
    fresh_dir = out_dir.parent / "fresh_out"
    fresh = read(fresh_dir) if fresh_select and fresh_dir.is_dir() else None
    return merge_outputs(read(out_dir), fresh, plan, fresh_select)
