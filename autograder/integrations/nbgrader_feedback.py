"""The feedback summary: nbgrader's feedback pages open with GradeTape's grading summary.

``nbgrader_config.py`` adds :class:`GradeTapeFeedbackSummary` to nbgrader's
``GenerateFeedback.preprocessors``: status, how late and what it cost, notes about the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.integrations.nbgrader_context import course_paths
from autograder.integrations.nbgrader_late import late_summary


def feedback_summary(db_url: str, root: Path, student: str, assignment: str, notebook: str,
                     penalty: float) -> str:  # fmt: skip
    """The markdown opening a feedback page: status, lateness and cost, notes about the run.

    Only student-safe text: the rejection reason and the run's notices (as in the
    gradebook), never review flags, expected values or stack traces.
    """
    import json

    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import select

    from gradebook import tables
    from gradebook.policy import load_policy

    lines: list[str] = ["## Grading summary", ""]
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
            timestamp, duedate = sub.timestamp, sub.duedate
        except MissingEntry:
            timestamp = duedate = None
        tables.create_tables(gb.engine)
        t = tables.submission
        row = gb.db.execute(
            select(t.c.status, t.c.reason, t.c.notices).where(
                t.c.student == student, t.c.assignment == assignment, t.c.notebook == notebook
            )
        ).first()
    if row is not None:
        if row.status != "graded":
            lines.append(f"**Not graded ({row.status}):** {row.reason}")
            lines.append("")
        else:
            lines.append("Graded by the hidden tests; each test cell below shows their verdicts.")
            lines.append("")
    late = late_summary(load_policy(root), student, assignment, timestamp, duedate, penalty)
    if late:
        lines += [f"**Late:** {late}", ""]
    notices = json.loads(row.notices) if row is not None and row.notices else []
    if notices:
        lines.append("Notes about the run:")
        lines += [f"- {n}" for n in notices]
    return "\n".join(lines).strip() + "\n"


class GradeTapeFeedbackSummary(NbGraderPreprocessor):
    """Opens nbgrader's feedback page with GradeTape's summary (:func:`feedback_summary`).

    Runs in ``GenerateFeedback`` after ``GetGrades`` (which puts the late penalty into
    ``resources``); the autograded notebook itself is not changed.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Insert the summary as the first cell."""
        info = resources["nbgrader"]
        root, _ = course_paths(self.config)
        text = feedback_summary(
            info["db_url"],
            root,
            info["student"],
            info["assignment"],
            info["notebook"],
            float(info.get("late_penalty") or 0.0),
        )
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
        return nb, resources
