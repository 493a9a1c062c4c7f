"""nbgrader settings of an instructor's JupyterLab (``course/setup_course.py instructor``).

Used when the instructor runs nbgrader outside the course folder; inside it the course's
own ``nbgrader_config.py`` (its "Exchange" block, the same path) is read last and wins.
"""

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by traitlets)

c.CourseDirectory.course_id = "gradetape-tf2"
c.Exchange.root = os.environ.get("GRADETAPE_EXCHANGE", "/srv/nbgrader/exchange")
