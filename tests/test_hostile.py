"""The hostile corpus, graded in one batch with honest classmates; and crash safety."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.judge.answer_key import build_key
from autograder.load.exercise import load_exercise
from autograder.load.release import reference_submission
from autograder.pipeline.submission import find_submissions, grade_all
from autograder.run.sandbox import SandboxSpec, make_sandbox
from autograder.settings import load_settings
from gradebook import ensure_assignment, read_rows, record, scores_by_student, scores_by_test

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile.corpus import CASES, FULL  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EX = "01_tensors"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]
LIMITS = {"cell_timeout": 3, "test_timeout": 5, "job_timeout": 45, "max_processes": 128}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    settings = load_settings(ROOT)
    ex = load_exercise(settings, EX)
    ex = dataclasses.replace(ex, limits=ex.limits.updated(LIMITS))
    submitted = tmp_path_factory.mktemp("hostile")
    ref = reference_submission(ex)
    blank = nbformat.read(ex.release_path, as_version=4)
    for case in CASES:
        case.build(submitted / case.name / EX, ref, blank, ex.notebook)
    box = make_sandbox(SandboxSpec(settings.isolation, True, 2, ex.limits))
    try:
        key = build_key(ex, settings.seed, box, settings.cache)
        results = grade_all(ex, key, find_submissions(submitted, EX), box, settings.seed, 2)
    finally:
        box.close()
    db = f"sqlite:///{submitted / 'gb.db'}"
    ensure_assignment(db, EX, ex.notebook_id, key.questions)
    record(db, results)
    return {r.student: r for r in results}, db


def test_corpus_is_large_enough():
    assert len([c for c in CASES if not c.name.startswith("honest")]) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


def test_the_batch_finishes_with_every_submission(batch):
    results, db = batch
    assert set(results) == {c.name for c in CASES}
    frame = scores_by_student(read_rows(db))
    assert sorted(frame["student"]) == sorted(c.name for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gets_its_score_and_reason(batch, case):
    results, _ = batch
    res = results[case.name]
    said = " | ".join([res.reason, *res.notices, *(t.message for t in res.tests)])
    assert res.score == pytest.approx(case.score), said[:2000]
    if case.expect:
        assert case.expect in said, said[:2000]
    if case.flag:
        assert any(case.flag in f for f in res.flags), res.flags
    for t in res.tests:  # students never see a grader's stack trace
        assert "Traceback" not in t.message and "site-packages" not in t.message


def test_honest_classmates_keep_full_marks(batch):
    results, db = batch
    for name in ("honest-1", "honest-2"):
        assert results[name].score == FULL and not results[name].flags
    tests = scores_by_test(read_rows(db))
    assert tests[tests["student"] == "honest-1"]["passed"].all()


def test_kill_9_mid_batch_then_rerun_grades_everyone_exactly_once(tmp_path):
    settings = load_settings(ROOT)
    ex = load_exercise(settings, EX)
    ref = reference_submission(ex)
    students = [f"s{i:02d}" for i in range(6)]
    for s in students:
        folder = tmp_path / "submitted" / s / EX
        folder.mkdir(parents=True)
        nbformat.write(ref, folder / ex.notebook)
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    cache = tmp_path / "cache"
    env = dict(os.environ, GRADETAPE_WORKERS="1")
    cmd = [sys.executable, "-m", "autograder.cli", "--root", str(ROOT), "grade", EX,
           "--submitted", str(tmp_path / "submitted"), "--db", db, "--workers", "1",
           "--cache-dir", str(cache)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)
    seen = 0
    deadline = time.monotonic() + 600
    for line in proc.stderr:  # progress lines: kill after the second graded submission
        if "[" in line and "]" in line:
            seen += 1
            if seen == 2:
                break
        assert time.monotonic() < deadline
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = scores_by_student(read_rows(db))
    assert 2 <= len(partial) < len(students)
    assert subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True).returncode == 0
    final = scores_by_student(read_rows(db))
    assert sorted(final["student"]) == students
    assert (final["score"] == FULL).all()
    tests = scores_by_test(read_rows(db))
    assert len(tests) == len(students) * len(tests["test_id"].unique())
    assert not tests.duplicated(["student", "test_id"]).any()
