"""nbgrader configuration for the GradeTape course.

nbgrader's "source" step is ``solutions/`` and its "release" step is ``exercises/``, so the
stock commands (``nbgrader generate_assignment``, ``collect``, ``formgrader``, ``export``)
work on this layout. Hidden graders live in ``autograder/graders/`` and are never copied
into a release.
"""

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by traitlets)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.course_id = "gradetape-tf2"
# The gradebook database; any SQLAlchemy URL works (PostgreSQL for large classes).
c.CourseDirectory.db_url = os.environ.get(
    "GRADETAPE_DB", "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
)
# Released notebooks must not carry outputs of the reference run.
c.ClearOutput.enabled = True
# Files a solution notebook writes when run in place (e.g. %%writefile modules) are never
# released: they would contain the solution.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py", "*.keras", "*.h5",
    "*.weights.h5", "checkpoints", "export", "*.npz",
]

# --- GradeTape autograder (helper "nbg"): `nbgrader autograde` runs GradeTape's hidden graders ---
# nbgrader's Execute step is replaced by GradeTape's grader (sandboxed hidden tests; each grade
# cell gets the verdicts and points that SaveAutoGrades stores); the late penalty comes from the
# [grading] table of gradetape.toml; feedback pages open with GradeTape's summary (status, how
# late and what it cost, notes about the run). Classes are named by string: nbgrader commands
# that never autograde import nothing of GradeTape.
# See autograder/integrations/nbgrader_autograde.py.
c.Autograde.autograde_preprocessors = [
    "autograder.integrations.nbgrader_autograde.GradeTapeGrade",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.AssignLatePenalties.plugin_class = (
    "autograder.integrations.nbgrader_autograde.GradeTapeLatePenalty"
)
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.integrations.nbgrader_autograde.GradeTapeFeedbackSummary",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# --- end GradeTape autograder ---

# --- GradeTape's Validate: `nbgrader validate` and JupyterLab's Validate button --------------
# They report per question what `gradetape validate` does (each visible self-check passed,
# failed with its hint, or not attempted), from the notebook alone: no graders, no answer key.
# nbgrader has no setting for the validator's class (its ValidateApp and the Validate button's
# server handler call nbgrader.validator.Validator by name, and Validator.preprocessors is not
# configurable), so this binds that name to
# autograder.integrations.nbgrader_validator.GradeTapeValidator.
# The server reads this file on each click: install it where students' servers look for
# nbgrader_config.py (e.g. /etc/jupyter/) with the autograder package installed; without that
# package, nbgrader's stock Validator runs.
try:
    from autograder.integrations.nbgrader_validator import use_gradetape_validator
except ImportError:
    pass
else:
    use_gradetape_validator()

# --- Exchange: where students fetch releases and hand in (README "Running the course") -----
# One directory every course user can write to (mode 777, as nbgrader sets it);
# `python course/setup_course.py exchange` creates it. Students' JupyterLabs read the same
# path from course/student/nbgrader_config.py, so both honour GRADETAPE_EXCHANGE.
c.Exchange.root = os.environ.get("GRADETAPE_EXCHANGE", "/srv/nbgrader/exchange")
# --- end of the exchange block ---
