"""The Gradescope autograder bundle and ``gradetape export --format gradescope``.

The slow tests build the bundle of 01_tensors once, unpack it into a folder laid out like
Gradescope's (``source/``, ``submission/``, ``results/``) and run its ``run_autograder``
with this virtualenv's Python (setup.sh is skipped).
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.cli.main import main
from autograder.integrations.gradescope_bundle import (
    RUN_AUTOGRADER,
    SETUP_SH,
    BundleError,
    build_bundle,
    unpack,
)
from autograder.load.exercise import load_exercise
from autograder.load.release import (
    reference_submission,
    solution_sources,
    variant_submission,
)
from autograder.results import QuestionResult, Status, SubmissionResult, TestResult
from autograder.run.seeds import job_seeds
from autograder.settings import load_settings
from gradebook import ensure_assignment, read_rows, record
from gradebook.lms import gradescope_results, submission_gradescope_results

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = load_settings(ROOT)
EXERCISE = "01_tensors"

# --- fast: results.json shape, export ---------------------------------------------------------


def _result(student="ada", reason="", passed=True, status=Status.GRADED):
    tests = (
        TestResult("test_t.py::test_a", "q1", 2.0, 2.0 if passed else 0.0, passed,
                   "" if passed else "`x` has the wrong shape. Likely mistake: swaps axes."),
        TestResult("test_t.py::test_b", "q2", 1.0, 0.0, False, "NameError: name 'f' is not defined"),
    )
    return SubmissionResult(
        student=student, assignment="01_tensors", notebook="01_tensors", status=status,
        reason=reason,
        questions=(QuestionResult("q1", 2.0 if passed else 0.0, 2.0), QuestionResult("q2", 0.0, 1.0)),
        tests=tests, notices=("code cell `impl` raised NameError: name 'f' is not defined",),
        flags=("solution code reads `.target` of a public dataset",), duration_s=3.2,
    )


@pytest.fixture
def gradebook(tmp_path):
    url = f"sqlite:///{tmp_path}/gradebook.db"
    ensure_assignment(url, "01_tensors", "01_tensors", {"q1": 2.0, "q2": 1.0})
    record(url, [_result("ada"), _result("bob", passed=False)])
    return url


def test_fresh_result_gives_the_same_json_as_the_gradebook(gradebook):
    for student, passed in [("ada", True), ("bob", False)]:
        fresh = submission_gradescope_results(_result(student, passed=passed))
        stored = gradescope_results(read_rows(gradebook), "01_tensors", student)
        key = lambda t: t["name"]  # noqa: E731 - the gradebook sorts tests by id
        assert sorted(fresh.pop("tests"), key=key) == sorted(stored.pop("tests"), key=key)
        assert fresh == stored
    bob = submission_gradescope_results(_result("bob", passed=False))
    assert bob["score"] == 0.0 and "leaderboard" not in bob
    assert bob["tests"][0]["output"].endswith("Likely mistake: swaps axes.")
    assert "target" not in json.dumps(bob)  # review flags are for instructors


def test_rejected_result_says_why():
    res = submission_gradescope_results(_result(reason="no notebook named x.ipynb", status=Status.REJECTED))
    assert res["output"].startswith("no notebook named x.ipynb")


def test_export_gradescope_folder_and_one_student(gradebook, tmp_path, capsys):
    out = tmp_path / "gs"
    args = ["--root", str(tmp_path), "export", "--format", "gradescope", "--db", gradebook]
    assert main([*args, "--assignment", "01_tensors", "-o", str(out), "--visibility", "hidden"]) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("results.json"))
    assert files == ["ada/results.json", "bob/results.json"]
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert bob == gradescope_results(read_rows(gradebook), "01_tensors", "bob", visibility="hidden")
    assert bob["visibility"] == "hidden" and bob["score"] == 0.0
    capsys.readouterr()
    assert main([*args, "--assignment", "01_tensors", "--student", "ada"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 2.0


def test_export_gradescope_explains_what_is_missing(gradebook, tmp_path, capsys):
    args = ["--root", str(tmp_path), "export", "--format", "gradescope", "--db", gradebook]
    assert main(args) == 2
    assert "--assignment" in capsys.readouterr().err
    assert main([*args, "--assignment", "01_tensors"]) == 2
    assert "--output FOLDER" in capsys.readouterr().err
    assert main([*args, "--assignment", "nope", "-o", str(tmp_path / "x")]) == 2
    assert "no assignment 'nope'" in capsys.readouterr().err


def test_scripts_are_valid_bash():
    for script in (SETUP_SH, RUN_AUTOGRADER):
        subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_unpack_refuses_members_outside_the_folder(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape.txt", "x")
    with pytest.raises(BundleError, match="escapes"):
        unpack(evil, tmp_path / "source")
    assert not (tmp_path / "escape.txt").exists()


# --- slow: build the bundle, run it like Gradescope -------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "bundle.zip"
    return build_bundle(SETTINGS, EXERCISE, path)


@pytest.fixture(scope="module")
def exercise():
    return load_exercise(SETTINGS, EXERCISE)


def gradescope(tmp_path, bundle, files, **env):
    """Lay out /autograder in tmp_path, run run_autograder, return (results, stdout)."""
    root = tmp_path / "autograder"
    unpack(bundle, root / "source")
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    for name, content in files.items():
        target = root / "submission" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, nbformat.NotebookNode):
            nbformat.write(content, target)
        else:
            target.write_text(content)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRADETAPE_")}
    environ |= {"GRADETAPE_GRADESCOPE_ROOT": str(root), "GRADETAPE_GRADESCOPE_PYTHON": sys.executable,
                "GRADETAPE_SECRET_SEED": "999"} | env
    proc = subprocess.run([str(root / "run_autograder")], env=environ, cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((root / "results" / "results.json").read_text())
    return results, proc.stdout, root


def secrets(exercise):
    """Strings that must never reach a student: the seed, derived seeds, expected values."""
    seeds = job_seeds(SETTINGS.seed, exercise.name, exercise.grader_files())
    found = {str(SETTINGS.seed), str(seeds.notebook), *map(str, seeds.tests.values())}
    from autograder.judge.answer_key import build_key
    from autograder.run.sandbox import SandboxSpec, make_sandbox

    box = make_sandbox(SandboxSpec("auto", False, 1, exercise.limits))
    try:
        key = build_key(exercise, SETTINGS.seed, box, SETTINGS.cache)  # cached by the bundle
    finally:
        box.close()
    for test in key.tests.values():
        for rec in test.values:
            if rec.value.array is None or rec.value.array.dtype.kind not in "fc":
                continue
            for v in np.ravel(rec.value.array)[:50]:
                text = repr(float(np.real(v)))
                if len(text.lstrip("-").replace(".", "")) >= 5:  # specific enough to search for
                    found.add(text[:7])
    return found, key


def check_shape(results, key):
    assert set(results) >= {"score", "execution_time", "output", "tests", "visibility"}
    assert "leaderboard" not in results and results["stdout_visibility"] == "hidden"
    assert isinstance(results["execution_time"], int)
    assert len(results["tests"]) == len(key.tests)
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility", "status"}
        assert 0 <= test["score"] <= test["max_score"]
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert sum(t["max_score"] for t in results["tests"]) == sum(key.questions.values())


def no_secret(results, hidden):
    text = json.dumps(results)
    assert "Traceback" not in text and 'File "' not in text
    leaked = [s for s in hidden if s in text]
    assert not leaked, f"secrets in results.json: {leaked}"


@pytest.mark.slow
@pytest.mark.xdist_group("gradescope")
def test_bundle_holds_what_grading_needs_and_no_solution(bundle, exercise):
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        modes = {i.filename: (i.external_attr >> 16) for i in z.infolist()}
        texts = {n: z.read(n).decode("utf-8", "replace") for n in names}
    assert {"setup.sh", "run_autograder", "trusted/bundle.json"} <= set(names)
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR
    assert "gradetape/exercises/01_tensors/01_tensors.ipynb" in names
    assert "gradetape/requirements.lock" in names and "gradetape/pyproject.toml" in names
    assert any(n.startswith("trusted/key/out/") for n in names)
    assert not any(n.startswith("gradetape/solutions") for n in names)
    assert not any("/graders/" in n and "/graders/01_tensors/" not in n for n in names)
    assert "seed" not in tomllib.loads(texts["gradetape/gradetape.toml"])
    # The reference solution is not shipped: its cells appear nowhere in the zip.
    sources = [s for s in solution_sources(exercise).values() if len(s.strip()) > 40]
    assert sources
    for name, text in texts.items():
        for source in sources:
            assert source.strip() not in text, f"reference cell found in {name}"
    # The seed is in trusted/ (the demo seed is also settings.py's default, hence the filter).
    assert str(SETTINGS.seed) in texts["trusted/bundle.json"]
    data = [n for n in names if not n.startswith("trusted/") and not n.endswith((".py", ".md"))]
    assert not [n for n in data if str(SETTINGS.seed) in texts[n]]


@pytest.mark.slow
@pytest.mark.xdist_group("gradescope")
def test_reference_scores_full_marks(tmp_path, bundle, exercise):
    hidden, key = secrets(exercise)
    results, stdout, _ = gradescope(tmp_path, bundle, {"01_tensors.ipynb": reference_submission(exercise)})
    check_shape(results, key)
    assert results["score"] == sum(key.questions.values())
    assert all(t["status"] == "passed" for t in results["tests"])
    assert "isolation: bwrap" in stdout
    no_secret(results, hidden)


@pytest.mark.slow
@pytest.mark.xdist_group("gradescope")
def test_blank_release_scores_zero(tmp_path, bundle, exercise):
    hidden, key = secrets(exercise)
    blank = nbformat.read(exercise.release_path, as_version=4)
    results, _, _ = gradescope(tmp_path, bundle, {"01_tensors.ipynb": blank})
    check_shape(results, key)
    assert results["score"] == 0
    assert all(t["output"] for t in results["tests"])  # each failure says why
    no_secret(results, hidden)


@pytest.mark.slow
@pytest.mark.xdist_group("gradescope")
def test_known_wrong_variant_loses_its_test_and_names_the_mistake(tmp_path, bundle, exercise):
    hidden, key = secrets(exercise)
    variant = next(v for v in exercise.variants() if len(v.loses) == 1 and not v.also_loses)
    (lost,) = variant.loses
    results, stdout, _ = gradescope(tmp_path, bundle, {"01_tensors.ipynb": variant_submission(exercise, variant)})
    check_shape(results, key)
    function = lost.rsplit("::", 1)[-1]
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert [t["name"].split(": ", 1)[1] for t in failed] == [function]
    assert results["score"] == sum(key.questions.values()) - key.tests[lost].points
    assert f"Likely mistake: {variant.description}" in failed[0]["output"]
    assert f"misconception: {lost}: {variant.name}" in stdout  # instructors see it too
    no_secret(results, hidden)


@pytest.mark.slow
@pytest.mark.xdist_group("gradescope")
def test_weak_isolation_deletes_the_secrets_first_and_says_so(tmp_path, bundle, exercise):
    results, stdout, root = gradescope(
        tmp_path, bundle, {"work/01_tensors.ipynb": reference_submission(exercise)},
        GRADETAPE_GRADESCOPE_ISOLATION="subprocess",
    )
    assert results["score"] > 0  # the notebook was found in work/
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    assert "WEAK isolation" in stdout and "WEAK" not in json.dumps(results)
    assert not (root / "source" / "trusted").exists()
    assert not (root / "source" / "gradetape" / "autograder" / "graders" / EXERCISE / "variants").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("gradescope")
def test_unusable_submissions_and_bundles_still_give_a_valid_zero(tmp_path, bundle, exercise):
    results, _, _ = gradescope(tmp_path / "none", bundle, {"notes.txt": "hello"})
    assert results["score"] == 0 and "no notebook named 01_tensors.ipynb" in results["output"]
    assert len(results["tests"]) == 12 and all(t["score"] == 0 for t in results["tests"])
    results, _, _ = gradescope(tmp_path / "bad", bundle, {"01_tensors.ipynb": '{"cells": [ {'})
    assert results["score"] == 0 and results["output"]
    # A bundle whose files differ from the ones its key was built with grades nothing.
    root = tmp_path / "tampered" / "autograder"
    unpack(bundle, root / "source")
    grader = root / "source" / "gradetape" / "autograder" / "graders" / EXERCISE / "test_tensors.py"
    grader.write_text(grader.read_text() + "\n# edited\n")
    from autograder.integrations.gradescope_runner import grade

    results, notes = grade(root)
    assert results["score"] == 0 and results["tests"] == []
    assert "problem on the grading side" in results["output"]
    assert any("differs from the file the answer key was built with" in n for n in notes)
    assert "test_tensors.py" not in json.dumps(results)
    # So does one with a file added where the sandbox would pick it up.
    root = tmp_path / "planted" / "autograder"
    unpack(bundle, root / "source")
    planted = root / "source" / "gradetape" / "autograder" / "graders" / EXERCISE / "conftest.py"
    planted.write_text("import pytest\n")
    results, notes = grade(root)
    assert results["score"] == 0 and any("conftest.py" in n for n in notes)
