"""nbgrader's Validate (`nbgrader validate` and the Validate button) gives `gradetape validate`'s
per-question report (autograder/integrations/nbgrader_validator.py)."""

import shutil
from pathlib import Path

import pytest

from autograder.review.validate import QuestionCheck, Status, ValidationReport

ROOT = Path(__file__).resolve().parent.parent
EX = "01_tensors"
RELEASE = ROOT / "exercises" / EX / f"{EX}.ipynb"
QUESTIONS = ["creation", "dtypes", "indexing", "reshaping"]


def test_nbgrader_results_shape():
    from autograder.integrations.nbgrader_validator import nbgrader_results

    ok = ValidationReport(Path("a.ipynb"), None, questions=(QuestionCheck("q1", 2, Status.PASSED),))
    assert nbgrader_results(ok, {}) == {}
    bad = ValidationReport(Path("a.ipynb"), None, notices=("locked cell `h` was edited",), questions=(
        QuestionCheck("q1", 2, Status.PASSED), QuestionCheck("q2", 3, Status.FAILED, "x < 1 <b>")))
    failed = nbgrader_results(bad, {"q2": "assert f(1) == 2"})["failed"]
    assert failed[0]["source"].startswith("✗ question `q2` (3 points): failed")
    assert "assert f(1) == 2" in failed[0]["source"]
    assert failed[0]["raw_error"] == "x < 1 <b>" and failed[0]["error"] == "x &lt; 1 &lt;b&gt;"
    assert "1 of 2 passed" in failed[1]["raw_error"] and "`h` was edited" in failed[1]["raw_error"]
    edited = ValidationReport(Path("a.ipynb"), None, notices=("n",), questions=ok.questions)
    assert nbgrader_results(edited, {}) == {"changed": [{"source": "n"}]}
    rejected = nbgrader_results(ValidationReport(Path("a.ipynb"), None, rejected="empty"), {})
    assert "cannot be graded: empty" in rejected["failed"][0]["raw_error"]


@pytest.fixture
def config_dir(student_dir, monkeypatch):
    """The student's folder holding the course's nbgrader_config.py; nbgrader's names restored."""
    import nbgrader.apps.validateapp as app
    import nbgrader.server_extensions.validate_assignment.handlers as handlers

    monkeypatch.setattr(app, "Validator", app.Validator)
    monkeypatch.setattr(handlers, "Validator", handlers.Validator)
    shutil.copyfile(ROOT / "nbgrader_config.py", student_dir / "nbgrader_config.py")
    monkeypatch.chdir(student_dir)
    return student_dir


def test_validate_button_gives_the_per_question_report(config_dir):
    """The server handler's own code, with the config it loads on each click."""
    import logging

    from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler

    shutil.copyfile(RELEASE, config_dir / f"{EX}.ipynb")

    class Handler:  # what validate_notebook uses of a tornado handler
        settings = {"root_dir": str(config_dir)}
        log = logging.getLogger("test")
        root_dir = ValidateAssignmentHandler.root_dir
        load_config = ValidateAssignmentHandler.load_config

    answer = ValidateAssignmentHandler.validate_notebook(Handler(), f"{EX}.ipynb")
    assert answer["success"] is True, answer
    failed = answer["value"]["failed"]
    assert [f["source"].splitlines()[0] for f in failed[:-1]] == [
        f"· question `{q}` ({p} points): not attempted" for q, p in
        zip(QUESTIONS, [3, 2, 4, 6], strict=True)]
    assert "NotImplementedError" in failed[0]["raw_error"]
    assert "0 of 4 passed" in failed[-1]["raw_error"]


def test_nbgrader_validate_command(config_dir):
    import os
    import subprocess
    import sys

    shutil.copyfile(RELEASE, config_dir / "mine.ipynb")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "mine.ipynb"],
                          cwd=config_dir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "· reshaping   not attempted (4 solution cells still raise NotImplementedError)" in done.stdout
    assert "GradeTape: validating" in done.stderr
