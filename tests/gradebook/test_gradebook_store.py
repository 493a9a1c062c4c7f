from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import create_engine, text

from autograder.results import QuestionResult, Status, SubmissionResult
from gradebook import ensure_assignment, open_gradebook, record, store
from gradebook.connect import alembic_head

MakeResult = Callable[..., SubmissionResult]


def _count(db_url: str, table: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _fetch_one(db_url: str, sql: str) -> tuple[object, ...]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text(sql)).one())
    finally:
        engine.dispose()


def _grade(db_url: str, question: str, student: str = "ada") -> tuple[float | None, bool]:
    with Gradebook(db_url) as gb:
        grade = gb.find_grade(question, "tensors", "01_tensors", student)
        return grade.auto_score, grade.needs_manual_grade


def test_record_sets_nbgrader_auto_scores(db_url: str, make_result: MakeResult) -> None:
    n = record(db_url, [make_result("ada", scores={"q_shape": 2.0, "q_dtype": 1.0})])

    assert n == 1
    assert _grade(db_url, "q_shape") == (2.0, False)
    assert _grade(db_url, "q_dtype") == (1.0, False)
    with Gradebook(db_url) as gb:
        submission = gb.find_submission("01_tensors", "ada")
        assert submission.score == 3.0
        assert submission.max_score == 5.0
        # the other assignment's notebook is not submitted
        with pytest.raises(MissingEntry):
            gb.find_submission("02_autodiff", "ada")


def test_recording_twice_overwrites_and_never_duplicates(
    db_url: str, make_result: MakeResult
) -> None:
    record(db_url, [make_result("ada", scores={"q_shape": 0.0, "q_dtype": 0.0})])
    counts = {
        t: _count(db_url, t)
        for t in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")
    }
    record(db_url, [make_result("ada"), make_result("ada")])

    assert {t: _count(db_url, t) for t in counts} == counts
    assert _count(db_url, "gradetape_test_result") == 2
    assert _count(db_url, "gradetape_submission") == 1
    assert _grade(db_url, "q_dtype") == (3.0, False)


def test_rejected_submission_scores_zero(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("ada")])
    record(db_url, [make_result("ada", status=Status.REJECTED, reason="not a notebook")])

    assert _grade(db_url, "q_shape") == (0.0, False)
    assert _grade(db_url, "q_dtype") == (0.0, False)
    assert _count(db_url, "gradetape_test_result") == 0


def test_rejected_with_empty_questions_still_zeroes_every_grade(
    db_url: str, make_result: MakeResult
) -> None:
    result = make_result("ada", status=Status.REJECTED)
    record(db_url, [result.__class__(**{**result.__dict__, "questions": ()})])

    assert _grade(db_url, "q_shape") == (0.0, False)


def test_missing_creates_no_nbgrader_submission(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("bob", status=Status.MISSING)])

    assert _count(db_url, "student") == 1
    assert _count(db_url, "submitted_assignment") == 0
    assert _count(db_url, "gradetape_submission") == 1


def test_missing_after_a_graded_run_zeroes_it(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("ada")])
    record(db_url, [make_result("ada", status=Status.MISSING)])

    assert _grade(db_url, "q_shape") == (0.0, False)


def test_manual_score_survives_regrading(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("ada", scores={"q_shape": 0.0, "q_dtype": 3.0})])
    with Gradebook(db_url) as gb:
        gb.find_grade("q_shape", "tensors", "01_tensors", "ada").manual_score = 1.5
        gb.db.commit()
    record(db_url, [make_result("ada", scores={"q_shape": 0.0, "q_dtype": 3.0})])

    with Gradebook(db_url) as gb:
        grade = gb.find_grade("q_shape", "tensors", "01_tensors", "ada")
        assert (grade.auto_score, grade.manual_score, grade.score) == (0.0, 1.5, 1.5)
        assert grade.needs_manual_grade  # nbgrader flags a manual override for review


def test_timestamp_is_stored_as_naive_utc(db_url: str, make_result: MakeResult) -> None:
    local = datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    record(db_url, [make_result("ada", timestamp=local)])
    record(db_url, [make_result("ada")])  # no timestamp: keeps the known one

    with Gradebook(db_url) as gb:
        assert gb.find_submission("01_tensors", "ada").timestamp == datetime(2025, 3, 1, 10, 0)


def test_unknown_question_raises_and_writes_nothing(db_url: str, make_result: MakeResult) -> None:
    good = make_result("ada")
    bad = good.__class__(**{**good.__dict__, "questions": (QuestionResult("q_nope", 1, 1),)})

    with pytest.raises(MissingEntry, match="q_nope"):
        record(db_url, [bad])
    assert _count(db_url, "student") == 0
    assert _count(db_url, "gradetape_submission") == 0


def test_unknown_assignment_raises(db_url: str, make_result: MakeResult) -> None:
    result = make_result("ada")
    result = result.__class__(**{**result.__dict__, "assignment": "99_nope"})
    with pytest.raises(MissingEntry, match="generate_assignment"):
        record(db_url, [result])


def test_a_crash_mid_submission_writes_nothing_of_it(
    db_url: str, make_result: MakeResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(db_url, [make_result("ada", scores={"q_shape": 2.0, "q_dtype": 0.0})])
    tables = ("student", "submitted_assignment", "grade", "gradetape_test_result")
    before = {t: _count(db_url, t) for t in tables}

    def boom(*_: object) -> None:
        raise RuntimeError("disk on fire")

    # grades and per-test rows are already staged when the status row fails
    monkeypatch.setattr(store, "_write_status", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        record(db_url, [make_result("ada"), make_result("bob")])

    assert {t: _count(db_url, t) for t in tables} == before
    assert _grade(db_url, "q_dtype") == (0.0, False)  # the old score, not the new 3.0
    assert _count(db_url, "gradetape_test_result") == 2


def test_results_before_a_failure_stay_recorded(db_url: str, make_result: MakeResult) -> None:
    bad = make_result("bob")
    bad = bad.__class__(**{**bad.__dict__, "notebook": "wrong"})

    with pytest.raises(MissingEntry):
        record(db_url, [make_result("ada"), bad])
    assert _count(db_url, "submitted_assignment") == 1


def test_ensure_assignment_is_idempotent_and_updates_points(db_url: str) -> None:
    ensure_assignment(db_url, "01_tensors", "tensors", {"q_shape": 4.0, "q_dtype": 3.0})
    ensure_assignment(db_url, "01_tensors", "tensors", {"q_shape": 4.0, "q_dtype": 3.0})

    with Gradebook(db_url) as gb:
        assert gb.find_assignment("01_tensors").max_score == 7.0
        assert len(gb.find_notebook("tensors", "01_tensors").grade_cells) == 2
        assert gb.find_grade_cell("q_shape", "tensors", "01_tensors").cell_type == "code"
    assert _count(db_url, "assignment") == 2


def test_question_added_after_a_submission_gets_a_grade(
    db_url: str, make_result: MakeResult
) -> None:
    record(db_url, [make_result("ada")])
    ensure_assignment(db_url, "01_tensors", "tensors", {"q_extra": 1.0})
    result = make_result("ada")
    questions = (*result.questions, QuestionResult("q_extra", 1.0, 1.0))
    record(db_url, [result.__class__(**{**result.__dict__, "questions": questions})])

    assert _grade(db_url, "q_extra") == (1.0, False)


def test_status_row_keeps_flags_and_notices(db_url: str, make_result: MakeResult) -> None:
    record(
        db_url,
        [make_result("ada", flags=("similar to bob",), notices=("cell 3 restored",), duration_s=4)],
    )
    row = _fetch_one(db_url, "SELECT status, flags, notices, duration_s FROM gradetape_submission")
    assert row == ("graded", '["similar to bob"]', '["cell 3 restored"]', 4.0)


def test_new_database_needs_no_alembic_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("PATH", str(tmp_path))  # nbgrader would fail: no `alembic` here
    url = f"sqlite:///{tmp_path}/fresh.db"
    with open_gradebook(url) as gb:
        assert gb.assignments == []
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (alembic_head(),)
        ]


def test_graded_at_is_recent_utc(db_url: str, make_result: MakeResult) -> None:
    record(db_url, [make_result("ada")])
    (graded_at,) = _fetch_one(db_url, "SELECT graded_at FROM gradetape_submission")
    if isinstance(graded_at, str):  # SQLite has no date type
        graded_at = datetime.fromisoformat(graded_at)
    assert isinstance(graded_at, datetime) and graded_at.tzinfo is None
    age = datetime.now(UTC).replace(tzinfo=None) - graded_at
    assert timedelta(0) <= age < timedelta(minutes=5)


def test_a_batch_is_written_through_one_session(
    db_url: str, make_result: MakeResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = store.open_gradebook

    def counting(url: str, course_id: str = store.COURSE_ID) -> object:
        opened.append(url)
        return real(url, course_id)

    monkeypatch.setattr(store, "open_gradebook", counting)
    n = record(db_url, [make_result(s) for s in ("ada", "bob", "cyd", "dee")])

    assert n == 4 and _count(db_url, "submitted_assignment") == 4
    assert opened == [db_url]  # the database is opened once for the batch, not per result


def test_each_write_of_a_batch_commits_so_a_killed_batch_loses_nothing(
    db_url: str, make_result: MakeResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.Recorder(db_url) as recorder:
        recorder.write(make_result("ada"))
        recorder.write(make_result("bob", scores={"q_shape": 2.0, "q_dtype": 0.0}))
        # committed while the batch is still running: another connection sees both
        assert _count(db_url, "submitted_assignment") == 2
        assert _count(db_url, "gradetape_submission") == 2

        def boom(*_: object) -> None:
            raise RuntimeError("killed")

        monkeypatch.setattr(store, "_write_status", boom)
        with pytest.raises(RuntimeError, match="killed"):
            recorder.write(make_result("cyd"))  # dies with its grades already staged
        monkeypatch.undo()
        recorder.write(make_result("dee"))  # the session is usable after a rollback

    assert recorder.written == 3
    assert _count(db_url, "submitted_assignment") == 3  # ada, bob, dee; nothing of cyd
    assert _count(db_url, "gradetape_test_result") == 6
    with Gradebook(db_url) as gb:
        assert {s.id for s in gb.students} == {"ada", "bob", "dee"}
    with pytest.raises(RuntimeError, match="not open"):
        recorder.write(make_result("eve"))
