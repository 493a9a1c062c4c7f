"""Gradebook rows built in memory, for the pure pandas functions: no SQLite, no PostgreSQL.

:func:`memory_rows` lays out the rows :func:`gradebook.store.record` writes for the same
results (as :func:`gradebook.rows.read_rows` reads them back): a roster, the course's
assignments and grade cells, a submission per result that is not ``MISSING``, its grades,
status and per-test rows. ``test_gradebook_store.py::test_memory_rows_match_the_database``
checks that against both databases, so tests on these rows test what a database would give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import pandas as pd

from autograder.results import Status, SubmissionResult
from gradebook.rows import (
    ASSIGNMENT_COLUMNS,
    CELL_COLUMNS,
    GRADE_COLUMNS,
    SIMILARITY_COLUMNS,
    STATUS_COLUMNS,
    STUDENT_COLUMNS,
    SUBMITTED_COLUMNS,
    TEST_COLUMNS,
    Rows,
)

GRADED_AT = datetime(2025, 3, 10, 12)


def _naive_utc(when: datetime | None) -> datetime | None:
    """As nbgrader stores a timestamp (``nbgrader.utils.parse_utc``)."""
    if when is None or when.tzinfo is None:
        return when
    offset = when.utcoffset()
    return (when - offset if offset is not None else when).replace(tzinfo=None)


def memory_rows(
    course: Mapping[str, tuple[str, Mapping[str, float]]],
    results: Iterable[SubmissionResult] = (),
    *,
    duedates: Mapping[str, datetime] | None = None,
    roster: Mapping[str, tuple[str, str]] | None = None,
    late_penalties: Mapping[tuple[str, str], float] | None = None,
) -> Rows:
    """The rows of a gradebook holding ``course`` with ``results`` recorded (in order).

    Args:
        course: ``{assignment: (notebook, {grade_id: max points})}``.
        results: Results in the order :func:`gradebook.store.record` would record them; a
            later result of the same student and notebook overwrites an earlier one.
        duedates: Due date per assignment (naive UTC).
        roster: Students added to nbgrader's roster, ``{id: (first name, last name)}``.
        late_penalties: nbgrader's ``late_submission_penalty`` per (student, assignment).

    Returns:
        The rows.
    """
    people = dict(roster or {})
    stamps: dict[tuple[str, str, str], datetime | None] = {}
    scores: dict[tuple[str, str, str], dict[str, float]] = {}
    statuses: dict[tuple[str, str, str], tuple[object, ...]] = {}
    tests: dict[tuple[str, str, str], list[tuple[object, ...]]] = {}
    for r in results:
        key = (r.student, r.assignment, r.notebook)
        people.setdefault(r.student, ("", ""))
        if r.status is not Status.MISSING or key in stamps:  # MISSING creates no submission
            when = _naive_utc(r.timestamp)
            stamps[key] = when if when is not None else stamps.get(key)
            given = {q.question: q.score for q in r.questions} if r.status is Status.GRADED else {}
            scores[key] = {q: float(given.get(q, 0.0)) for q in course[r.assignment][1]}
        statuses[key] = (
            *key, str(r.status), r.reason, r.isolation, float(r.duration_s), list(r.flags),
            list(r.notices), dict(r.extra), GRADED_AT,
        )  # fmt: skip
        tests[key] = [
            (*key, t.question, t.test_id, float(t.max_points), float(t.points), bool(t.passed),
             t.message, t.misconception)
            for t in r.tests
        ]  # fmt: skip
    penalties = late_penalties or {}
    students = [(s, f or None, last or None, None, None) for s, (f, last) in sorted(people.items())]
    assignments = [(a, (duedates or {}).get(a)) for a in course]
    cells = [(a, nb, q, float(m)) for a, (nb, qs) in course.items() for q, m in qs.items()]
    submitted = [(*k, when, penalties.get(k[:2])) for k, when in stamps.items()]
    grades = [(*k, q, v, None, None, False) for k, qs in scores.items() for q, v in qs.items()]
    return Rows(
        students=pd.DataFrame(students, columns=STUDENT_COLUMNS),
        assignments=pd.DataFrame(assignments, columns=ASSIGNMENT_COLUMNS),
        cells=pd.DataFrame(cells, columns=CELL_COLUMNS),
        grades=pd.DataFrame(grades, columns=GRADE_COLUMNS),
        submitted=pd.DataFrame(submitted, columns=SUBMITTED_COLUMNS),
        statuses=pd.DataFrame(list(statuses.values()), columns=STATUS_COLUMNS),
        tests=pd.DataFrame([t for ts in tests.values() for t in ts], columns=TEST_COLUMNS),
        similarity=pd.DataFrame(columns=SIMILARITY_COLUMNS),
    )
