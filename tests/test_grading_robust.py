"""The trusted side never crashes on a submission (issue 12, items 3 and 4b).

A fake sandbox plays each student's job by writing a crafted ``out/`` folder (no
TensorFlow); a batch holding every hostile job still grades the honest classmate after it.
"""

import json
import os
import shutil

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell

from autograder.judge.answer_key import AnswerKey
from autograder.load.exercise import load_exercise
from autograder.pipeline import submission as grading
from autograder.pipeline.submission import PlatformError, Submission, grade_all
from autograder.results import Status
from autograder.run.job_output import Recorded, TestRecord, Value
from autograder.run.result_cache import ResultCache
from autograder.run.sandbox.base import SandboxRun
from autograder.settings import load_settings

from .conftest import ROOT

TEST = "test_g.py::test_a"
KEY = AnswerKey(
    "01_tensors",
    "fake-key",
    {TEST: TestRecord(TEST, "q", 2.0, 10.0, False, "passed", "",
                      (Recorded("x", Value("ndarray", np.arange(3.0)), {}),))},
    {"q": 2.0},
)


def write_honest(out):
    (out / "values").mkdir(parents=True, exist_ok=True)
    np.save(out / "values" / "v00001.npy", np.arange(3.0))
    (out / "cells.jsonl").write_text('{"event": "ready"}\n{"event": "grading"}\n{"event": "done"}\n')
    rec = {"test": TEST, "question": "q", "points": 2, "outcome": "passed", "message": "",
           "values": [{"name": "x", "kind": "ndarray", "file": "v00001.npy", "tol": {}}]}
    (out / "tests.jsonl").write_text(json.dumps(rec) + "\n")


class CraftingSandbox:
    """Writes the out/ folder the student's marker cell (``# MODE: name``) asks for."""

    name = "fake"

    def __init__(self, elsewhere):
        self.elsewhere = elsewhere  # a folder of valid-looking results outside the job
        write_honest(elsewhere / "out")
        self.raise_for = set()

    def run(self, job_dir, limits):
        cells = json.loads((job_dir / "in" / "job.json").read_text())["cells"]
        mode = next((c["source"].split("MODE:")[1].strip() for c in cells if "MODE:" in c["source"]), "honest")
        if mode in self.raise_for:
            raise RuntimeError("worker pipe closed")
        out = job_dir / "out"
        write_honest(out)
        if mode == "huge_int":
            (out / "tests.jsonl").write_text(f'{{"test": "{TEST}", "points": 1{"0" * 100_000}}}\n')
        elif mode == "deep_json":
            (out / "tests.jsonl").write_text("[" * 200_000 + "]" * 200_000 + "\n")
            (out / "cells.jsonl").write_text('{"event": "done", "x": ' + "{" * 100_000 + "\n")
        elif mode == "npy_shape":
            with open(out / "values" / "v00001.npy", "wb") as fh:
                np.lib.format.write_array_header_1_0(
                    fh, {"descr": "<f8", "fortran_order": False, "shape": (2**62, 2**62)})
        elif mode == "delete_out":
            shutil.rmtree(out)
        elif mode == "symlink_out":
            shutil.rmtree(out)
            os.symlink(self.elsewhere / "out", out)
        elif mode == "symlink_job":
            os.rename(job_dir, self.elsewhere / f"moved-{job_dir.name}")
            os.symlink(self.elsewhere, job_dir)
        elif mode == "long_error":
            lines = [{"event": "ready"}, {"event": "end", "index": 0, "ok": False,
                      "error": "ValueError: leak\x00 start\n" + "SECRET LINE\n" * 500}, {"event": "done"}]
            (out / "cells.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
            rec = json.loads((out / "tests.jsonl").read_text())
            rec["values"] = []
            rec["message"] = "RuntimeError: " + "s" * 3000 + "\nSECRET LINE"
            (out / "tests.jsonl").write_text(json.dumps(rec) + "\n")
        return SandboxRun("fake", 0, False, 0.01)


@pytest.fixture(scope="module")
def exercise():
    return load_exercise(load_settings(ROOT), "01_tensors")


def submit(root, exercise, student, mode=None, raw=None):
    folder = root / student / exercise.name
    folder.mkdir(parents=True)
    path = folder / exercise.notebook
    if raw is not None:
        path.write_bytes(raw)
        return Submission(student, folder)
    nb = nbformat.read(exercise.release_path, as_version=4)
    if mode:
        nb.cells.append(new_code_cell(f"# MODE: {mode}"))
    nbformat.write(nb, path)
    return Submission(student, folder)


HOSTILE = ["huge_int", "deep_json", "npy_shape", "delete_out", "symlink_out", "symlink_job"]


@pytest.fixture
def batch(tmp_path, exercise):
    subs = [submit(tmp_path / "submitted", exercise, "a-honest", "honest")]
    subs += [submit(tmp_path / "submitted", exercise, f"b-{m}", m) for m in HOSTILE]
    subs.append(submit(tmp_path / "submitted", exercise, "c-deep-notebook",
                       raw=b'{"nbformat": 4, "cells": [], "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    subs.append(submit(tmp_path / "submitted", exercise, "c-huge-int-notebook",
                       raw=b'{"nbformat": 4, "cells": [], "n": 1' + b"0" * 100_000 + b"}"))
    subs.append(submit(tmp_path / "submitted", exercise, "z-honest", "honest"))
    return subs, CraftingSandbox(tmp_path / "elsewhere")


def by_student(results):
    return {r.student: r for r in results}


def test_hostile_jobs_score_zero_with_a_reason_and_classmates_are_graded(batch, exercise):
    subs, box = batch
    seen = []
    results = by_student(grade_all(exercise, KEY, subs, box, 1, 2, on_result=seen.append))
    assert len(seen) == len(subs)
    assert results["a-honest"].score == results["z-honest"].score == 2.0
    for mode in HOSTILE:
        r = results[f"b-{mode}"]
        assert r.score == 0, mode
        assert r.status is Status.GRADED and r.tests[0].message, mode
        assert r.flags, mode  # the instructor is told what the job's output broke
    for student in ("c-deep-notebook", "c-huge-int-notebook"):
        assert results[student].status is Status.REJECTED and results[student].score == 0
        assert "not a notebook" in results[student].reason


def test_symlinked_out_with_valid_results_is_never_read(batch, exercise):
    subs, box = batch
    r = by_student(grade_all(exercise, KEY, subs, box, 1, 1))["b-symlink_out"]
    assert r.score == 0 and not r.tests[0].passed
    assert any("no output directory" in f for f in r.flags)


def test_error_text_in_feedback_is_one_short_line(tmp_path, exercise):
    subs = [submit(tmp_path / "s", exercise, "leaky", "long_error")]
    r = grade_all(exercise, KEY, subs, CraftingSandbox(tmp_path / "e"), 1, 1)[0]
    text = " ".join([*r.notices, *(t.message for t in r.tests), r.reason])
    assert "SECRET" not in text and "\x00" not in text
    assert all(len(t.message) <= 220 for t in r.tests)
    assert any("ValueError: leak start" in n for n in r.notices)


def test_unexpected_exception_is_that_submissions_flagged_uncached_zero(batch, exercise, tmp_path, monkeypatch):
    subs, box = batch
    real = grading.run_static_checks

    def crash_on_marker(checks, code, **options):
        if any("MODE: npy_shape" in c for c in code.values()):
            raise RecursionError("maximum recursion depth exceeded")
        return real(checks, code, **options)

    monkeypatch.setattr(grading, "run_static_checks", crash_on_marker)
    cache = ResultCache(tmp_path / "cache")
    first = by_student(grade_all(exercise, KEY, subs, box, 1, 2, cache=cache))
    bad = first["b-npy_shape"]
    assert bad.score == 0 and bad.status is Status.REJECTED
    assert "instructor will review" in bad.reason and "RecursionError" not in bad.reason
    assert any("RecursionError" in f for f in bad.flags)
    assert first["z-honest"].score == 2.0
    # rerun: same results, no crash; the failed one is regraded (never cached), the others hit
    second = by_student(grade_all(exercise, KEY, subs, box, 1, 2, cache=cache))
    for student, r in first.items():
        assert (second[student].score, second[student].status, second[student].reason) == (
            r.score, r.status, r.reason)
    assert second["a-honest"].extra.get("cached") == "yes"
    assert second["b-npy_shape"].extra.get("cached") is None


def test_a_sandbox_that_raises_zeroes_one_submission_only(tmp_path, exercise):
    subs = [submit(tmp_path / "s", exercise, s, m) for s, m in
            [("a", "honest"), ("b", "boom"), ("c", "honest")]]
    box = CraftingSandbox(tmp_path / "e")
    box.raise_for = {"boom"}
    results = by_student(grade_all(exercise, KEY, subs, box, 1, 1, cache=ResultCache(tmp_path / "c")))
    assert results["b"].score == 0 and "grading machine" in results["b"].reason
    assert results["a"].score == results["c"].score == 2.0
    assert len(list((tmp_path / "c").glob("*.json"))) == 2  # b was never cached


def test_a_sandbox_that_keeps_raising_stops_the_batch(tmp_path, exercise):
    subs = [submit(tmp_path / "s", exercise, f"s{i}", "boom") for i in range(5)]
    box = CraftingSandbox(tmp_path / "e")
    box.raise_for = {"boom"}
    with pytest.raises(PlatformError, match="in a row"):
        grade_all(exercise, KEY, subs, box, 1, 1)


def test_a_result_the_gradebook_refuses_becomes_a_flagged_zero(tmp_path, exercise):
    subs = [submit(tmp_path / "s", exercise, s, "honest") for s in ("a", "b")]
    recorded = []

    def record(result):
        if result.student == "a" and not result.flags:
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        recorded.append(result)

    results = grade_all(exercise, KEY, subs, CraftingSandbox(tmp_path / "e"), 1, 1, on_result=record)
    assert [r.student for r in recorded] == ["a", "b"]
    assert results[0].score == 0 and results[0].flags and results[1].score == 2.0
