"""GradeTape gradebook: storage, aggregation, exports, reports and feedback.

Scores live in nbgrader's own gradebook database (SQLite or PostgreSQL, so formgrader and
``nbgrader export`` keep working); per-test verdicts and grading outcomes live in
GradeTape's tables next to them. Write with :func:`ensure_assignment` and :func:`record`;
read with the ``scores_by_*`` frames; grade a course with :class:`GradingPolicy` and
:func:`course_grades`; export with :func:`export_long`, :func:`wide_csv`,
:func:`to_parquet`, :func:`canvas_csv` and :func:`gradescope_results`; report with
:func:`gradebook.report.write_report` and :func:`write_all_feedback`.
"""

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
from gradebook.lms import canvas_csv, canvas_table, gradescope_results, write_gradescope_results
from gradebook.policy import (
    GradingPolicy,
    assignment_grades,
    assignment_summary,
    course_grades,
    missing_submissions,
    pass_rates,
    question_summary,
)
from gradebook.store import ensure_assignment, record

__all__ = [
    "COURSE_ID",
    "GradingPolicy",
    "assignment_grades",
    "assignment_summary",
    "canvas_csv",
    "canvas_table",
    "course_grades",
    "ensure_assignment",
    "export_long",
    "format_table",
    "gradescope_results",
    "missing_submissions",
    "open_gradebook",
    "pass_rates",
    "per_student_table",
    "question_summary",
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
