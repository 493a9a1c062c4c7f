"""nbgrader settings of a student's JupyterLab (installed by ``course/setup_course.py student``).

The student has no course directory: only the course id and the exchange, which must be the
same path as in the course's own ``nbgrader_config.py`` (its "Exchange" block).
"""

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by traitlets)

c.CourseDirectory.course_id = "gradetape-tf2"
c.Exchange.root = os.environ.get("GRADETAPE_EXCHANGE", "/srv/nbgrader/exchange")

# GradeTape's Validate: the Validate button reports per question what `gradetape validate`
# does (each visible self-check passed, failed with its hint, or not attempted), from the
# notebook alone. nbgrader has no setting for the validator's class, so this binds it (see
# autograder/integrations/nbgrader_validator.py); without the autograder package,
# nbgrader's own runs.
try:
    from autograder.integrations.nbgrader_validator import use_gradetape_validator
except ImportError:
    pass
else:
    use_gradetape_validator()
