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
# that never autograde import nothing of GradeTape. See autograder/nbgrader_plugin.py.
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_plugin.GradeTapeGrade",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.AssignLatePenalties.plugin_class = "autograder.nbgrader_plugin.GradeTapeLatePenalty"
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.nbgrader_plugin.GradeTapeFeedbackSummary",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# --- end GradeTape autograder ---

# --- Exchange: where students fetch releases and hand in (README "Running the course") -----
# One directory every course user can write to (mode 777, as nbgrader sets it);
# `python course/setup_course.py exchange` creates it. Students' JupyterLabs read the same
# path from course/student/nbgrader_config.py, so both honour GRADETAPE_EXCHANGE.
c.Exchange.root = os.environ.get("GRADETAPE_EXCHANGE", "/srv/nbgrader/exchange")
# --- end of the exchange block ---
