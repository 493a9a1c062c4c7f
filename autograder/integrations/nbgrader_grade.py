"""The grade preprocessor: nbgrader's grade cells get GradeTape's hidden-test results.

``nbgrader_config.py`` swaps nbgrader's ``Execute`` preprocessor for :class:`GradeTapeGrade`
(see :mod:`autograder.nbgrader_steps`). nbgrader's sanitize step writes the
submitted notebook, cleaned and with locked cells restored, into ``autograded/``;
:class:`GradeTapeGrade` then grades the submission with the hidden graders and writes each
question's result into its grade cell's outputs (a stdout stream of student-safe verdicts,
then an ``execute_result`` holding the points), which nbgrader's own ``SaveAutoGrades``
reads back with ``determine_grade`` (partial credit from the number). Manual grades and
comments are never touched, so they survive a regrade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import nbformat
from nbgrader import utils as nbutils
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.integrations.nbgrader_context import course_paths, grading_context
from autograder.pipeline.autograded import RESULT_KEY

if TYPE_CHECKING:
    from autograder.results import SubmissionResult

MAX_LINE = 300
"""Longest verdict line written into a grade cell (messages are already student-safe)."""


def format_points(value: float) -> str:
    """Points as a grade cell shows them: ``2``, ``1.5``, ``0.33``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def verdict_text(result: SubmissionResult, question: str) -> str:
    """The student-readable lines of one question: each hidden test's verdict and message.

    Messages come from the trusted judge and never hold an expected value or a stack
    trace; misconception hints are part of them.
    """
    from autograder.results import Status

    lines: list[str] = []
    if result.status is not Status.GRADED:
        lines.append(f"Not graded: {result.reason or result.status.value}")
    for test in (t for t in result.tests if t.question == question):
        name = test.test_id.split("::")[-1]
        mark = "✓" if test.passed else "✗"
        line = f"{mark} {name} ({format_points(test.points)}/{format_points(test.max_points)})"
        if test.message and not test.passed:
            line += f": {test.message}"
        lines.append(line[:MAX_LINE])
    if not lines:
        lines.append("no hidden test of this question was run")
    return "\n".join(lines) + "\n"


def fill_grade_cells(nb: nbformat.NotebookNode, result: SubmissionResult) -> nbformat.NotebookNode:
    """Write each question's hidden-test verdicts and points into its grade cell's outputs.

    nbgrader's ``determine_grade`` reads the points back from the ``execute_result``
    (partial credit); a question the result does not score gets 0 (an empty output would
    be full credit in nbgrader). Other cells are left as they are.

    Args:
        nb: The sanitized submitted notebook (modified in place).
        result: GradeTape's result for this notebook.

    Returns:
        ``nb``.
    """
    scores = {q.question: q.score for q in result.questions}
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbutils.is_grade(cell) or nbutils.is_solution(cell):
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        max_points = float(cell.metadata["nbgrader"].get("points", 0.0))
        score = min(max(float(scores.get(grade_id, 0.0)), 0.0), max_points)
        text = verdict_text(result, grade_id)
        cell.execution_count = None
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=text),
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": repr(score)}, execution_count=None
            ),
        ]
    return nb


class GradeTapeGrade(NbGraderPreprocessor):
    """Replaces nbgrader's ``Execute``: the grade cells get GradeTape's hidden-test results.

    The student's notebook is never executed in nbgrader's kernel; GradeTape grades the
    submitted file in its sandbox and records its per-test rows, then this fills the
    grade cells (:func:`fill_grade_cells`) for ``SaveAutoGrades`` to store.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Grade (or take ``resources[RESULT_KEY]``), record GradeTape's rows, fill cells."""
        from gradebook import record

        info = resources["nbgrader"]
        result = resources.get(RESULT_KEY)
        if result is None:
            root, submitted = course_paths(self.config)
            ctx = grading_context(root, info["db_url"], submitted, info["assignment"])
            if info["notebook"] != ctx.exercise.notebook_id:
                # empty grade cells would be full marks in nbgrader: refuse instead
                raise RuntimeError(
                    f"GradeTape grades {info['assignment']} as {ctx.exercise.notebook_id}.ipynb, "
                    f"not {info['notebook']}.ipynb; remove the other notebook from the "
                    "assignment (nbgrader db) or add it to the exercise"
                )
            result = ctx.grade(info["student"])
            record(info["db_url"], [result])
            self.log.info(
                "GradeTape: %s scored %s/%s (%s)",
                info["student"],
                format_points(result.score),
                format_points(result.max_score),
                result.status.value,
            )
        return fill_grade_cells(nb, result), resources
