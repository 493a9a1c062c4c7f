"""Write grading results into nbgrader's gradebook database.

Scores go where nbgrader keeps them (``Grade.auto_score`` of each grade cell), so the stock
formgrader, ``nbgrader export`` and manual grading keep working. What nbgrader has no room
for (per-test verdicts, status, flags) goes to GradeTape's own tables in the same database
(:mod:`gradebook.tables`).

A batch is written through ONE session (:class:`Recorder`: the database is opened once, not
per submission), and each submission in ONE transaction on it: student, submission, grades
and GradeTape rows are committed together or not at all, so a grader killed mid-batch loses
nothing already recorded. That is why this module
builds nbgrader's ORM objects itself instead of calling ``Gradebook.add_student`` /
``update_or_create_submission``: every such method commits on its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from nbgrader import utils as nbutils
from nbgrader.api import (
    Assignment,
    Comment,
    GradeCell,
    MissingEntry,
    Notebook,
    SubmittedAssignment,
    SubmittedNotebook,
    TaskCell,
)
from nbgrader.api import Grade as NbGrade
from nbgrader.api import Student as NbStudent
from sqlalchemy import delete, insert, select

from autograder.results import Status, SubmissionResult
from gradebook import tables
from gradebook.connect import COURSE_ID, open_gradebook

log = logging.getLogger(__name__)

Session = Any  # nbgrader's ``Gradebook.db`` (a scoped SQLAlchemy session); nbgrader is untyped


def ensure_assignment(
    db_url: str,
    assignment: str,
    notebook: str,
    questions: Mapping[str, float],
    *,
    course_id: str = COURSE_ID,
) -> None:
    """Create or update an assignment, its notebook and its grade cells.

    ``nbgrader generate_assignment`` normally does this at release time; this makes a
    database without a release usable. Existing grade cells get their ``max_score``
    updated; grade cells not in ``questions`` are left alone (nbgrader itself refuses to
    remove cells once submissions exist).

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
        assignment: nbgrader assignment name (``"01_tensors"``).
        notebook: Notebook name without ``.ipynb``.
        questions: Max points per question, keyed by nbgrader ``grade_id``.
        course_id: nbgrader course id for a newly created assignment.
    """
    with open_gradebook(db_url, course_id) as gb:
        gb.update_or_create_assignment(assignment)
        gb.update_or_create_notebook(notebook, assignment)
        for grade_id, max_points in questions.items():
            gb.update_or_create_grade_cell(
                grade_id, notebook, assignment, max_score=float(max_points), cell_type="code"
            )


class Recorder:
    """One open gradebook session for a batch; each :meth:`write` commits one submission.

    Use as a context manager (``with Recorder(url) as recorder: recorder.write(result)``):
    the database is opened once on entry and closed on exit. A write that fails rolls back
    everything of that submission and re-raises; the submissions committed before it stay.
    """

    def __init__(self, db_url: str, *, course_id: str = COURSE_ID) -> None:
        """Remember where to write; nothing is opened before ``__enter__``.

        Args:
            db_url: SQLAlchemy URL of the gradebook database.
            course_id: nbgrader course id.
        """
        self.db_url = db_url
        self.course_id = course_id
        self.written = 0
        self._opened: Any = None
        self._session: Session | None = None

    def __enter__(self) -> Recorder:
        """Open the gradebook (creating nbgrader's and GradeTape's tables if needed)."""
        self._opened = open_gradebook(self.db_url, self.course_id)
        gb = self._opened.__enter__()
        self._session = gb.db
        self._session.commit()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the gradebook (an uncommitted submission is already rolled back)."""
        opened, self._opened, self._session = self._opened, None, None
        if opened is not None:
            opened.__exit__(kind, error, trace)

    def write(self, result: SubmissionResult) -> None:
        """Record one result in its own transaction; recording it again overwrites it.

        Args:
            result: The result to record.

        Raises:
            RuntimeError: The recorder is not open (use it in a ``with`` block).
            nbgrader.api.MissingEntry: Unknown assignment, notebook or question (nothing of
                this result is written).
        """
        session = self._session
        if session is None:
            raise RuntimeError("Recorder is not open: use `with Recorder(db_url) as recorder:`")
        try:
            write_submission(session, result)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        self.written += 1


def record(db_url: str, results: Iterable[SubmissionResult], *, course_id: str = COURSE_ID) -> int:
    """Record grading results through one :class:`Recorder`; recording again overwrites.

    Each result is committed on its own. If one fails (unknown assignment, notebook or
    question), nothing of it is written, the results before it stay recorded and the
    error propagates.

    A ``MISSING`` result creates no nbgrader submission (as in nbgrader, no submission
    means zero); if one already exists, its auto scores for that notebook become 0.
    ``REJECTED`` results score 0 on every question.

    Args:
        db_url: SQLAlchemy URL of the gradebook database.
        results: Results to record, any number of students and assignments.
        course_id: nbgrader course id.

    Returns:
        The number of results recorded.

    Raises:
        nbgrader.api.MissingEntry: The assignment, notebook or a question is not in the
            database (run ``nbgrader generate_assignment`` or :func:`ensure_assignment`).
    """
    with Recorder(db_url, course_id=course_id) as recorder:
        for result in results:
            recorder.write(result)
        return recorder.written


def write_submission(session: Session, result: SubmissionResult) -> None:
    """Stage one result in ``session`` without committing.

    Args:
        session: nbgrader's session (``Gradebook.db``).
        result: The result to stage.

    Raises:
        nbgrader.api.MissingEntry: Unknown assignment, notebook or question.
    """
    assignment = session.scalars(
        select(Assignment).where(Assignment.name == result.assignment)
    ).one_or_none()
    if assignment is None:
        raise MissingEntry(
            f"No such assignment: {result.assignment} (run `nbgrader generate_assignment`)"
        )
    notebook = next((nb for nb in assignment.notebooks if nb.name == result.notebook), None)
    if notebook is None:
        raise MissingEntry(f"No such notebook: {result.assignment}/{result.notebook}")
    student = session.get(NbStudent, result.student)
    if student is None:
        student = NbStudent(id=result.student)
        session.add(student)
    submitted = _submission(session, assignment, student, result)
    if submitted is not None:
        _set_scores(_submitted_notebook(session, submitted, notebook), notebook, result)
    _write_tests(session, result)
    _write_status(session, result)


def _submission(
    session: Session, assignment: Any, student: Any, result: SubmissionResult
) -> Any | None:
    """Find or create the nbgrader submission, mirroring ``Gradebook.add_submission``."""
    submitted = session.scalars(
        select(SubmittedAssignment).where(
            SubmittedAssignment.assignment_id == assignment.id,
            SubmittedAssignment.student_id == student.id,
        )
    ).one_or_none()
    timestamp = nbutils.parse_utc(result.timestamp) if result.timestamp else None
    if submitted is None:
        if result.status is Status.MISSING:
            return None
        submitted = SubmittedAssignment(assignment=assignment, student=student)
        session.add(submitted)
    if timestamp is not None:
        submitted.timestamp = timestamp
    return submitted


def _submitted_notebook(session: Session, submitted: Any, notebook: Any) -> Any:
    """Return the submitted notebook, creating it and any missing grades/comments.

    Like ``Gradebook.add_submission`` this mirrors every notebook of the assignment; it
    also repairs a submission made before grade cells were added.
    """
    for nb in submitted.assignment.notebooks:
        mirrored = next((s for s in submitted.notebooks if s.notebook is nb), None)
        if mirrored is None:
            mirrored = SubmittedNotebook(notebook=nb, assignment=submitted)
            session.add(mirrored)
        have_grades = {g.cell for g in mirrored.grades}
        have_comments = {c.cell for c in mirrored.comments}
        for cell in [*nb.grade_cells, *nb.task_cells]:
            if cell not in have_grades:
                session.add(NbGrade(cell=cell, notebook=mirrored))
        for cell in [*nb.solution_cells, *nb.task_cells]:
            if cell not in have_comments:
                session.add(Comment(cell=cell, notebook=mirrored))
    return next(s for s in submitted.notebooks if s.notebook is notebook)


def _set_scores(mirrored: Any, notebook: Notebook, result: SubmissionResult) -> None:
    """Set ``auto_score`` of each grade like nbgrader's ``SaveAutoGrades`` does."""
    graded = result.status is Status.GRADED
    by_name = {q.question: q for q in result.questions} if graded else {}
    cells = {cell.name: cell for cell in notebook.grade_cells}
    unknown = sorted(set(by_name) - set(cells))
    if unknown:
        raise MissingEntry(
            f"No such grade cell(s) in {result.assignment}/{result.notebook}: {unknown}"
        )
    for grade in mirrored.grades:
        cell = grade.cell
        question = by_name.get(cell.name)
        if question is not None:
            if abs(question.max_score - cell.max_score) > 1e-9:
                log.warning(
                    "%s/%s: question %s is worth %s in the grader but %s in the gradebook",
                    result.assignment,
                    result.notebook,
                    cell.name,
                    question.max_score,
                    cell.max_score,
                )
            grade.auto_score = float(question.score)
        elif graded and (isinstance(cell, TaskCell) or _is_markdown(cell)):
            continue  # written answers: left to manual grading
        else:
            if graded:
                log.warning("%s: no score for question %s; recording 0", result.student, cell.name)
            grade.auto_score = 0.0
        grade.needs_manual_grade = grade.manual_score is not None


def _is_markdown(cell: Any) -> bool:
    return isinstance(cell, GradeCell) and cell.cell_type == "markdown"


def _write_tests(session: Session, result: SubmissionResult) -> None:
    """Replace the per-test rows of this submitted notebook."""
    table = tables.test_result
    session.execute(
        delete(table).where(
            table.c.assignment == result.assignment,
            table.c.student == result.student,
            table.c.notebook == result.notebook,
        )
    )
    rows = [
        {
            "assignment": result.assignment,
            "student": result.student,
            "notebook": result.notebook,
            "test_id": t.test_id,
            "question": t.question,
            "max_points": float(t.max_points),
            "points": float(t.points),
            "passed": bool(t.passed),
            "message": t.message,
            "misconception": t.misconception,
        }
        for t in result.tests
    ]
    if rows:
        session.execute(insert(table), rows)


def _write_status(session: Session, result: SubmissionResult) -> None:
    """Replace the status row of this submitted notebook."""
    table = tables.submission
    key = {"assignment": result.assignment, "student": result.student, "notebook": result.notebook}
    session.execute(delete(table).where(*(table.c[k] == v for k, v in key.items())))
    session.execute(
        insert(table).values(
            **key,
            status=str(result.status),
            reason=result.reason,
            isolation=result.isolation,
            duration_s=float(result.duration_s),
            flags=json.dumps(list(result.flags)),
            notices=json.dumps(list(result.notices)),
            extra=json.dumps(dict(result.extra), sort_keys=True),
            graded_at=datetime.now(UTC).replace(tzinfo=None),
        )
    )
