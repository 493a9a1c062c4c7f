"""GradeTape gradebook: storage, aggregation, exports.

Scores live in nbgrader's own gradebook database (so formgrader and ``nbgrader export``
keep working); per-test verdicts and grading outcomes live in GradeTape's tables next to
them. Write with :func:`ensure_assignment` and :func:`record`; read with the ``scores_by_*``
frames; export with :func:`export_long`, :func:`per_student_table` and :func:`to_csv`.
"""

from gradebook.connect import COURSE_ID, open_gradebook
from gradebook.export import export_long, format_table, per_student_table, to_csv
from gradebook.frames import scores_by_question, scores_by_student, scores_by_test, submissions
from gradebook.store import ensure_assignment, record

__all__ = [
    "COURSE_ID",
    "ensure_assignment",
    "export_long",
    "format_table",
    "open_gradebook",
    "per_student_table",
    "record",
    "scores_by_question",
    "scores_by_student",
    "scores_by_test",
    "submissions",
    "to_csv",
]
