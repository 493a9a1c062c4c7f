"""nbgrader's steps with GradeTape's swapped in, named by string: one list for both paths.

``nbgrader_config.py`` hands these to nbgrader (``Autograde.autograde_preprocessors``,
``AssignLatePenalties.plugin_class``, ``GenerateFeedback.preprocessors``), so ``nbgrader
autograde`` and formgrader's Autograde button grade through GradeTape;
:func:`autograder.pipeline.autograded.autograde_pipeline` instantiates the very
same lists for ``gradetape grade``. This module imports nothing: nbgrader executes
``nbgrader_config.py`` for every command, and a command that never autogrades must not load
GradeTape's engine (nor TensorFlow).
"""

SANITIZE_PREPROCESSORS = (
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
)
"""nbgrader's own ``Autograde.sanitize_preprocessors`` (left at nbgrader's default)."""

AUTOGRADE_PREPROCESSORS = (
    "autograder.integrations.nbgrader_grade.GradeTapeGrade",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
)
"""``Autograde.autograde_preprocessors``: nbgrader's, with ``Execute`` replaced by GradeTape's."""

LATE_PENALTY_PLUGIN = "autograder.integrations.nbgrader_late.GradeTapeLatePenalty"
"""``AssignLatePenalties.plugin_class``: the course's ``[grading]`` late policy."""

FEEDBACK_PREPROCESSORS = (
    "nbgrader.preprocessors.GetGrades",
    "autograder.integrations.nbgrader_feedback.GradeTapeFeedbackSummary",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)
"""``GenerateFeedback.preprocessors``: feedback pages open with GradeTape's summary."""
