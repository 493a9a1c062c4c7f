"""The conformance battery: one set of checks over every exercise.

For each exercise: the reference solution scores full marks, the blank release scores zero
without breaking the grader, a malformed file scores zero with a reason, every known-wrong
variant loses exactly the tests it is aimed at, every declared alternative solution (a
correct one in another style, ``alternatives/*.toml``) scores full marks, the question
points of the notebook equal its hidden tests' totals, and the committed release is what
nbgrader generates from the source.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder.judge.answer_key import build_key
from autograder.judge.misconceptions import build_variant_runs, variant_tests
from autograder.load.exercise import exercise_names, load_exercise
from autograder.load.notebook import grade_id
from autograder.load.release import (
    nbgrader_env,
    reference_submission,
    solution_sources,
    with_cells,
    write_submission,
)
from autograder.load.sample_class import build_class
from autograder.pipeline.submission import find_submissions, grade_all
from autograder.results import Status
from autograder.run.sandbox import SandboxSpec, make_sandbox
from autograder.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = load_settings(ROOT)
EXERCISES = exercise_names(SETTINGS)
WORKERS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2


def _students(name):
    ex = load_exercise(SETTINGS, name)
    return (
        ["reference", "blank", "malformed"]
        + [f"variant-{v.name}" for v in ex.variants()]
        + [f"alternative-{a.name}" for a in ex.alternatives()]
    )


CASES = [
    pytest.param(ex, st, marks=pytest.mark.xdist_group(ex), id=f"{ex}/{st}")
    for ex in EXERCISES
    for st in _students(ex)
]


class MemoSandbox:
    """Runs each distinct job once: a variant graded as a student sends the job its
    misconception run sent (same cells, seed and grader), so its output is reused.

    A variant run skips the heavy (``gpu``) tests it is not aimed at (``variant_tests``), and
    so does its grading here: the battery checks those tests on the reference, the blank
    notebook and the variants that name them.
    """

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.outputs = {}
        self.hits = 0
        self.recording = False  # only the variant runs are remembered

    def run(self, job_dir, limits):
        import hashlib

        spec = json.loads((job_dir / "in" / "job.json").read_text())
        spec.pop("select", None)
        h = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
        for f in sorted((job_dir / "in" / "grader").iterdir()):
            h.update(f.name.encode() + f.read_bytes())
        # A fresh job's input is also what the grading job before it handed over.
        handover = job_dir / "in" / "handover"
        for f in sorted(handover.rglob("*")) if handover.is_dir() else []:
            h.update(f.relative_to(handover).as_posix().encode() + b"\0")
            h.update(f.read_bytes() if f.is_file() else b"<dir>")
        digest = h.hexdigest()
        if digest in self.outputs:
            self.hits += 1
            out, run = self.outputs[digest]
            shutil.rmtree(job_dir / "out")
            shutil.copytree(out, job_dir / "out")
            return run
        run = self.inner.run(job_dir, limits)
        if not self.recording:
            return run
        keep = Path(tempfile.mkdtemp(prefix="memo-")) / "out"
        shutil.copytree(job_dir / "out", keep)
        self.outputs[digest] = (keep, run)
        return run


@pytest.fixture(scope="session")
def pool():
    with make_sandbox(SandboxSpec.from_settings(SETTINGS, workers=WORKERS)) as box:
        yield MemoSandbox(box)


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, pool):
    cache = {}

    def grade(name):
        if name not in cache:
            # grading the reference twice must give identical scores: it is in the class
            # as "reference" and again as "reference-again"
            ex = load_exercise(SETTINGS, name)
            submitted = tmp_path_factory.mktemp(f"class-{name}")
            expected = build_class(ex, submitted)
            shutil.copytree(submitted / "reference", submitted / "reference-again")
            for alternative in ex.alternatives():
                notebook = with_cells(reference_submission(ex), alternative.cells)
                write_submission(notebook, submitted / f"alternative-{alternative.name}" / name, ex.notebook)
            sandbox = pool
            key = build_key(ex, SETTINGS.seed, sandbox, SETTINGS.cache)
            sandbox.recording = True
            try:
                runs = build_variant_runs(ex, key, SETTINGS.seed, sandbox, SETTINGS.cache, WORKERS)
            finally:
                sandbox.recording = False
            results = grade_all(ex, key, find_submissions(submitted, name), sandbox, SETTINGS.seed, WORKERS, variants=runs)
            cache[name] = (ex, key, expected, {r.student: r for r in results})
        return cache[name]

    return grade


def test_there_are_exercises():
    assert "01_tensors" in EXERCISES


@pytest.mark.slow
@pytest.mark.parametrize(("exercise", "student"), CASES)
def test_submission_scores_as_it_must(graded_class, exercise, student):
    ex, key, expected, results = graded_class(exercise)
    result = results[student]
    failed = {t.test_id for t in result.tests if not t.passed}
    all_tests = set(key.tests)
    if student == "reference" or student.startswith("alternative-"):
        assert result.status == Status.GRADED
        assert failed == set(), [t.message for t in result.tests if not t.passed]
        assert result.score == result.max_score > 0
        assert not any(t.misconception for t in result.tests)
    elif student == "blank":
        assert result.status == Status.GRADED and result.score == 0
        assert failed == all_tests
        assert not any("grader could not be loaded" in f for f in result.flags)
        assert all(t.message for t in result.tests), "every lost test says why"
    elif student == "malformed":
        assert result.status == Status.REJECTED and result.score == 0
        assert "not a notebook" in result.reason
    else:
        variant = next(v for v in ex.variants() if f"variant-{v.name}" == student)
        skipped = set(all_tests) - set(variant_tests(variant, key) or all_tests)
        assert all(key.tests[t].gpu for t in skipped)
        failed -= skipped  # heavy tests the variant is not aimed at did not run
        unknown = set(variant.loses) - all_tests
        assert not unknown, f"variant names tests that do not exist: {unknown}"
        assert variant.loses, "a variant must name the tests it loses"
        assert set(variant.loses) <= failed, f"still passes {set(variant.loses) - failed}"
        assert failed <= set(variant.loses) | set(variant.also_loses), (
            f"also fails {failed - set(variant.loses) - set(variant.also_loses)}"
        )
        assert variant.description and variant.hint and variant.topic
        for t in result.tests:
            if not t.passed and t.test_id not in skipped:
                assert t.message
            if t.test_id in variant.loses:
                assert t.misconception, f"{t.test_id}: the variant's own mistake was not named"
                assert "Likely mistake:" in t.message


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [pytest.param(e, marks=pytest.mark.xdist_group(e)) for e in EXERCISES])
def test_reference_graded_twice_scores_identically(graded_class, exercise):
    _, _, _, results = graded_class(exercise)
    first, again = results["reference"], results["reference-again"]
    assert [(t.test_id, t.points, t.message) for t in first.tests] == [
        (t.test_id, t.points, t.message) for t in again.tests
    ]


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [pytest.param(e, marks=pytest.mark.xdist_group(e)) for e in EXERCISES])
def test_grader_contract(graded_class, exercise):
    ex, key, _, _ = graded_class(exercise)
    assert len(key.tests) >= 8 and len(key.questions) >= 3
    assert len(ex.variants()) >= 5
    for test in key.tests.values():
        assert test.points > 0 and test.question in key.questions
    assert not (ex.grader_dir / "variants" / "__init__.py").exists()


@pytest.mark.parametrize("exercise", [pytest.param(e, marks=pytest.mark.xdist_group(e)) for e in EXERCISES])
def test_release_is_in_sync_with_source(tmp_path, exercise):
    ex = load_exercise(SETTINGS, exercise)
    shutil.copytree(ROOT / "solutions" / exercise, tmp_path / "solutions" / exercise)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", exercise, "--force",
         f"--CourseDirectory.root={tmp_path}", f"--CourseDirectory.db_url=sqlite:///{tmp_path}/gb.db"],
        cwd=tmp_path, check=True, capture_output=True, env=nbgrader_env(),
    )
    fresh = nbformat.read(tmp_path / "exercises" / exercise / ex.notebook, as_version=4)
    committed = nbformat.read(ex.release_path, as_version=4)

    def shape(nb):
        return [(c.cell_type, grade_id(c), c.source, json.dumps(c.metadata.get("nbgrader", {}), sort_keys=True))
                for c in nb.cells]

    assert shape(committed) == shape(fresh), f"run `gradetape release {exercise}` and commit"
    release_files = sorted(p.name for p in (ROOT / "exercises" / exercise).iterdir())
    assert release_files == [ex.notebook], "only the notebook may be released"


@pytest.mark.parametrize("exercise", EXERCISES)
def test_blank_release_has_no_solution(exercise):
    ex = load_exercise(SETTINGS, exercise)
    text = ex.release_path.read_text()
    assert "BEGIN SOLUTION" not in text
    for name, source in solution_sources(ex).items():
        body = source.split("### BEGIN SOLUTION")[-1].split("### END SOLUTION")[0].strip()
        if body:
            assert body not in text, f"solution of {name} leaked into the release"
