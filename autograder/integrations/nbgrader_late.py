"""The late-penalty plug-in: nbgrader's late penalty from the course's ``[grading]`` policy.

``nbgrader_config.py`` names :class:`GradeTapeLatePenalty` as nbgrader's
``AssignLatePenalties.plugin_class``; :func:`late_summary` words the same lateness for a
feedback page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbgrader.plugins import LateSubmissionPlugin

from autograder.integrations.nbgrader_context import course_paths
from autograder.integrations.nbgrader_grade import format_points

if TYPE_CHECKING:
    from gradebook.policy import GradingPolicy


class GradeTapeLatePenalty(LateSubmissionPlugin):
    """nbgrader's late penalty from the course's ``[grading]`` policy (gradetape.toml).

    :func:`gradebook.policy.late_penalty` computes it, the same function every GradeTape
    export, table and page uses, so nbgrader's ``late_submission_penalty`` is the number
    they show. With no per-day penalty configured nbgrader's ``penalty_method`` applies.
    """

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        """The penalty in points for this notebook (``None``: no penalty)."""
        from gradebook.policy import late_penalty, load_policy

        parent = self.parent
        root, _ = course_paths(self.config)
        policy = load_policy(root)
        if policy.late_penalty_per_day <= 0:
            return super().late_submission_penalty(student_id, score, total_seconds_late)
        gb = parent.gradebook
        submission = gb.find_submission(parent.assignment_id, student_id)
        notebook = gb.find_submission_notebook(parent.notebook_id, parent.assignment_id, student_id)
        penalty = late_penalty(
            policy,
            student_id,
            parent.assignment_id,
            raw_score=float(score or 0.0),
            max_score=float(notebook.max_score or 0.0),
            timestamp=submission.timestamp,
            duedate=submission.duedate,
        )
        return penalty if penalty > 0 else None


def late_summary(
    policy: GradingPolicy,
    student: str,
    assignment: str,
    timestamp: Any,
    duedate: Any,
    penalty: float,
) -> str:
    """One sentence on lateness: how late (after extension and grace) and what it cost."""
    import pandas as pd

    from gradebook.policy import days_late

    if timestamp is None or duedate is None:
        return ""
    extension = float(policy.extensions.get((student, assignment), 0.0))
    days = days_late(
        pd.Timestamp(timestamp),
        pd.Timestamp(duedate),
        extension_days=extension,
        grace_minutes=policy.grace_minutes,
    )
    if days <= 0 and penalty <= 0:
        return ""
    late_by = pd.Timestamp(timestamp) - pd.Timestamp(duedate)
    hours = late_by / pd.Timedelta(hours=1)
    text = f"Submitted {hours:.1f} hours after the due date"
    if extension:
        text += f" (with an extension of {format_points(extension)} days)"
    text += f": {days} started day{'s' if days != 1 else ''} late"
    text += f", late penalty {format_points(penalty)} points." if penalty > 0 else ", no penalty."
    return text
