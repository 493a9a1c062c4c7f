"""GradeTape's autograder: hidden graders run against students' notebooks, in a sandbox.

The package is the grading pipeline, one folder per stage:

1. **load** (:mod:`autograder.load`): the course's settings (:func:`load_settings`,
   ``gradetape.toml``), an exercise with its grader, variants and alternatives
   (:func:`load_exercise`), the nbgrader release, submitted notebooks read with limits;
2. **run** (:mod:`autograder.run`): each submission's cells and the hidden grader in a
   sandbox (bubblewrap or a plain subprocess, warm workers, Dask), through the job
   protocol of :mod:`autograder.runtime` (the code inside the sandbox);
3. **judge** (:mod:`autograder.judge`): answers compared with the answer key built from
   the reference solution, static checks, known misconceptions;
4. **gradebook** (the ``gradebook`` package): nbgrader's gradebook stores the
   :class:`SubmissionResult` of each submission; frames, policy, exports, report and
   feedback read it.

:mod:`autograder.pipeline` runs the stages for one submission (:func:`grade_submission`) or
an assignment's whole class (:func:`grade_assignment`). Beside the pipeline,
:mod:`autograder.review` checks work before and after grading (:func:`validate`, a
notebook's visible self-checks; :func:`audit_exercise`, a grader's mutation audit), and
:mod:`autograder.integrations` plugs GradeTape into nbgrader and Gradescope; the
``gradetape`` command is :mod:`autograder.cli`.

The names below are imported when first used (PEP 562), so ``import autograder`` stays
cheap: TensorFlow, pandas and nbgrader load only with the stage that needs them.

Example:
    >>> from pathlib import Path
    >>> import autograder
    >>> settings = autograder.load_settings(Path("."))
    >>> report = autograder.grade_assignment(settings, "01_tensors")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "load_settings": "autograder.settings",
    "CourseSettings": "autograder.settings",
    "load_exercise": "autograder.load.exercise",
    "grade_submission": "autograder.pipeline.submission",
    "grade_assignment": "autograder.pipeline.batch",
    "SubmissionResult": "autograder.results",
    "validate": "autograder.review.validate",
    "audit_exercise": "autograder.review.audit.run",
}
"""Public name -> the module that defines it (imported on first use)."""

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'autograder' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
