"""nbgrader's autograded notebook of a result: ``gradetape grade`` writes what nbgrader would.

nbgrader runs GradeTape's hidden graders through ``nbgrader_config.py``, which names the
steps of :mod:`autograder.nbgrader_steps`:
:mod:`autograder.integrations.nbgrader_grade` replaces nbgrader's ``Execute`` (the grade
cells get GradeTape's results, in one grading context per assignment),
:mod:`autograder.integrations.nbgrader_late` is the late-penalty plug-in and
:mod:`autograder.integrations.nbgrader_feedback` opens the feedback pages. So the CLI and
formgrader's Autograde button grade through GradeTape: ONE grading path, one score.

``gradetape grade`` (the fast parallel batch) calls :func:`write_autograded` per result:
the very same preprocessors (:func:`autograde_pipeline`), in the same order, on the same
notebook, so both paths write the same autograded notebook and the same gradebook rows.
"""

from __future__ import annotations

import fnmatch
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from autograder.nbgrader_steps import (
    AUTOGRADE_PREPROCESSORS,
    LATE_PENALTY_PLUGIN,
    SANITIZE_PREPROCESSORS,
)

if TYPE_CHECKING:
    from autograder.results import SubmissionResult
    from autograder.settings import CourseSettings

log = logging.getLogger(__name__)

RESULT_KEY = "gradetape_result"
"""``resources`` key holding an already graded result (``gradetape grade`` passes one)."""

NBGRADER_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
"""nbgrader's default ``CourseDirectory.ignore``: files of a submission never copied."""


def autograde_pipeline(root: Path, config: Any = None) -> list[Any]:
    """Return nbgrader's sanitize + autograde preprocessors with GradeTape's swapped in, in order.

    The lists ``nbgrader_config.py`` gives nbgrader (:data:`SANITIZE_PREPROCESSORS`, then
    :data:`AUTOGRADE_PREPROCESSORS`, with :data:`LATE_PENALTY_PLUGIN`), instantiated on
    ``config`` for the course at ``root`` (where the late policy's ``gradetape.toml`` is).
    """
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item

    cfg = Config(config) if config is not None else Config()
    cfg.CourseDirectory.root = str(root)
    cfg.AssignLatePenalties.plugin_class = import_item(LATE_PENALTY_PLUGIN)
    steps = [import_item(name) for name in (*SANITIZE_PREPROCESSORS, *AUTOGRADE_PREPROCESSORS)]
    return [cls(config=cfg) for cls in steps]


def autograded_dir(settings: CourseSettings) -> Path:
    """Return nbgrader's ``autograded/`` folder, next to the ``submitted/`` folder being graded."""
    return settings.submitted_dir.parent / "autograded"


def write_autograded(
    settings: CourseSettings,
    result: SubmissionResult,
    folder: Path,
    ignore: Sequence[str] = NBGRADER_IGNORE,
    pipeline: list[Any] | None = None,
) -> Path | None:
    """Write nbgrader's ``autograded/<student>/<assignment>/<notebook>.ipynb`` for a result.

    Runs nbgrader's sanitize and autograde preprocessors (with :class:`GradeTapeGrade`
    taking ``result`` instead of grading again) and copies the submission's other files
    (``timestamp.txt``, ``submission_secret.txt``, ...), as ``nbgrader autograde`` does.
    A notebook GradeTape's guarded reader refuses (malformed, oversized, too deep, a link)
    gets no autograded folder (nbgrader removes a failed one too); its zero is in the
    gradebook already. Like ``nbgrader autograde``, this needs the gradebook that
    ``nbgrader generate_assignment`` (``gradetape release``) filled: ``OverwriteCells``
    restores locked cells from it; without one nothing is written and a note is logged.

    Args:
        settings: The course (root, gradebook URL).
        result: The recorded result of this submission.
        folder: ``submitted/<student>/<assignment>/``.
        ignore: nbgrader's ``CourseDirectory.ignore`` patterns (files not copied).
        pipeline: :func:`autograde_pipeline`'s preprocessors, to reuse across a batch.

    Returns:
        The notebook written, or None.
    """
    dest = autograded_dir(settings) / result.student / result.assignment
    from autograder.load.notebook import parse_notebook, read_notebook_bytes

    source = folder / f"{result.notebook}.ipynb"
    try:
        # through GradeTape's guarded reader (size, depth, no symlink): student files are hostile
        nb = parse_notebook(read_notebook_bytes(source, follow_symlinks=False), source.name)
        resources: dict[str, Any] = {
            "nbgrader": {
                "student": result.student,
                "assignment": result.assignment,
                "notebook": result.notebook,
                "db_url": settings.database,
            },
            RESULT_KEY: result,
        }
        for step in pipeline or autograde_pipeline(settings.root):
            nb, resources = step(nb, resources)  # skips a disabled one, as nbconvert does
    except Exception as exc:  # noqa: BLE001 - like nbgrader: no autograded copy of it
        log.info("no autograded notebook for %s: %s", result.student, exc)
        shutil.rmtree(dest, ignore_errors=True)
        return None
    try:
        return _write_folder(nb, folder, dest, result.notebook, ignore)
    except OSError as exc:  # the score is recorded already; only the copy is missing
        log.warning("could not write the autograded notebook of %s: %s", result.student, exc)
        shutil.rmtree(dest, ignore_errors=True)
        return None


def _write_folder(
    nb: nbformat.NotebookNode, folder: Path, dest: Path, notebook: str, ignore: Sequence[str]
) -> Path:
    """Write ``dest/<notebook>.ipynb`` and copy the submission's other regular files."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        if (
            path.suffix == ".ipynb"
            or path.is_symlink()
            or not path.is_file()
            or any(fnmatch.fnmatch(path.name, pat) for pat in ignore)
        ):
            continue
        shutil.copyfile(path, dest / path.name)
    out = dest / f"{notebook}.ipynb"
    nbformat.write(nb, out)
    return out
