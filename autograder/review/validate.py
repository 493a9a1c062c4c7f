"""Check a notebook before it is handed in: what would be graded, and the visible self-checks.

``validate`` is for students and TAs (``gradetape validate NOTEBOOK``, or nbgrader's Validate
button through :mod:`autograder.integrations.nbgrader_validator`).
It loads the notebook the way grading
does (a malformed file gets the same reason) and runs its code cells in order in a fresh
sandbox, **including the visible self-check cells**, and reports each question: passed,
failed (with the self-check's hint), not attempted or not run.

Two ways to know what the notebook should hold:

* **In the course repository** (the notebook matches one of its released exercises): the
  notebook is rebuilt on the release with :func:`autograder.load.notebook.prepare`, so edited locked
  cells are restored and reported, exactly as grading does.
* **On its own** (a student's folder: no graders, no ``solutions/``, no ``gradetape.toml``):
  everything comes from the notebook itself. Its nbgrader metadata names the questions, their
  points and the solution cells; nbgrader's checksums tell edited locked cells and edited
  self-checks, which are reported (grading restores the originals, so an edited self-check's
  outcome is not trusted).

The hidden graders are never copied into the sandbox and never run here; the secret seed is
not used either. A passing self-check is a hint, not a grade.
"""

from __future__ import annotations

import copy
import time
from contextlib import ExitStack
from pathlib import Path

import nbformat

from autograder.load.exercise import Exercise, exercise_names, load_exercise
from autograder.load.notebook import (
    CodeCell,
    Rejected,
    grade_id,
    prepare,
    question_points,
    read_notebook,
)
from autograder.review.notebook_questions import (
    edited_cells,
    is_blank,
    solution_cells_by_question,
    solution_ids,
    with_runnable_self_checks,
)
from autograder.review.validate_report import (
    QuestionCheck,
    Status,
    ValidationReport,
    edit_notices,
    first_line,
    not_attempted,
    self_check_hint,
)
from autograder.run.job_output import JobOutput
from autograder.run.jobs import JobWording, job_cells, job_note, lay_out_job, run_laid_out
from autograder.run.sandbox import Sandbox, SandboxSpec, make_sandbox
from autograder.runtime.protocol import JobSpec
from autograder.settings import CourseSettings, Limits

__all__ = ["QuestionCheck", "Status", "ValidationReport", "find_exercise", "is_blank", "validate"]

#: The (public) seed of a validation run; the course's secret seed never enters it.
VALIDATE_SEED = 0


def validate(
    path: Path,
    settings: CourseSettings | None = None,
    exercise: str | None = None,
    sandbox: Sandbox | None = None,
) -> ValidationReport:
    """Check ``path`` the way grading would read it and run its visible self-checks.

    Args:
        path: A notebook: a release, a student's work or a source notebook, in the course
            repository or anywhere else.
        settings: The course, when there is one; the notebook is then rebuilt on its
            exercise's release. ``None`` (or no matching released exercise): the notebook
            is checked on its own.
        exercise: The exercise's name; found from the notebook when ``None``. Needs
            ``settings``.
        sandbox: Where to run the cells (e.g. an
            :class:`~autograder.run.sandbox.early.EarlySandbox` already starting); default: a
            fresh sandbox of the course's (or ``auto``) isolation.

    Returns:
        The report; ``rejected`` is set (and nothing ran) when the notebook cannot be read,
        names an unknown exercise, or has no nbgrader questions. Never raises for the
        notebook's content.
    """
    start = time.monotonic()
    path = Path(path)
    try:
        notebook = read_notebook(path)
    except Rejected as exc:
        return ValidationReport(path, exercise, rejected=str(exc))
    notices: tuple[str, ...] = ()
    if settings is not None:
        try:
            found = _course_exercise(path, notebook, settings, exercise)
        except (Rejected, FileNotFoundError) as exc:
            return ValidationReport(path, exercise, rejected=str(exc))
        if found is not None and found.release_path.is_file():
            try:
                release = read_notebook(found.release_path)
            except Rejected as exc:
                reason = f"the released notebook is broken: {exc}"
                return ValidationReport(path, found.name, rejected=reason)
            return _check(
                path,
                notebook,
                release,
                found.name,
                found.limits,
                settings.isolation,
                start,
                sandbox=sandbox,
            )
        if found is not None:
            notices = (
                f"exercise {found.name} has not been released yet (no {found.notebook} in "
                f"exercises/{found.name}); the notebook was checked on its own",
            )
    return _check_alone(path, notebook, settings, start, notices, sandbox)


def _course_exercise(
    path: Path, notebook: nbformat.NotebookNode, settings: CourseSettings, name: str | None
) -> Exercise | None:
    """The course exercise of the notebook; ``None`` when it matches none (checked alone).

    Raises:
        FileNotFoundError: If ``name`` is not an exercise of the course.
        Rejected: If the exercise's settings are broken.
    """
    if name is not None:
        return load_exercise(settings, name)
    try:
        return load_exercise(settings, find_exercise(path, notebook, settings))
    except Rejected:
        return None


def _check_alone(
    path: Path,
    notebook: nbformat.NotebookNode,
    settings: CourseSettings | None,
    start: float,
    notices: tuple[str, ...] = (),
    sandbox: Sandbox | None = None,
) -> ValidationReport:
    """Check a notebook from its own nbgrader metadata (no course, no release)."""
    if not question_points(notebook):
        return ValidationReport(
            path,
            None,
            rejected=(
                f"{path.name} does not look like a notebook of this course: it has no "
                "nbgrader question cells (autograded cells with points); open the released "
                "notebook you were given"
            ),
        )
    skeleton = copy.deepcopy(notebook)
    skeleton.cells = [c for c in skeleton.cells if grade_id(c)]  # added cells stay the student's
    edits = edited_cells(notebook)
    limits = settings.limits if settings is not None else Limits()
    isolation = settings.isolation if settings is not None else "auto"
    return _check(
        path,
        notebook,
        skeleton,
        None,
        limits,
        isolation,
        start,
        alone=True,
        edits=edits,
        notices=notices,
        sandbox=sandbox,
    )


def find_exercise(path: Path, notebook: nbformat.NotebookNode, settings: CourseSettings) -> str:
    """The exercise a notebook belongs to: by file name, by folder, then by its cells' ids.

    Raises:
        Rejected: If no exercise matches.
    """
    names = exercise_names(settings)
    exercises = []
    for name in names:
        try:
            exercises.append(load_exercise(settings, name))
        except (OSError, ValueError):  # a grader.toml being written; not this notebook's fault
            continue
    for ex in exercises:
        if path.name == ex.notebook:
            return ex.name
    for ex in exercises:
        if path.parent.name == ex.name:
            return ex.name
    ids = {grade_id(c) for c in notebook.cells} - {""}
    best, best_score = "", 0.0
    for ex in exercises:
        if not ex.release_path.is_file():
            continue
        try:
            theirs = {grade_id(c) for c in read_notebook(ex.release_path).cells} - {""}
        except Rejected:
            continue
        score = len(ids & theirs) / max(1, len(ids | theirs))
        if score > best_score:
            best, best_score = ex.name, score
    if best_score >= 0.5:
        return best
    known = ", ".join(names) or "none"
    raise Rejected(
        f"{path.name} does not look like a notebook of this course: its name and its nbgrader "
        f"cells match no exercise (exercises: {known})"
    )


def _check(
    path: Path,
    notebook: nbformat.NotebookNode,
    release: nbformat.NotebookNode,
    exercise: str | None,
    limits: Limits,
    isolation: str,
    start: float,
    alone: bool = False,
    edits: dict[str, str] | None = None,
    notices: tuple[str, ...] = (),
    sandbox: Sandbox | None = None,
) -> ValidationReport:
    """Run the notebook rebuilt on ``release`` (its own skeleton when ``alone``) and report."""
    edits = edits or {}
    graded = prepare(notebook, release)
    points = question_points(release)
    owners = solution_cells_by_question(release, points)
    solutions = solution_ids(release)
    blank = {gid for gid in solutions if is_blank(graded.student_code.get(gid, ""))}
    extras = any(key.startswith("extra-") for key in graded.student_code)
    notices = (*notices, *graded.notices, *edit_notices(edits, points))
    questions: list[QuestionCheck] = []
    if not extras and blank == solutions:
        # Nothing written yet: every self-check would stop at NotImplementedError.
        for q, pts in points.items():
            mine = owners[q]
            questions.append(not_attempted(q, pts, mine, mine))
        return ValidationReport(
            path,
            exercise,
            questions=tuple(questions),
            notices=notices,
            duration_s=time.monotonic() - start,
            alone=alone,
        )

    cells = prepare(notebook, with_runnable_self_checks(release, points)).cells
    with ExitStack() as owned:  # a sandbox built here is closed here; a caller's is theirs
        box = sandbox or owned.enter_context(_sandbox(isolation))
        output, note, ran_in = _run(cells, limits, box)
    ended = {rec.index: rec for rec in output.cells}
    by_gid = {c.cell_id: c for c in cells if c.cell_id}
    cell_errors: list[str] = []
    for cell in cells:
        rec = ended.get(cell.index)
        if rec is None or rec.ok or cell.cell_id in points:
            continue
        name = f"cell `{cell.cell_id}`" if cell.cell_id else "a code cell you added"
        cell_errors.append(f"{name} raised {first_line(rec.error)}")
    for q, pts in points.items():
        mine = owners[q]
        empty = tuple(g for g in mine if g in blank)
        check = by_gid.get(q)
        rec = ended.get(check.index) if check is not None else None
        if rec is None:
            reason = note or "the run stopped before this self-check"
            questions.append(QuestionCheck(q, pts, Status.NOT_RUN, reason, mine, empty))
        elif q in edits:
            said = "it passed" if rec.ok else f"it said: {self_check_hint(rec, [], ())}"
            detail = (
                f"this self-check cell was {edits[q]}, so its outcome does not count ({said}); "
                "grading uses the original: restore it (copy it from the released notebook)"
            )
            questions.append(QuestionCheck(q, pts, Status.FAILED, detail, mine, empty))
        elif rec.ok:
            questions.append(QuestionCheck(q, pts, Status.PASSED, "", mine, empty))
        elif empty and rec.error.startswith("NotImplementedError"):
            questions.append(not_attempted(q, pts, mine, empty))
        else:
            hint = self_check_hint(
                rec, [ended.get(by_gid[g].index) for g in mine if g in by_gid], mine
            )
            questions.append(QuestionCheck(q, pts, Status.FAILED, hint, mine, empty))
    return ValidationReport(
        path,
        exercise,
        questions=tuple(questions),
        notices=notices,
        cell_errors=tuple(cell_errors),
        run_note=note,
        ran=True,
        duration_s=time.monotonic() - start,
        isolation=ran_in,
        alone=alone,
    )


def _sandbox(isolation: str) -> Sandbox:
    """The sandbox of a validation run.

    Without bubblewrap, ``auto`` runs the notebook as a plain subprocess without grading's
    loud warning: it is the student's own code, run for the student, as Jupyter would.
    """
    return make_sandbox(SandboxSpec(isolation, warm=False, warn_weak=False))


#: How a validation run's early end is worded (the student runs their own notebook).
SELF_CHECK_WORDING = JobWording(
    timed_out="The run was stopped after {seconds:g} s; look for an endless loop or very slow "
    "code.",
    cell_ended="Code cell {cell} ended the Python process (it exited, crashed or ran out of "
    "memory); later cells did not run.",
    tests_ended="",  # a validation job has no tests
    not_started="The notebook could not be run (the sandbox did not start).",
)


def _run(
    cells: tuple[CodeCell, ...], limits: Limits, sandbox: Sandbox
) -> tuple[JobOutput, str, str]:
    """Run ``cells`` in ``sandbox`` with no grader; returns output, a note, the sandbox.

    The job has an empty ``in/grader/`` (no hidden test runs), the public
    :data:`VALIDATE_SEED` and no test seeds; it runs through the one job runner
    (:func:`autograder.run.jobs.run_laid_out`) and is read by the same reader as grading.
    """
    spec = JobSpec(
        notebook_seed=VALIDATE_SEED,
        cells=job_cells(cells),
        cell_timeout=limits.cell_timeout,
        test_timeout=limits.test_timeout,
        output_limit=limits.output_chars,
        max_value_bytes=1 << 20,
    )
    result = run_laid_out(
        lambda job_dir: lay_out_job(job_dir, spec), sandbox, limits, spec.max_value_bytes
    )
    note = job_note(result, limits, SELF_CHECK_WORDING)
    return result.output, note, result.run.isolation
