"""nbgrader's Validate (`nbgrader validate`, the Validate button) with GradeTape's report.

nbgrader has no setting for the validator's class: :class:`nbgrader.apps.validateapp.ValidateApp`
and the Validate button's server handler
(``nbgrader/server_extensions/validate_assignment/handlers.py``) both call
``nbgrader.validator.Validator`` by name, and ``Validator.preprocessors`` is not a
configurable trait. So ``nbgrader_config.py`` (read by both, the handler on every click)
calls :func:`use_gradetape_validator`, which binds those two names to
:class:`GradeTapeValidator`.

:class:`GradeTapeValidator` runs :func:`autograder.review.validate.validate` on the notebook alone
(no course folder needed) and hands its per-question report back in the shape nbgrader's
front end shows: nothing when every self-check passed ("Success!"), otherwise one "failed"
entry per question that did not pass (the self-check's source, then its status and hint),
then one with the notes (edited locked cells, errors of other cells).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbgrader.validator import Validator

if TYPE_CHECKING:
    from autograder.review.validate import ValidationReport

log = logging.getLogger(__name__)

#: The modules whose ``Validator`` name :func:`use_gradetape_validator` rebinds.
NBGRADER_USERS = (
    "nbgrader.apps.validateapp",
    "nbgrader.server_extensions.validate_assignment.handlers",
)


def nbgrader_results(report: ValidationReport, sources: dict[str, str]) -> dict[str, Any]:
    """The report in the shape of ``Validator.validate``'s result.

    Args:
        report: What :func:`autograder.review.validate.validate` found.
        sources: ``grade_id`` -> source of the notebook's self-check cells.

    Returns:
        ``{}`` when every self-check passed and there is nothing to note; ``{"changed": [...]}``
        when all passed but locked cells were edited; else ``{"failed": [...]}``, each entry
        with ``source``, ``error`` (HTML) and ``raw_error`` (text).
    """
    if report.rejected is not None:
        return {"failed": [_entry(report.path.name, f"cannot be graded: {report.rejected}")]}
    failed = []
    for q in report.questions:
        if q.status.value == "passed":
            continue
        head = f"{q.mark} question `{q.question}` ({q.points:g} points): {q.status.value}"
        text = q.detail or q.status.value
        failed.append(_entry(f"{head}\n\n{sources.get(q.question, '').strip()}".strip(), text))
    notes = [*report.notices, *report.cell_errors, *([report.run_note] if report.run_note else [])]
    if failed:
        passed = sum(q.status.value == "passed" for q in report.questions)
        summary = f"Self-checks: {passed} of {len(report.questions)} passed."
        if notes:
            summary += "\n" + "\n".join(f"- {n}" for n in notes)
        failed.append(_entry("Summary (GradeTape)", summary))
        return {"failed": failed}
    if notes:
        return {"changed": [{"source": note} for note in notes]}
    return {}


def _entry(source: str, text: str) -> dict[str, str]:
    return {"source": source, "error": html.escape(text), "raw_error": text}


def _self_check_sources(path: Path) -> dict[str, str]:
    """``grade_id`` -> source of every cell of the notebook (empty when it cannot be read)."""
    from autograder.load.notebook import Rejected, grade_id, read_notebook

    try:
        notebook = read_notebook(path)
    except Rejected:
        return {}
    return {grade_id(c): str(c.get("source", "")) for c in notebook.cells if grade_id(c)}


class GradeTapeValidator(Validator):
    """nbgrader's Validator, answering with GradeTape's per-question self-check report."""

    def check(self, filename: str) -> ValidationReport:
        """Run the notebook's visible self-checks (on the notebook alone)."""
        from autograder.run.sandbox.factory import SandboxSpec, make_sandbox

        self.log.info("GradeTape: validating %s", Path(filename).resolve())
        # TensorFlow imports while the notebook is read
        with make_sandbox(SandboxSpec(early=True, warn_weak=False)) as early:
            from autograder.review.validate import validate

            return validate(Path(filename), sandbox=early)

    def validate(self, filename: str) -> dict[str, Any]:
        """The per-question report in nbgrader's result shape (see :func:`nbgrader_results`)."""
        report = self.check(filename)
        return nbgrader_results(report, _self_check_sources(Path(filename)))

    def validate_and_print(self, filename: str) -> None:
        """``nbgrader validate``: print the per-question report."""
        print(self.check(filename).format())


def use_gradetape_validator() -> bool:
    """Make ``nbgrader validate`` and the Validate button use :class:`GradeTapeValidator`.

    Called from ``nbgrader_config.py``; never raises (nbgrader's own Validator then stays).

    Returns:
        Whether both of nbgrader's users of ``Validator`` now use GradeTape's.
    """
    import importlib

    done = 0
    for name in NBGRADER_USERS:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a config file must not break nbgrader
            log.warning("GradeTape validator not installed in %s (%s)", name, exc)
            continue
        if getattr(module, "Validator", None) is not None:
            module.Validator = GradeTapeValidator  # type: ignore[attr-defined]
            done += 1
    return done == len(NBGRADER_USERS)
