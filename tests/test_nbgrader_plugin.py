"""The nbgrader plug-in's grade cells: nbgrader's own ``determine_grade`` reads GradeTape's score."""

from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade

from autograder.integrations.nbgrader_grade import fill_grade_cells, verdict_text
from autograder.results import QuestionResult, Status, SubmissionResult, TestResult

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "exercises" / "01_tensors" / "01_tensors.ipynb"
MAX = {"creation": 3.0, "dtypes": 2.0, "indexing": 4.0, "reshaping": 6.0}


def result(
    scores: dict[str, float], status: Status = Status.GRADED, reason: str = ""
) -> SubmissionResult:
    tests = (
        TestResult("test_tensors.py::test_filled", "creation", 1.0, 0.0, False,
                   "filled([3, 2], 2.0, tf.float64) has the wrong dtype",
                   "fill_ignores_dtype"),
        TestResult("test_tensors.py::test_arange_matrix", "creation", 2.0, 2.0, True),
    )  # fmt: skip
    return SubmissionResult(
        student="ada",
        assignment="01_tensors",
        notebook="01_tensors",
        status=status,
        reason=reason,
        questions=tuple(
            QuestionResult(q, scores.get(q, 0.0), m) for q, m in MAX.items() if q in scores
        ),
        tests=tests,
    )


def nbgrader_scores(nb: nbformat.NotebookNode) -> dict[str, float]:
    return {
        c.metadata["nbgrader"]["grade_id"]: determine_grade(c)[0]
        for c in nb.cells
        if is_grade(c) and c.cell_type == "code"
    }


def test_nbgrader_reads_each_questions_points_including_partial_credit() -> None:
    scores = {"creation": 2.0, "dtypes": 0.0, "indexing": 4.0, "reshaping": 4.5}
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), result(scores))
    assert nbgrader_scores(nb) == scores


def test_a_question_the_result_does_not_score_is_zero_not_full_marks() -> None:
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), result({"creation": 3.0}))
    assert nbgrader_scores(nb) == {
        "creation": 3.0,
        "dtypes": 0.0,
        "indexing": 0.0,
        "reshaping": 0.0,
    }


def test_scores_outside_the_cell_range_are_clamped() -> None:
    nb = fill_grade_cells(
        nbformat.read(RELEASE, as_version=4), result({"creation": 9.0, "dtypes": -1.0})
    )
    got = nbgrader_scores(nb)
    assert got["creation"] == 3.0 and got["dtypes"] == 0.0


def test_verdicts_name_each_test_and_the_misconception_hint_only() -> None:
    text = verdict_text(result({"creation": 2.0}), "creation")
    assert text.splitlines() == [
        "✗ test_filled (0/1): filled([3, 2], 2.0, tf.float64) has the wrong dtype",
        "✓ test_arange_matrix (2/2)",
    ]
    assert verdict_text(result({}), "dtypes") == "no hidden test of this question was run\n"


def test_a_rejected_submission_says_why_and_scores_zero() -> None:
    res = result({q: 0.0 for q in MAX}, Status.REJECTED, "cells were deleted")
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), res)
    assert set(nbgrader_scores(nb).values()) == {0.0}
    first = next(c for c in nb.cells if is_grade(c) and c.cell_type == "code")
    assert first.outputs[0]["text"].startswith("Not graded: cells were deleted")


@pytest.mark.parametrize("score", [0.0, 0.5, 1.25, 2.0, 3.0])
def test_points_round_trip_exactly(score: float) -> None:
    nb = fill_grade_cells(nbformat.read(RELEASE, as_version=4), result({"creation": score}))
    assert nbgrader_scores(nb)["creation"] == score


# -- the steps, listed once ----------------------------------------------------------------------
def _course_config():
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()


def test_nbgrader_config_gives_nbgrader_the_steps_module_lists():
    from autograder import nbgrader_steps as steps

    config = _course_config()
    assert list(config.Autograde.autograde_preprocessors) == list(steps.AUTOGRADE_PREPROCESSORS)
    assert config.AssignLatePenalties.plugin_class == steps.LATE_PENALTY_PLUGIN
    assert list(config.GenerateFeedback.preprocessors) == list(steps.FEEDBACK_PREPROCESSORS)
    assert steps.AUTOGRADE_PREPROCESSORS[0].endswith(".GradeTapeGrade")  # Execute replaced


def test_every_named_step_imports_and_the_sanitize_steps_are_nbgraders():
    from nbgrader.converters.autograde import Autograde
    from traitlets.utils.importstring import import_item

    from autograder import nbgrader_steps as steps

    names = [*steps.SANITIZE_PREPROCESSORS, *steps.AUTOGRADE_PREPROCESSORS,
             *steps.FEEDBACK_PREPROCESSORS, steps.LATE_PENALTY_PLUGIN]  # fmt: skip
    assert all(isinstance(import_item(name), type) for name in names)
    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    assert [import_item(n) for n in steps.SANITIZE_PREPROCESSORS] == list(default)


def test_gradetape_grade_runs_the_same_steps_as_nbgrader_autograde(tmp_path):
    from traitlets.utils.importstring import import_item

    from autograder import nbgrader_steps as steps
    from autograder.pipeline.autograded import autograde_pipeline

    pipeline = autograde_pipeline(tmp_path)
    expected = [*steps.SANITIZE_PREPROCESSORS, *steps.AUTOGRADE_PREPROCESSORS]
    assert [type(step) for step in pipeline] == [import_item(name) for name in expected]
    late = next(s for s in pipeline if type(s).__name__ == "AssignLatePenalties")
    assert late.plugin_class is import_item(steps.LATE_PENALTY_PLUGIN)


def test_the_steps_module_loads_nothing_outside_the_standard_library():
    """nbgrader executes nbgrader_config.py for every command: it must stay cheap."""
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules)\n"
        "import autograder.nbgrader_steps\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}"
        " - set(sys.stdlib_module_names) - {'autograder'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
