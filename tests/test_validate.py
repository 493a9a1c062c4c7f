"""`gradetape validate`: what would be graded, and the notebook's visible self-checks."""

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.load.exercise import load_exercise
from autograder.load.notebook import grade_id
from autograder.review import validate as validate_module
from autograder.review.validate import Status, ValidationReport, validate
from autograder.run.jobs import read_spec
from autograder.run.sandbox.base import Capabilities, Sandbox, SandboxRun
from autograder.runtime.channel import Channel
from autograder.runtime.protocol import (
    GRADER_DIR,
    IN_DIR,
    OUT_DIR,
    CellEnded,
    CellStarted,
    Phase,
    Ready,
)
from autograder.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
EX = "01_tensors"
RELEASE = ROOT / "exercises" / EX / f"{EX}.ipynb"
SOURCE = ROOT / "solutions" / EX / f"{EX}.ipynb"
QUESTIONS = ["creation", "dtypes", "indexing", "reshaping"]


@pytest.fixture(scope="module")
def settings():
    return load_settings(ROOT)


def write_variant(tmp_path, cells, name=f"{EX}.ipynb", base=RELEASE):
    """A copy of ``base`` with the cells ``grade_id -> source`` replaced."""
    nb = nbformat.read(base, as_version=4)
    for cell in nb.cells:
        if grade_id(cell) in cells:
            cell.source = cells[grade_id(cell)]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_blank_release_is_not_attempted_and_runs_nothing(settings):
    report = validate(RELEASE, settings)
    assert report.exercise == EX and report.rejected is None and report.exit_code == 0
    assert [q.question for q in report.questions] == QUESTIONS
    assert all(q.status is Status.NOT_ATTEMPTED for q in report.questions)
    assert report.question("creation").blank_cells == ("filled_impl", "arange_matrix_impl")
    assert not report.ran and report.notices == ()
    assert report.total_points == 15
    text = report.format()
    assert text.splitlines()[0] == f"{EX}.ipynb — exercise {EX}"
    assert "· reshaping   not attempted (4 solution cells still raise NotImplementedError)" in text
    assert "Would be graded: 4 questions, 15 points" in text


def test_malformed_file_is_rejected_with_the_loader_reason(settings, tmp_path):
    path = tmp_path / f"{EX}.ipynb"
    path.write_text('{"cells": [', encoding="utf-8")
    report = validate(path, settings)
    assert report.exit_code == 2 and not report.readable and report.questions == ()
    assert "not valid JSON" in report.rejected
    assert "cannot be graded" in report.format()


def test_empty_file_is_rejected(settings, tmp_path):
    path = tmp_path / f"{EX}.ipynb"
    path.write_bytes(b"")
    report = validate(path, settings)
    assert report.exit_code == 2 and "empty" in report.rejected


def test_renamed_notebook_is_matched_by_its_cells(settings, tmp_path):
    path = tmp_path / "01_tensors-Copy1 (2).ipynb"
    shutil.copyfile(RELEASE, path)
    report = validate(path, settings)
    assert report.exercise == EX and len(report.questions) == 4


def test_foreign_notebook_is_rejected(settings, tmp_path):
    path = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    report = validate(path, settings)
    assert report.exit_code == 2 and "does not look like a notebook of this course" in report.rejected
    assert report.exercise is None


def test_unknown_exercise_name_is_rejected(settings):
    report = validate(RELEASE, settings, exercise="99_nothing")
    assert report.exit_code == 2 and "no exercise '99_nothing'" in report.rejected


def test_edited_locked_cell_is_reported(settings, tmp_path):
    path = write_variant(tmp_path, {"helpers": "def check_tensor(*args):\n    pass\n"})
    report = validate(path, settings)
    assert any("`helpers` was edited" in n for n in report.notices)
    assert "Notes:" in report.format() and "`helpers` was edited" in report.format()


class FakeSandbox(Sandbox):
    """Records the job it was given and plays back scripted cell outcomes (no TensorFlow)."""

    name = "fake"
    capabilities = Capabilities("process", False, 1, False)

    def __init__(self, errors, stop_at=None, timed_out=False):
        self.errors, self.stop_at, self.job, self.timed_out = errors, stop_at, None, timed_out
        self.closed = False

    def close(self):
        self.closed = True

    def run(self, job_dir, limits):
        self.job = read_spec(job_dir)
        self.grader_files = sorted(p.name for p in (job_dir / IN_DIR / GRADER_DIR).iterdir())
        channel = Channel(str(job_dir / OUT_DIR), 1 << 20)
        channel.send(Ready())
        for cell in self.job.cells:
            channel.send(CellStarted(cell.index, cell.cell_id))
            if cell.cell_id == self.stop_at:
                break
            error = self.errors.get(cell.cell_id, "")
            channel.send(CellEnded(cell.index, cell.cell_id, ok=not error, error=error))
        else:
            channel.send(Phase("grading"))
            channel.send(Phase("done"))
        return SandboxRun("fake", 0, self.timed_out, 0.1)


def run_fake(monkeypatch, settings, tmp_path, cells, **fake):
    box = FakeSandbox(**fake)
    monkeypatch.setattr(validate_module, "make_sandbox", lambda spec: box)
    return validate(write_variant(tmp_path, cells), settings), box


def test_self_checks_run_in_order_without_hidden_tests_or_secret_seed(monkeypatch, settings, tmp_path):
    report, box = run_fake(monkeypatch, settings, tmp_path,
                           {"filled_impl": "def filled(s, v, d):\n    return 1\n"}, errors={})
    ids = [c.cell_id for c in box.job.cells]
    assert box.grader_files == []  # the hidden graders never enter a validation run
    assert box.job.notebook_seed == validate_module.VALIDATE_SEED != settings.seed
    assert ids.index("imports") < ids.index("helpers") < ids.index("filled_impl")
    assert ids.index("arange_matrix_impl") < ids.index("creation") < ids.index("scale_pixels_impl")
    assert set(QUESTIONS) <= set(ids)
    assert report.ran and report.isolation == "fake" and report.all_passed


def test_outcomes_are_classified(monkeypatch, settings, tmp_path):
    errors = {
        "filled_impl": "SyntaxError: invalid syntax (<ipython-input-3>, line 2)",
        "creation": "NameError: name 'filled' is not defined",
        "dtypes": "NotImplementedError: ",
        "indexing": "AssertionError: every_other_row(m): expected shape (3, 4), got (2, 4)",
    }
    cells = {"filled_impl": "def filled(:\n", "scale_pixels_impl": "def scale_pixels(x):\n    return x\n",
             "every_other_row_impl": "def every_other_row(x):\n    return x[1::2]\n"}
    report, _ = run_fake(monkeypatch, settings, tmp_path, cells, errors=errors, stop_at="reshaping")
    creation, dtypes, indexing, reshaping = report.questions
    assert creation.status is Status.FAILED
    assert creation.detail.splitlines() == [
        "cell `filled_impl` raised SyntaxError: invalid syntax (<ipython-input-3>, line 2)",
        "NameError: name 'filled' is not defined",
    ]
    assert dtypes.status is Status.INCOMPLETE and dtypes.blank_cells == ("round_to_int_impl",)
    assert indexing.status is Status.FAILED
    assert indexing.detail == "every_other_row(m): expected shape (3, 4), got (2, 4)"
    assert reshaping.status is Status.NOT_RUN and "ended the Python process" in reshaping.detail
    text = report.format()
    assert "✗ indexing    every_other_row(m): expected shape (3, 4), got (2, 4)" in text
    assert "· dtypes      incomplete (`round_to_int_impl` still raises NotImplementedError)" in text
    assert "? reshaping   not run" in text
    assert "Self-checks: 0 of 4 passed." in text
    assert "cell `filled_impl` raised SyntaxError" in text


def test_a_run_stopped_at_its_time_limit_says_so(monkeypatch, settings, tmp_path):
    cells = {"filled_impl": "def filled(s, v, d):\n    while True:\n        pass\n"}
    report, _ = run_fake(monkeypatch, settings, tmp_path, cells, errors={}, stop_at="creation",
                         timed_out=True)
    limit = f"{load_exercise(settings, EX).limits.job_timeout:g}"
    assert report.run_note == (f"The run was stopped after {limit} s; look for an endless loop "
                               "or very slow code.")
    assert all(q.status is Status.NOT_RUN for q in report.questions)
    assert report.question("creation").detail == report.run_note


def test_the_sandbox_validate_builds_is_closed_and_a_given_one_is_not(monkeypatch, settings, tmp_path):
    cells = {"filled_impl": "def filled(s, v, d):\n    return 1\n"}
    _, built = run_fake(monkeypatch, settings, tmp_path, cells, errors={})
    assert built.job is not None and built.closed
    given = FakeSandbox(errors={})
    (tmp_path / "again").mkdir()
    validate(write_variant(tmp_path / "again", cells), settings, sandbox=given)
    assert given.job is not None and not given.closed


def test_format_of_a_hand_made_report():
    report = ValidationReport(Path("x.ipynb"), "01_tensors")
    assert report.format().startswith("x.ipynb — exercise 01_tensors\nSelf-checks: 0 of 0 passed.")


# ---------------------------------------------------------------------------------------------
# Real runs: TensorFlow in a sandbox.


@pytest.mark.slow
def test_reference_solution_passes_every_self_check(settings):
    report = validate(SOURCE, settings)
    assert report.ran and report.run_note == "" and report.cell_errors == ()
    assert {q.question: q.status for q in report.questions} == dict.fromkeys(QUESTIONS, Status.PASSED)
    assert report.all_passed and report.notices == ()
    assert "✓ creation    passed" in report.format()


@pytest.mark.slow
def test_student_work_in_progress(settings, tmp_path):
    source = {grade_id(c): c.source for c in nbformat.read(SOURCE, as_version=4).cells}
    cells = {gid: source[gid] for gid in
             ("filled_impl", "arange_matrix_impl", "scale_pixels_impl", "last_column_impl", "sub_block_impl")}
    cells["every_other_row_impl"] = "def every_other_row(x):\n    return x[1::2]\n"  # off by one
    cells["add_batch_axis_impl"] = "def add_batch_axis(x):\n    return tf.expand_dims(x, axis=0\n"
    cells["helpers"] = "def check_tensor(*args):\n    pass\n"  # restored before the run
    report = validate(write_variant(tmp_path, cells), settings)
    by_id = {q.question: q for q in report.questions}
    assert by_id["creation"].status is Status.PASSED
    assert by_id["dtypes"].status is Status.INCOMPLETE
    assert by_id["indexing"].status is Status.FAILED
    assert by_id["indexing"].detail == "every_other_row(m): expected shape (3, 4), got (2, 4)"
    assert by_id["reshaping"].status is Status.FAILED
    assert by_id["reshaping"].detail.startswith("cell `add_batch_axis_impl` raised SyntaxError")
    assert any("`helpers` was edited" in n for n in report.notices)
    text = report.format()
    assert "✗ indexing    every_other_row(m): expected shape (3, 4), got (2, 4)" in text


# ---------------------------------------------------------------------------------------------
# A notebook on its own: a student's folder with no graders, no solutions, no gradetape.toml.


def run_alone(monkeypatch, folder, cells, name="my copy.ipynb", **fake):
    box = FakeSandbox(**fake)
    monkeypatch.setattr(validate_module, "make_sandbox", lambda spec: box)
    return validate(write_variant(folder, cells, name=name)), box


def test_blank_release_alone_is_not_attempted(student_dir):
    path = student_dir / "anything.ipynb"
    shutil.copyfile(RELEASE, path)
    report = validate(path)
    assert report.rejected is None and report.exercise is None and report.alone
    assert [q.question for q in report.questions] == QUESTIONS
    assert all(q.status is Status.NOT_ATTEMPTED for q in report.questions)
    assert report.total_points == 15 and report.notices == () and not report.ran
    assert "(checked on its own" in report.format()


def test_alone_runs_its_own_cells_and_self_checks(monkeypatch, student_dir):
    errors = {"indexing": "AssertionError: every_other_row(m): expected shape (3, 4), got (2, 4)"}
    cells = {"filled_impl": "def filled(s, v, d):\n    return 1\n"}
    report, box = run_alone(monkeypatch, student_dir, cells, errors=errors)
    ids = [c.cell_id for c in box.job.cells]
    assert box.grader_files == [] and box.job.notebook_seed == validate_module.VALIDATE_SEED
    assert ids.index("helpers") < ids.index("filled_impl") < ids.index("creation")
    assert set(QUESTIONS) <= set(ids) and len(ids) == len(set(ids))  # no cell runs twice
    by_id = {q.question: q for q in report.questions}
    assert by_id["creation"].status is Status.PASSED
    assert by_id["indexing"].status is Status.FAILED
    assert by_id["indexing"].detail == "every_other_row(m): expected shape (3, 4), got (2, 4)"
    assert report.exercise is None and report.alone and report.notices == ()


def test_alone_keeps_added_cells_once_in_place(monkeypatch, student_dir):
    nb = nbformat.read(RELEASE, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "filled_impl")
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("scratch = 42"))
    for cell in nb.cells:
        if grade_id(cell) == "filled_impl":
            cell.source = "def filled(s, v, d):\n    return scratch\n"
    path = student_dir / "work.ipynb"
    nbformat.write(nb, path)
    box = FakeSandbox(errors={})
    monkeypatch.setattr(validate_module, "make_sandbox", lambda spec: box)
    validate(path)
    sources = [c.source for c in box.job.cells]
    assert sources.count("scratch = 42") == 1
    assert sources.index("scratch = 42") == [c.cell_id for c in box.job.cells].index("filled_impl") + 1


def test_alone_edited_self_check_does_not_count(monkeypatch, student_dir):
    cells = {"filled_impl": "def filled(s, v, d):\n    return 1\n", "creation": "assert True\n",
             "helpers": "def check_tensor(*args):\n    pass\n"}
    report, _ = run_alone(monkeypatch, student_dir, cells, errors={})
    creation = report.question("creation")
    assert creation.status is Status.FAILED
    assert "self-check cell was edited" in creation.detail and "it passed" in creation.detail
    assert report.question("dtypes").status is Status.PASSED
    assert any("self-check `creation` was edited" in n for n in report.notices)
    assert any("locked cell `helpers` was edited" in n for n in report.notices)


def test_alone_foreign_notebook_is_rejected(student_dir):
    path = student_dir / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    report = validate(path)
    assert report.exit_code == 2 and "has no nbgrader question cells" in report.rejected


def test_cli_outside_the_course(student_dir, capsys):
    from autograder.cli.main import main

    path = student_dir / f"{EX}.ipynb"
    shutil.copyfile(RELEASE, path)
    assert main(["validate", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "not a notebook of this course" not in printed
    assert "· creation    not attempted" in printed and "15 points" in printed


@pytest.mark.slow
@pytest.mark.parametrize("name", [EX, "07_training_loops"])
def test_reference_alone_passes_and_its_time_is_printed(name, student_dir, capsys):
    """A finished notebook in a student's folder, through the CLI; prints the wall time.

    The time is printed, not asserted (it depends on the machine's load): the target is at
    most 10 s plus the notebook's own compute on 2 cores.
    """
    import time

    from autograder.cli.main import main

    path = student_dir / "finished.ipynb"
    shutil.copyfile(ROOT / "solutions" / name / f"{name}.ipynb", path)
    start = time.monotonic()
    status = main(["validate", str(path)])
    elapsed = time.monotonic() - start
    printed = capsys.readouterr().out
    assert status == 0 and "(checked on its own" in printed
    import re

    passed, total = re.search(r"Self-checks: (\d+) of (\d+) passed\.", printed).groups()
    assert passed == total != "0", printed
    with capsys.disabled():
        print(f"\n[timing] gradetape validate {name} (alone): {elapsed:.1f} s wall")
