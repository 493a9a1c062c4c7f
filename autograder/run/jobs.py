"""Build a job directory, run it in a sandbox, read its values back."""

from __future__ import annotations

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
from autograder.runtime.protocol import (
    DATA_DIR,
    GRADER_DIR,
    HANDOVER_DIR,
    IN_DIR,
    JOB_FILE,
    OUT_DIR,
    JobCell,
    JobSpec,
)
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


def job_spec(
    exercise: Exercise,
    cells: Sequence[CodeCell],
    seed: int,
    limits: Limits,
    select: Sequence[str] | None = None,
    fresh: bool = False,
) -> JobSpec:
    """The job spec of a grading job: ``seed`` (the course seed) enters only as derived seeds."""
    seeds = job_seeds(seed, exercise.name, exercise.grader_files())
    return JobSpec(
        exercise=exercise.name,
        notebook_seed=seeds.notebook,
        test_seeds=dict(sorted(seeds.tests.items())),
        cells=job_cells(cells),
        cell_timeout=limits.cell_timeout,
        test_timeout=limits.test_timeout,
        output_limit=limits.output_chars,
        max_value_bytes=limits.max_value_mb << 20,
        select=None if select is None else tuple(sorted(select)),
        fresh=fresh,
    )


def job_cells(cells: Sequence[CodeCell]) -> tuple[JobCell, ...]:
    """The cells of a job spec."""
    return tuple(JobCell(c.index, c.cell_id, c.source) for c in cells)


def lay_out_job(job_dir: Path, spec: JobSpec, grader_files: Sequence[Path] = ()) -> None:
    """Create ``in/job.json``, ``in/grader/`` (with ``grader_files``) and an empty ``out/``."""
    grader = job_dir / IN_DIR / GRADER_DIR
    grader.mkdir(parents=True)
    (job_dir / OUT_DIR).mkdir()
    for path in grader_files:
        shutil.copyfile(path, grader / path.name)
    write_spec(job_dir, spec)


def write_spec(job_dir: Path, spec: JobSpec) -> None:
    """Write (or replace) the job's ``in/job.json``."""
    (job_dir / IN_DIR / JOB_FILE).write_text(spec.to_json(), encoding="utf-8")


def read_spec(job_dir: Path) -> JobSpec:
    """The job's ``in/job.json`` (raises :class:`~autograder.runtime.protocol.Malformed`)."""
    return JobSpec.from_json((job_dir / IN_DIR / JOB_FILE).read_text(encoding="utf-8"))


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
    spec = job_spec(exercise, cells, seed, limits, select, fresh)
    lay_out_job(job_dir, spec, exercise.grader_files())
    write_inputs(exercise.datasets, seed, job_dir / IN_DIR / DATA_DIR, exercise.private_data)


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
    """Run one grading job and return what it produced (see :func:`run_laid_out`).

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

    def lay_out(job_dir: Path) -> None:
        write_job(job_dir, exercise, cells, seed, limits, select, fresh)
        if provide is not None:
            provide(job_dir)

    return run_laid_out(lay_out, sandbox, limits, limits.max_value_mb << 20, keep, collect)


def run_laid_out(
    lay_out: Callable[[Path], None],
    sandbox: Sandbox,
    limits: Limits,
    max_value_bytes: int,
    keep: Path | None = None,
    collect: Callable[[Path], None] | None = None,
) -> JobResult:
    """Lay out a new job directory, run it, read its output; the directory is removed after.

    The output is read from this job's own folder only, without following symlinks (see
    :func:`autograder.run.job_output.read_job_dir`); reading never raises for what the job
    wrote.

    Args:
        lay_out: Writes the job's ``in/`` and empty ``out/`` into the directory it is given.
        sandbox: Where to run.
        limits: The job's limits.
        max_value_bytes: Largest array read back.
        keep: If given, the job's ``out`` directory is copied here (used to cache keys).
        collect: Called with the job directory after the run, before it is removed.

    Raises:
        SandboxFailure: If the sandbox itself raised (a platform problem).
    """
    job_dir = Path(tempfile.mkdtemp(prefix="gradetape-job-"))
    try:
        lay_out(job_dir)
        try:
            run = sandbox.run(job_dir, limits)
        except Exception as exc:
            raise SandboxFailure(
                f"the {sandbox.name} sandbox raised {type(exc).__name__}: {exc}"
            ) from exc
        output = read_job_dir(str(job_dir), max_value_bytes, limits.max_total_mb << 20)
        out = job_dir / OUT_DIR
        if keep is not None and out.is_dir() and not out.is_symlink() and not job_dir.is_symlink():
            shutil.copytree(
                out,
                keep,
                symlinks=True,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(HANDOVER_DIR),  # the fresh job's input, not output
            )
        if collect is not None:
            collect(job_dir)
        return JobResult(output, run)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


@dataclass(frozen=True)
class JobWording:
    """How :func:`job_note` words each way a job can end early, for one audience.

    ``{seconds}`` is the job's time limit and ``{cell}`` the 1-based number of the code cell
    that ended the process.
    """

    timed_out: str
    cell_ended: str
    tests_ended: str
    not_started: str


#: The wording of a grading job's note (students read it beside their score).
GRADING_WORDING = JobWording(
    timed_out="the grading job was stopped after {seconds:g} s; look for an endless loop or "
    "very slow code",
    cell_ended="the notebook ended the grading process in code cell {cell} (it exited, crashed "
    "or ran out of memory); later cells and the tests did not run",
    tests_ended="the grading process ended during the tests (a crash, an exit or running out of "
    "memory)",
    not_started="the grading process could not start; an instructor has been told",
)


def job_note(result: JobResult, limits: Limits, wording: JobWording = GRADING_WORDING) -> str:
    """Why a job ended before all tests ran, in words a student can act on ("" if it didn't)."""
    out, run = result.output, result.run
    if out.finished:
        return ""
    if run.timed_out:
        return wording.timed_out.format(seconds=limits.job_timeout)
    ended = {c.index for c in out.cells}
    unfinished = [i for i in out.started_cells if i not in ended]
    if unfinished:
        return wording.cell_ended.format(cell=unfinished[-1] + 1)
    if "grading" in out.events:
        return wording.tests_ended
    return wording.not_started
