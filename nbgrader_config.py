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

# --- GradeTape autograder: `nbgrader autograde` runs GradeTape's hidden graders ---------------
# nbgrader's Execute step is replaced by GradeTape's grader (sandboxed hidden tests; each grade
# cell gets the verdicts and points that SaveAutoGrades stores); the late penalty comes from the
# [grading] table of gradetape.toml; feedback pages open with GradeTape's summary (status, how
# late and what it cost, notes about the run). The steps are listed once, in
# autograder/nbgrader_steps.py (which `gradetape grade` instantiates too); it
# imports nothing, and the classes are named by string, so nbgrader commands that never
# autograde import nothing of GradeTape's engine.
try:
    from autograder import nbgrader_steps as steps
except ImportError:
    # The autograder package is not importable from this Python (installed elsewhere): read
    # the list from beside this file. `nbgrader autograde` then stops with nbgrader's "could
    # not import GradeTapeGrade" rather than running notebooks in nbgrader's own kernel (a
    # different score).
    import runpy
    import types

    path = os.path.join(c.CourseDirectory.root, "autograder", "nbgrader_steps.py")
    steps = types.SimpleNamespace(**runpy.run_path(path))
c.Autograde.autograde_preprocessors = list(steps.AUTOGRADE_PREPROCESSORS)
c.AssignLatePenalties.plugin_class = steps.LATE_PENALTY_PLUGIN
c.GenerateFeedback.preprocessors = list(steps.FEEDBACK_PREPROCESSORS)
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
