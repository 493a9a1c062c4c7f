"""Build a job directory, run it in a sandbox, read its values back."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.load.exercise import Exercise
from autograder.load.heldout import write_inputs
from autograder.load.notebook import CodeCell
from autograder.run.job_output import JobOutput, read_job_dir
from autograder.run.sandbox.base import Sandbox, SandboxRun
from autograder.run.seeds import job_seeds
from autograder.settings import Limits


class SandboxFailure(RuntimeError):
    """The sandbox raised instead of returning a run: the grading machine's problem.

    A sandbox never raises for what a student's code did, so this is not the student's
    fault; the caller gives that submission a zero that is never cached and flags it, and
    stops the batch when it keeps happening.
    """


@dataclass(frozen=True)
class JobResult:
    """The sandbox run and the values it produced."""

    output: JobOutput
    run: SandboxRun


def write_job(
    job_dir: Path,
    exercise: Exercise,
    cells: Sequence[CodeCell],
    seed: int,
    limits: Limits,
    select: Sequence[str] | None = None,
    fresh: bool = False,
) -> None:
    """Lay out ``job_dir``: ``in/job.json``, ``in/grader/``, ``in/data/``, empty ``out/``.

    ``in/grader/`` holds the hidden tests; ``in/data/`` the inputs of the held-out datasets
    the exercise declares (never their evaluation labels). ``select`` limits the run to
    those test ids (``"test_x.py::test_name"``); ``None`` runs every test. ``fresh`` makes
    it a fresh job, which runs only the tests marked ``fresh`` (see
    :mod:`autograder.run.fresh_process`).

    ``seed`` is the course seed: it stays here. ``job.json`` receives only seeds derived
    from it (:mod:`autograder.run.seeds`): ``notebook_seed`` and ``test_seeds``.
    """
    (job_dir / "in" / "grader").mkdir(parents=True)
    (job_dir / "out").mkdir()
    for path in exercise.grader_files():
        shutil.copyfile(path, job_dir / "in" / "grader" / path.name)
    write_inputs(exercise.datasets, seed, job_dir / "in" / "data", exercise.private_data)
    spec = {
        "exercise": exercise.name,
        **job_seeds(seed, exercise.name, exercise.grader_files()).as_json(),
        "cell_timeout": limits.cell_timeout,
        "test_timeout": limits.test_timeout,
        "output_limit": limits.output_chars,
        "max_value_bytes": limits.max_value_mb << 20,
        "cells": [{"index": c.index, "cell_id": c.cell_id, "source": c.source} for c in cells],
    }
    if select is not None:
        spec["select"] = sorted(select)
    if fresh:
        spec["fresh"] = True
    (job_dir / "in" / "job.json").write_text(json.dumps(spec), encoding="utf-8")


def run_job(
    exercise: Exercise,
    cells: Sequence[CodeCell],
    seed: int,
    sandbox: Sandbox,
    keep: Path | None = None,
    select: Sequence[str] | None = None,
    fresh: bool = False,
    provide: Callable[[Path], None] | None = None,
    collect: Callable[[Path], None] | None = None,
) -> JobResult:
    """Run one job and return what it produced; the job directory is removed afterwards.

    The output is read from this job's own folder only, without following symlinks (see
    :func:`autograder.run.job_output.read_job_dir`); reading never raises for what the job wrote.

    Args:
        exercise: The exercise whose grader runs.
        cells: The code cells to execute, in order.
        seed: The batch seed.
        sandbox: Where to run.
        keep: If given, the job's ``out`` directory is copied here (used to cache keys).
        select: Run only these test ids (default: all).
        fresh: Run a fresh job (only the tests marked ``fresh``).
        provide: Called with the job directory once it is laid out, before the run.
        collect: Called with the job directory after the run, before it is removed.

    Raises:
        SandboxFailure: If the sandbox itself raised (a platform problem).
    """
    limits = exercise.limits
    job_dir = Path(tempfile.mkdtemp(prefix="gradetape-job-"))
    try:
        write_job(job_dir, exercise, cells, seed, limits, select, fresh)
        if provide is not None:
            provide(job_dir)
        try:
            run = sandbox.run(job_dir, limits)
        except Exception as exc:
            raise SandboxFailure(
                f"the {sandbox.name} sandbox raised {type(exc).__name__}: {exc}"
            ) from exc
        output = read_job_dir(str(job_dir), limits.max_value_mb << 20, limits.max_total_mb << 20)
        out = job_dir / "out"
        if keep is not None and out.is_dir() and not out.is_symlink() and not job_dir.is_symlink():
            shutil.copytree(
                job_dir / "out",
                keep,
                symlinks=True,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("handover"),  # the fresh job's input, not output
            )
        if collect is not None:
            collect(job_dir)
        return JobResult(output, run)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def job_note(result: JobResult, limits: Limits) -> str:
    """Why a job ended before all tests ran, in words a student can act on ("" if it didn't)."""
    out, run = result.output, result.run
    if out.finished:
        return ""
    if run.timed_out:
        return (
            f"the grading job was stopped after {limits.job_timeout:g} s; look for an endless "
            "loop or very slow code"
        )
    ended = {c.index for c in out.cells}
    unfinished = [i for i in out.started_cells if i not in ended]
    if unfinished:
        return (
            f"the notebook ended the grading process in code cell {unfinished[-1] + 1} (it "
            "exited, crashed or ran out of memory); later cells and the tests did not run"
        )
    if "grading" in out.events:
        return (
            "the grading process ended during the tests (a crash, an exit or running out of memory)"
        )
    return "the grading process could not start; an instructor has been told"
