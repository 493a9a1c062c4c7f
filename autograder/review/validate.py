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
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

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
from autograder.run.job_output import CellRecord, JobOutput, read_job_dir
from autograder.run.sandbox import Sandbox, SandboxSpec, make_sandbox
from autograder.settings import CourseSettings, Limits

#: The (public) seed of a validation run; the course's secret seed never enters it.
VALIDATE_SEED = 0

_BLANK = re.compile(r"^[ \t]*raise[ \t]+NotImplementedError\b", re.MULTILINE)


class Status(StrEnum):
    """The outcome of one question's visible self-check."""

    PASSED = "passed"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # some of its solution cells still raise NotImplementedError
    NOT_ATTEMPTED = "not attempted"  # every one of its solution cells does
    NOT_RUN = "not run"  # the run stopped (time limit, crash) before the self-check


_MARKS = {
    Status.PASSED: "✓",
    Status.FAILED: "✗",
    Status.INCOMPLETE: "·",
    Status.NOT_ATTEMPTED: "·",
    Status.NOT_RUN: "?",
}


@dataclass(frozen=True)
class QuestionCheck:
    """One question (an nbgrader grade cell) and what its visible self-check said.

    Attributes:
        question: The question cell's ``grade_id``.
        points: Its points in the gradebook (from the hidden tests, not the self-check).
        status: The self-check's outcome.
        detail: The hint (the assertion's message) or why it did not pass or run.
        solution_cells: ``grade_id`` of the solution cells this self-check exercises.
        blank_cells: Those of them that still raise ``NotImplementedError``.
    """

    question: str
    points: float
    status: Status
    detail: str = ""
    solution_cells: tuple[str, ...] = ()
    blank_cells: tuple[str, ...] = ()

    @property
    def mark(self) -> str:
        """A one-character symbol of the status."""
        return _MARKS[self.status]


@dataclass(frozen=True)
class ValidationReport:
    """What ``validate`` found out about one notebook.

    Attributes:
        path: The notebook checked.
        exercise: The exercise it belongs to (``None`` when that could not be told).
        rejected: Why the notebook cannot be graded at all (``None`` when it can).
        questions: One entry per question, in notebook order.
        notices: What grading would change or ignore (edited locked cells, missing cells).
        cell_errors: Errors of code cells that are not self-checks (e.g. a syntax error).
        run_note: Why the run stopped early ("" when it did not).
        ran: Whether the notebook was executed (not when nothing was attempted).
        duration_s: Wall time of the whole check.
        isolation: The sandbox the cells ran in ("" when nothing ran).
        alone: Whether it was checked on its own (no course release to rebuild it on).
    """

    path: Path
    exercise: str | None
    rejected: str | None = None
    questions: tuple[QuestionCheck, ...] = ()
    notices: tuple[str, ...] = ()
    cell_errors: tuple[str, ...] = ()
    run_note: str = ""
    ran: bool = False
    duration_s: float = 0.0
    isolation: str = ""
    alone: bool = False

    @property
    def readable(self) -> bool:
        """Whether the notebook could be read and matched to an exercise."""
        return self.rejected is None

    @property
    def exit_code(self) -> int:
        """0 when the notebook could be read (whatever the self-checks said), else 2."""
        return 0 if self.readable else 2

    @property
    def all_passed(self) -> bool:
        """Whether every visible self-check passed."""
        return self.readable and all(q.status is Status.PASSED for q in self.questions)

    @property
    def total_points(self) -> float:
        """Points of every question that would be graded."""
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> QuestionCheck:
        """The check of one question.

        Raises:
            KeyError: If the exercise has no such question.
        """
        for q in self.questions:
            if q.question == question_id:
                return q
        raise KeyError(question_id)

    def format(self) -> str:
        """A readable multi-line report for a terminal."""
        head = f"{self.path.name} — exercise {self.exercise}" if self.exercise else self.path.name
        if self.rejected is not None:
            return f"{head}\n✗ cannot be graded: {self.rejected}"
        lines = [head]
        if self.alone:
            lines.append("(checked on its own: its cells and nbgrader metadata as in this file)")
        width = max((len(q.question) for q in self.questions), default=0)
        for q in self.questions:
            if q.status is Status.PASSED:
                text = q.status.value
            elif q.status is Status.FAILED:
                text = q.detail or q.status.value
            else:
                text = f"{q.status.value} ({q.detail})" if q.detail else q.status.value
            lines.append(f"{q.mark} {q.question:<{width}}   {_indent(text, width + 5)}")
        passed = sum(q.status is Status.PASSED for q in self.questions)
        lines.append(
            f"Self-checks: {passed} of {len(self.questions)} passed."
            + (f" {self.run_note}" if self.run_note else "")
        )
        count = len(self.questions)
        lines.append(
            f"Would be graded: {count} question{'s' if count != 1 else ''}, "
            f"{_num(self.total_points)} points, by hidden tests on other, random inputs\n"
            "(the self-checks are hints, not the grade)."
        )
        notes = [*self.notices, *self.cell_errors]
        if notes:
            lines.append("Notes:")
            lines.extend(f"  - {_indent(n, 4)}" for n in notes)
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:g}"


def _indent(text: str, width: int) -> str:
    return text.strip("\n").replace("\n", "\n" + " " * width)


def is_blank(source: str) -> bool:
    """Whether a solution cell still holds the release's ``raise NotImplementedError``."""
    return bool(_BLANK.search(source))


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
    edits = _edited_cells(notebook)
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


def _edited_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Locked cells and self-checks whose content no longer matches nbgrader's checksum.

    Returns:
        ``grade_id`` -> what changed (``"edited"`` or ``"changed from X to Y"``).
    """
    from nbgrader.utils import compute_checksum

    edits: dict[str, str] = {}
    for cell in notebook.cells:
        gid = grade_id(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not gid or not isinstance(meta, dict) or meta.get("solution"):
            continue
        kind = meta.get("cell_type")
        if kind and kind != cell.get("cell_type"):
            edits[gid] = f"changed from {kind} to {cell.get('cell_type')}"
            continue
        expected = meta.get("checksum")
        if not expected:
            continue
        try:
            actual = compute_checksum(cell)
        except Exception:  # noqa: BLE001 - broken metadata counts as an edit
            actual = ""
        if actual != expected:
            edits[gid] = "edited"
    return edits


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
    owners = _solution_cells_by_question(release, points)
    solutions = _solution_ids(release)
    blank = {gid for gid in solutions if is_blank(graded.student_code.get(gid, ""))}
    extras = any(key.startswith("extra-") for key in graded.student_code)
    notices = (*notices, *graded.notices, *_edit_notices(edits, points))
    questions: list[QuestionCheck] = []
    if not extras and blank == solutions:
        # Nothing written yet: every self-check would stop at NotImplementedError.
        for q, pts in points.items():
            mine = owners[q]
            questions.append(_not_attempted(q, pts, mine, mine))
        return ValidationReport(
            path,
            exercise,
            questions=tuple(questions),
            notices=notices,
            duration_s=time.monotonic() - start,
            alone=alone,
        )

    cells = prepare(notebook, _with_runnable_self_checks(release, points)).cells
    output, note, ran_in = _run(cells, limits, sandbox or _sandbox(isolation))
    ended = {rec.index: rec for rec in output.cells}
    by_gid = {c.cell_id: c for c in cells if c.cell_id}
    cell_errors: list[str] = []
    for cell in cells:
        rec = ended.get(cell.index)
        if rec is None or rec.ok or cell.cell_id in points:
            continue
        name = f"cell `{cell.cell_id}`" if cell.cell_id else "a code cell you added"
        cell_errors.append(f"{name} raised {_short(rec.error)}")
    for q, pts in points.items():
        mine = owners[q]
        empty = tuple(g for g in mine if g in blank)
        check = by_gid.get(q)
        rec = ended.get(check.index) if check is not None else None
        if rec is None:
            reason = note or "the run stopped before this self-check"
            questions.append(QuestionCheck(q, pts, Status.NOT_RUN, reason, mine, empty))
        elif q in edits:
            said = "it passed" if rec.ok else f"it said: {_hint(rec, [], ())}"
            detail = (
                f"this self-check cell was {edits[q]}, so its outcome does not count ({said}); "
                "grading uses the original: restore it (copy it from the released notebook)"
            )
            questions.append(QuestionCheck(q, pts, Status.FAILED, detail, mine, empty))
        elif rec.ok:
            questions.append(QuestionCheck(q, pts, Status.PASSED, "", mine, empty))
        elif empty and rec.error.startswith("NotImplementedError"):
            questions.append(_not_attempted(q, pts, mine, empty))
        else:
            hint = _hint(rec, [ended.get(by_gid[g].index) for g in mine if g in by_gid], mine)
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


def _edit_notices(edits: dict[str, str], points: dict[str, float]) -> list[str]:
    """What grading does with the cells a student edited (checked alone: not restored here)."""
    return [
        f"{'self-check' if gid in points else 'locked cell'} `{gid}` was {what}; grading "
        "restores the original, so your edit will not count"
        for gid, what in edits.items()
    ]


def _not_attempted(
    q: str, pts: float, mine: tuple[str, ...], empty: tuple[str, ...]
) -> QuestionCheck:
    n = len(empty)
    if n == len(mine):
        status = Status.NOT_ATTEMPTED
        detail = f"{n} solution cell{'s' if n != 1 else ''} still raise{'s' if n == 1 else ''} "
        detail += "NotImplementedError"
    else:
        status = Status.INCOMPLETE
        names = ", ".join(f"`{g}`" for g in empty)
        detail = f"{names} still raise{'s' if n == 1 else ''} NotImplementedError"
    return QuestionCheck(q, pts, status, detail, mine, empty)


def _hint(rec: CellRecord, solution_recs: list[CellRecord | None], mine: tuple[str, ...]) -> str:
    """The self-check's message; an assertion's text alone, other errors with their type."""
    broken = [
        f"cell `{gid}` raised {_short(r.error)}"
        for gid, r in zip(mine, solution_recs, strict=True)
        if r is not None and not r.ok
    ]
    error = rec.error
    if error.startswith("AssertionError: "):
        text = error.removeprefix("AssertionError: ")
    elif error == "AssertionError":
        text = "an assertion failed (no message)"
    else:
        text = error
    return "\n".join([*broken, text]) if broken else text


def _short(error: str) -> str:
    first = error.strip().splitlines()[0] if error.strip() else "an error"
    return first[:300]


def _solution_ids(release: nbformat.NotebookNode) -> set[str]:
    return {
        grade_id(c)
        for c in release.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }


def _solution_cells_by_question(
    release: nbformat.NotebookNode, points: dict[str, float]
) -> dict[str, tuple[str, ...]]:
    """Each question's solution cells: the code solution cells since the previous question."""
    owners: dict[str, tuple[str, ...]] = {}
    solutions = _solution_ids(release)
    pending: list[str] = []
    for cell in release.cells:
        gid = grade_id(cell)
        if gid in points:
            owners[gid] = tuple(pending)
            pending = []
        elif gid in solutions:
            pending.append(gid)
    return owners


def _with_runnable_self_checks(
    release: nbformat.NotebookNode, points: dict[str, float]
) -> nbformat.NotebookNode:
    """A copy of the release whose question cells count as locked cells, so they run."""
    runnable = copy.deepcopy(release)
    for cell in runnable.cells:
        if grade_id(cell) in points:
            cell.metadata.nbgrader["grade"] = False
    return runnable


def _sandbox(isolation: str) -> Sandbox:
    """The sandbox of a validation run.

    Without bubblewrap, ``auto`` runs the notebook as a plain subprocess without grading's
    loud warning: it is the student's own code, run for the student, as Jupyter would.
    """
    return make_sandbox(SandboxSpec(isolation, warm=False, warn_weak=False))


def _run(
    cells: tuple[CodeCell, ...], limits: Limits, sandbox: Sandbox
) -> tuple[JobOutput, str, str]:
    """Run ``cells`` in ``sandbox`` with no grader; returns output, a note, the sandbox."""
    job_dir = Path(tempfile.mkdtemp(prefix="gradetape-validate-"))
    try:
        (job_dir / "in" / "grader").mkdir(parents=True)  # empty: no hidden test runs
        (job_dir / "out").mkdir()
        spec: dict[str, Any] = {
            "notebook_seed": VALIDATE_SEED,
            "test_seeds": {},
            "cell_timeout": limits.cell_timeout,
            "test_timeout": limits.test_timeout,
            "output_limit": limits.output_chars,
            "max_value_bytes": 1 << 20,
            "cells": [{"index": c.index, "cell_id": c.cell_id, "source": c.source} for c in cells],
        }
        (job_dir / "in" / "job.json").write_text(json.dumps(spec), encoding="utf-8")
        run = sandbox.run(job_dir, limits)
        output = read_job_dir(str(job_dir), 1 << 20, limits.max_total_mb << 20)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    note = ""
    if run.timed_out:
        note = (
            f"The run was stopped after {limits.job_timeout:g} s; look for an endless loop "
            "or very slow code."
        )
    elif "grading" not in output.events:
        started = [i for i in output.started_cells if i not in {c.index for c in output.cells}]
        if started:
            note = (
                f"Code cell {started[-1] + 1} ended the Python process (it exited, crashed or ran "
                "out of memory); later cells did not run."
            )
        elif "ready" not in output.events:
            note = "The notebook could not be run (the sandbox did not start)."
    return output, note, run.isolation
