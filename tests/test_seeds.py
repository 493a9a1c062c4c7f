"""Derived seeds: jobs see per-notebook and per-test seeds, never the course seed."""

import json
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from autograder.judge.answer_key import reference_cells
from autograder.load.exercise import load_exercise
from autograder.load.notebook import CodeCell
from autograder.run import seeds
from autograder.run.job_output import read_job_output
from autograder.run.jobs import run_job, write_job
from autograder.run.sandbox import SubprocessSandbox
from autograder.settings import Limits, load_settings

ROOT = Path(__file__).resolve().parent.parent
COURSE = 987_654_321  # distinctive digits, so a leak shows as a substring
MB = 1 << 20

GRADER = '''
import pytest

def test_plain(rng, expect):
    expect("draw", rng.integers(0, 2**31))

class TestGroup:
    def test_method(self, rng, expect):
        expect("draw", rng.integers(0, 2**31))

@pytest.mark.parametrize("case", ["a", "b"])
def test_param(case, rng, expect):
    expect("draw", rng.integers(0, 2**31))

def _make():
    def test(rng, expect):
        expect("draw", rng.integers(0, 2**31))
    return test

test_made_at_run_time = _make()
'''


def grader_dir(tmp_path):
    (tmp_path / "test_g.py").write_text(GRADER)
    (tmp_path / "helpers.py").write_text("def test_not_a_grader_file():\n    pass\n")
    return [tmp_path / "test_g.py", tmp_path / "helpers.py"]


def test_grader_tests_are_listed_statically(tmp_path):
    assert seeds.grader_tests(grader_dir(tmp_path)) == [
        "test_g.py::test_plain", "test_g.py::TestGroup::test_method", "test_g.py::test_param"]


def test_derivation_is_deterministic_and_differs_per_test_exercise_and_course(tmp_path):
    files = grader_dir(tmp_path)
    a, b = seeds.job_seeds(COURSE, "01_tensors", files), seeds.job_seeds(COURSE, "01_tensors", files)
    assert a == b
    values = [a.notebook, *a.tests.values()]
    assert len(set(values)) == len(values) == 4
    assert all(0 <= v < 2**31 for v in values)
    other_exercise = seeds.job_seeds(COURSE, "02_tensor_ops", files)
    next_course = seeds.job_seeds(COURSE + 1, "01_tensors", files)
    for other in (other_exercise, next_course):
        assert other.notebook != a.notebook
        assert not set(other.tests.values()) & set(a.tests.values())


def test_the_course_seed_cannot_be_computed_back_from_a_job_file(tmp_path):
    exercise = load_exercise(load_settings(ROOT), "01_tensors")
    write_job(tmp_path / "job", exercise, [CodeCell(0, "c", "x = 1", "student")], COURSE, Limits())
    text = (tmp_path / "job" / "in" / "job.json").read_text()
    job = json.loads(text)
    assert "seed" not in job and str(COURSE) not in text
    assert set(job["test_seeds"]) == set(seeds.grader_tests(exercise.grader_files()))
    # The old per-test derivation, crc32(id) ^ (seed * 2654435761) mod 2**31, inverts in one
    # line; the keyed hash does not give the course seed back that way.
    inverse = pow(2654435761, -1, 2**31)
    for test_id, derived in job["test_seeds"].items():
        guess = ((derived ^ zlib.crc32(test_id.encode())) * inverse) % 2**31
        assert guess != COURSE % 2**31 and derived not in (COURSE, COURSE % 2**31)
    assert job["notebook_seed"] not in (COURSE, COURSE % 2**31, COURSE & 0x7FFFFFFF)


def test_tests_get_their_own_seeds_and_a_test_without_one_fails_as_a_grader_error(make_job):
    job = make_job(["x = 1"], GRADER)
    SubprocessSandbox().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, MB)
    draws = {k: int(t.values[0].value.array) for k, t in out.tests.items() if t.values}
    assert set(draws) == {"test_g.py::test_plain", "test_g.py::TestGroup::test_method",
                          "test_g.py::test_param[a]", "test_g.py::test_param[b]"}
    assert len(set(draws.values())) == 4
    made = out.tests["test_g.py::test_made_at_run_time"]
    assert made.outcome == "failed" and not made.values
    assert "grader error: the job has no seed for 'test_g.py::test_made_at_run_time'" in made.message


LEAK = r'''
import json, os, sys, random
import numpy as np
job_dir = next(d for d in [*sys.argv[1:], "/job"] if os.path.isfile(os.path.join(d, "in", "job.json")))
text = open(os.path.join(job_dir, "in", "job.json")).read()
state = str(np.random.get_state()[1][:3]) + " " + str(random.getstate()[1][:3])
with open(os.path.join(job_dir, "out", "leak.txt"), "w") as fh:
    fh.write(state + "\n" + text)
'''


@pytest.mark.slow
def test_a_job_cannot_read_the_course_seed(tmp_path):
    exercise = load_exercise(load_settings(ROOT), "01_tensors")
    # first, so NumPy's global state is still exactly what the runtime seeded it with
    cells = [CodeCell(0, "", LEAK, "student-extra")]
    cells += [replace(c, index=c.index + 1) for c in reference_cells(exercise)]
    result = run_job(exercise, cells, COURSE, SubprocessSandbox(), keep=tmp_path / "out")
    leak = (tmp_path / "out" / "leak.txt").read_text()
    assert '"notebook_seed"' in leak and '"test_seeds"' in leak  # the cell did read job.json
    assert str(COURSE) not in leak and str(COURSE & 0xFFFFFFFF) not in leak
    # the tests still ran under their derived seeds
    assert result.output.tests and all(t.outcome == "passed" for t in result.output.tests.values())
