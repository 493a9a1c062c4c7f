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
entries and bytes (:mod:`autograder.run.handover`); a hand-over that breaks a rule is refused
whole and its fresh tests fail with the reason. The two outputs are merged: fresh
tests' records come from job 2 only, every other test's from job 1 only.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from autograder.load.exercise import Exercise
from autograder.load.notebook import CodeCell
from autograder.run.handover import HANDOVER_NAME, Handover, copy_handover
from autograder.run.job_output import JobOutput
from autograder.run.jobs import JobResult, run_job
from autograder.run.sandbox.base import Sandbox
from autograder.runtime.protocol import HANDOVER_DIR, IN_DIR, OUT_DIR

#: Changes whenever the way the two jobs are run or merged changes (part of key digests).
FRESH_FORMAT = "1"


class FreshPlanError(ValueError):
    """A grader's ``fresh`` markers cannot be read statically (a grader error)."""


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
