"""One batch reads and parses each notebook once and judges each variant once (issue 14, item 5).

A batch of 01_tensors (reference, blank, three variants, a malformed file) is graded by
``grade_assignment`` with the parsers wrapped in counters. No TensorFlow: the key, the
alternatives and the variants come from a stubbed ``cached_run``, and a fake sandbox writes
each student's job output (every test failed with the variants' values, so every variant
is a candidate for every student).
"""

import ast
import hashlib
import json
from collections import Counter
from dataclasses import replace

import nbformat
import numpy as np
import pytest

from autograder.cli.demo import build_class
from autograder.judge import answer_key, misconceptions
from autograder.judge.source_tree import parse_source
from autograder.load.exercise import Exercise, load_exercise
from autograder.load.notebook import parse_notebook, prepare, question_points, read_notebook
from autograder.pipeline.batch import grade_assignment
from autograder.results import Status
from autograder.run.job_output import JobOutput, Recorded, TestRecord, Value
from autograder.run.sandbox.base import Capabilities, Sandbox, SandboxRun
from autograder.settings import load_settings

from .conftest import ROOT

EX = "01_tensors"
RIGHT = np.arange(3.0)
WRONG = RIGHT + 1.0


def digest(text):
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def output(tests, value):
    """A job's output: every test passed (as a run reports it) with ``value`` recorded."""
    records = {
        t.test: replace(t, values=(Recorded("x", Value("ndarray", value.copy()), {}),))
        for t in tests
    }
    return JobOutput(tests=records, events=["ready", "grading", "done"])


class WrongSandbox(Sandbox):
    """Plays every student's job: each key test records the variants' (wrong) value."""

    name = "fake"
    capabilities = Capabilities("process", False, 1, False)

    def __init__(self, tests):
        self.tests = tests
        self.jobs = 0

    def run(self, job_dir, limits):
        self.jobs += 1
        out = job_dir / "out"
        (out / "values").mkdir(parents=True, exist_ok=True)
        np.save(out / "values" / "v00001.npy", WRONG)
        (out / "cells.jsonl").write_text(
            '{"event": "ready"}\n{"event": "grading"}\n{"event": "done"}\n'
        )
        lines = [
            {"test": t.test, "question": t.question, "points": t.points, "outcome": "passed",
             "message": "", "values": [{"name": "x", "kind": "ndarray", "file": "v00001.npy",
                                        "tol": {}}]}
            for t in self.tests
        ]
        (out / "tests.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        return SandboxRun("fake", 0, False, 0.01)


@pytest.fixture
def batch(tmp_path, monkeypatch):
    settings = replace(
        load_settings(ROOT, submitted=tmp_path / "submitted"), cache_dir=tmp_path / "cache"
    )
    exercise = load_exercise(settings, EX)
    build_class(exercise, tmp_path / "submitted", variants=3)
    # one fake test per question, worth the question's points: the key's checks pass
    points = question_points(read_notebook(exercise.release_path))
    tests = [
        TestRecord(f"test_fake.py::test_{q}", q, p, 10.0, False, "passed", "", ())
        for q, p in points.items()
    ]
    aimed = tests[0].test
    variants = [replace(v, loses=(aimed,), also_loses=()) for v in exercise.variants()[:3]]
    monkeypatch.setattr(Exercise, "variants", lambda self: list(variants))

    def key_run(exercise, cells, seed, sandbox, folder, check=None, select=None):
        return "fake-digest", output(tests, RIGHT)

    def variant_run(exercise, cells, seed, sandbox, folder, check=None, select=None):
        return "fake-digest", output(tests, WRONG)

    monkeypatch.setattr(answer_key, "cached_run", key_run)
    monkeypatch.setattr(misconceptions, "cached_run", variant_run)
    return settings, exercise, tests, variants


def test_a_batch_parses_every_notebook_and_source_once_and_judges_every_variant_once(
    batch, monkeypatch
):
    settings, exercise, tests, variants = batch
    submitted = settings.submitted_dir
    release_bytes = exercise.release_path.read_bytes()
    notebooks = {
        d.name: (d / EX / exercise.notebook).read_bytes() for d in sorted(submitted.iterdir())
    }
    # What one parse each means, computed before the counters are installed.
    release = parse_notebook(release_bytes, "release")
    expected_reads = Counter([digest(release_bytes), digest(exercise.source_path.read_bytes())])
    expected_sources: Counter[str] = Counter()
    for student, data in notebooks.items():
        if student == "malformed":  # refused before nbformat sees it
            continue
        expected_reads[digest(data)] += 1
        code = prepare(parse_notebook(data, "x"), release).student_code
        expected_sources.update(digest(source) for source in code.values())
    assert not exercise.static_checks  # so the variants' cells are never parsed
    assert len(expected_sources) > 5

    reads: Counter[str] = Counter()
    file_reads: list[object] = []
    parsed: Counter[str] = Counter()
    judged: list[str] = []
    real_reads, real_read = nbformat.reads, nbformat.read
    real_parse, real_judge = ast.parse, misconceptions.judge_test

    def count_reads(text, *args, **kwargs):
        reads[digest(text)] += 1
        return real_reads(text, *args, **kwargs)

    def count_parse(source, *args, **kwargs):
        if isinstance(source, str) and digest(source) in expected_sources:
            parsed[digest(source)] += 1
        return real_parse(source, *args, **kwargs)

    def count_judge(key, record, *args, **kwargs):
        judged.append(key.test)
        return real_judge(key, record, *args, **kwargs)

    def count_file_reads(*args, **kwargs):
        file_reads.append(args)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(nbformat, "reads", count_reads)
    monkeypatch.setattr(nbformat, "read", count_file_reads)
    monkeypatch.setattr(ast, "parse", count_parse)
    monkeypatch.setattr(misconceptions, "judge_test", count_judge)
    parse_source.cache_clear()
    box = WrongSandbox(tests)
    report = grade_assignment(settings, EX, sandbox=box, record=False)

    results = {r.student: r for r in report.results}
    assert set(results) == set(notebooks) and box.jobs == len(notebooks) - 1
    assert results["malformed"].status is Status.REJECTED
    for student in set(notebooks) - {"malformed"}:
        lost = {t.test_id: t for t in results[student].tests}
        assert results[student].score == 0
        # every variant fits this student's aimed failure: the first by name is named
        assert lost[tests[0].test].misconception == min(v.name for v in variants)
    # the release, the solution and each submission: read and parsed once for the batch
    assert reads == expected_reads
    assert file_reads == []
    # each student's solution cells: parsed once (static checks and flags share the tree),
    # and a cell several students share (untouched, copied) once for all of them
    assert max(expected_sources.values()) > 1
    assert parsed == Counter(set(expected_sources))
    # each variant judged against the key once, not once per student
    assert sorted(judged) == [tests[0].test] * len(variants)
