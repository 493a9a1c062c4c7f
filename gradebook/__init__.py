"""GradeTape gradebook: storage, aggregation, exports, reports and feedback.

Scores live in nbgrader's own gradebook database (SQLite or PostgreSQL, so formgrader and
``nbgrader export`` keep working); per-test verdicts and grading outcomes live in
GradeTape's tables next to them.

Write with :func:`ensure_assignment` and :func:`record` (or :class:`Recorder`, one session
for a whole batch). Read ONCE with :func:`read_rows`, then pass the :class:`Rows` on: the
``scores_by_*`` frames; :class:`GradingPolicy` with :func:`course_grades`; exports
(:func:`export_long`, :func:`wide_csv`, :func:`to_parquet`, :func:`canvas_csv`,
:func:`gradescope_results`); the report (:func:`gradebook.report.write_report`) and the
feedback pages (:func:`write_all_feedback`). No function but :func:`read_rows` reads the
database.

The names below are imported on first use (PEP 562), so ``import gradebook`` stays cheap
(pandas, SQLAlchemy and nbgrader load with the first function a command needs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "COURSE_ID": "connect",
    "open_gradebook": "connect",
    "Rows": "rows",
    "read_rows": "rows",
    "Recorder": "store",
    "ensure_assignment": "store",
    "record": "store",
    "scores_by_question": "frames",
    "scores_by_student": "frames",
    "scores_by_test": "frames",
    "submissions": "frames",
    "GradingPolicy": "policy",
    "load_policy": "policy",
    "assignment_grades": "grades",
    "course_grades": "grades",
    "missing_submissions": "grades",
    "assignment_summary": "summaries",
    "pass_rates": "summaries",
    "question_summary": "summaries",
    "export_long": "export",
    "format_table": "export",
    "per_student_table": "export",
    "to_csv": "export",
    "to_parquet": "export",
    "wide_csv": "export",
    "wide_table": "export",
    "canvas_csv": "lms",
    "canvas_table": "lms",
    "gradescope_results": "lms",
    "write_gradescope_results": "lms",
    "render_feedback": "feedback",
    "write_all_feedback": "feedback",
    "write_feedback": "feedback",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "COURSE_ID",
    "GradingPolicy",
    "Recorder",
    "Rows",
    "assignment_grades",
    "assignment_summary",
    "canvas_csv",
    "canvas_table",
    "course_grades",
    "ensure_assignment",
    "export_long",
    "format_table",
    "gradescope_results",
    "load_policy",
    "missing_submissions",
    "open_gradebook",
    "pass_rates",
    "per_student_table",
    "question_summary",
    "read_rows",
    "record",
    "render_feedback",
    "scores_by_question",
    "scores_by_student",
    "scores_by_test",
    "submissions",
    "to_csv",
    "to_parquet",
    "wide_csv",
    "wide_table",
    "write_all_feedback",
    "write_feedback",
    "write_gradescope_results",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gradebook' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gradebook.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # the names as mypy and editors see them; never run
    from gradebook.connect import COURSE_ID, open_gradebook
    from gradebook.export import (
        export_long,
        format_table,
        per_student_table,
        to_csv,
        to_parquet,
        wide_csv,
        wide_table,
    )
    from gradebook.feedback import render_feedback, write_all_feedback, write_feedback
    from gradebook.frames import scores_by_question, scores_by_student, scores_by_test, submissions
    from gradebook.grades import assignment_grades, course_grades, missing_submissions
    from gradebook.lms import canvas_csv, canvas_table, gradescope_results, write_gradescope_results
    from gradebook.policy import GradingPolicy, load_policy
    from gradebook.rows import Rows, read_rows
    from gradebook.store import Recorder, ensure_assignment, record
    from gradebook.summaries import assignment_summary, pass_rates, question_summary
