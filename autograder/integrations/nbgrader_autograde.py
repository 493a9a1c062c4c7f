"""GradeTape inside nbgrader: ``nbgrader autograde`` runs the hidden graders.

``nbgrader_config.py`` swaps nbgrader's ``Execute`` preprocessor for :class:`GradeTapeGrade`
and its late-penalty plugin for :class:`GradeTapeLatePenalty`, so the CLI and formgrader's
Autograde button grade through GradeTape: ONE grading path, one score.

How a score reaches nbgrader: nbgrader's sanitize step writes the submitted notebook,
cleaned and with locked cells restored, into ``autograded/``; :class:`GradeTapeGrade` then
grades the submission with the hidden graders and writes each question's result into its
grade cell's outputs (a stdout stream of student-safe verdicts, then an ``execute_result``
holding the points). nbgrader's own ``SaveAutoGrades`` reads them back with
``determine_grade`` (partial credit from the number) and ``AssignLatePenalties`` asks
:class:`GradeTapeLatePenalty`, which applies the course's ``[grading]`` policy. Manual
grades and comments are never touched, so they survive a regrade.

``gradetape grade`` (the fast parallel batch) calls :func:`write_autograded` per result:
the very same preprocessors, in the same order, on the same notebook, so both paths write
the same autograded notebook and the same gradebook rows.

Inside one ``nbgrader autograde`` process the answer key (cached on disk as always), the
variant runs and one warm sandbox are built once per assignment and reused for every
student (:func:`grading_context`); the sandbox closes when the process exits.

Imports of the grading engine are lazy: ``nbgrader_config.py`` names these classes by
string, and nbgrader commands that never autograde import none of this.
"""

from __future__ import annotations

import atexit
import fnmatch
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbgrader import utils as nbutils
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor

if TYPE_CHECKING:
    from autograder.judge.answer_key import AnswerKey
    from autograder.judge.misconceptions import VariantRun
    from autograder.load.exercise import Exercise
    from autograder.results import SubmissionResult
    from autograder.run.sandbox.base import Sandbox
    from autograder.settings import CourseSettings
    from gradebook.policy import GradingPolicy

log = logging.getLogger(__name__)

NBGRADER_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
"""nbgrader's default ``CourseDirectory.ignore``: files of a submission never copied."""

RESULT_KEY = "gradetape_result"
"""``resources`` key holding an already graded result (``gradetape grade`` passes one)."""

MAX_LINE = 300
"""Longest verdict line written into a grade cell (messages are already student-safe)."""


# --------------------------------------------------------------------------- grade cells


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def verdict_text(result: SubmissionResult, question: str) -> str:
    """The student-readable lines of one question: each hidden test's verdict and message.

    Messages come from the trusted judge and never hold an expected value or a stack
    trace; misconception hints are part of them.
    """
    from autograder.results import Status

    lines: list[str] = []
    if result.status is not Status.GRADED:
        lines.append(f"Not graded: {result.reason or result.status.value}")
    for test in (t for t in result.tests if t.question == question):
        name = test.test_id.split("::")[-1]
        mark = "✓" if test.passed else "✗"
        line = f"{mark} {name} ({_points(test.points)}/{_points(test.max_points)})"
        if test.message and not test.passed:
            line += f": {test.message}"
        lines.append(line[:MAX_LINE])
    if not lines:
        lines.append("no hidden test of this question was run")
    return "\n".join(lines) + "\n"


def fill_grade_cells(nb: nbformat.NotebookNode, result: SubmissionResult) -> nbformat.NotebookNode:
    """Write each question's hidden-test verdicts and points into its grade cell's outputs.

    nbgrader's ``determine_grade`` reads the points back from the ``execute_result``
    (partial credit); a question the result does not score gets 0 (an empty output would
    be full credit in nbgrader). Other cells are left as they are.

    Args:
        nb: The sanitized submitted notebook (modified in place).
        result: GradeTape's result for this notebook.

    Returns:
        ``nb``.
    """
    scores = {q.question: q.score for q in result.questions}
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbutils.is_grade(cell) or nbutils.is_solution(cell):
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        max_points = float(cell.metadata["nbgrader"].get("points", 0.0))
        score = min(max(float(scores.get(grade_id, 0.0)), 0.0), max_points)
        text = verdict_text(result, grade_id)
        cell.execution_count = None
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=text),
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": repr(score)}, execution_count=None
            ),
        ]
    return nb


# --------------------------------------------------------------------------- grading context


@dataclass
class GradingContext:
    """What grading one assignment needs, built once per process and assignment."""

    settings: CourseSettings
    exercise: Exercise
    key: AnswerKey
    release: nbformat.NotebookNode
    sandbox: Sandbox
    variants: Sequence[VariantRun]
    batch: str
    stamp: tuple[tuple[str, int, int], ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    def grade(self, student: str) -> SubmissionResult:
        """Grade ``submitted/<student>/<assignment>/`` (cached by content, like the batch).

        One student at a time: the context's sandbox has one warm worker.
        """
        from autograder.pipeline.submission import Submission
        from autograder.run.result_cache import ResultCache

        folder = self.settings.submitted_dir / student / self.exercise.name
        cache = ResultCache(self.settings.cache / "results" / self.exercise.name)
        with self.lock:
            return self._grade(Submission(student, folder), cache)

    def _grade(self, submission: Any, cache: Any) -> SubmissionResult:
        from autograder.pipeline.submission import grade_submission

        return grade_submission(
            self.exercise,
            self.key,
            self.release,
            submission,
            self.sandbox,
            self.settings.seed,
            cache,
            self.variants,
            self.batch,
        )

    def close(self) -> None:
        """Stop the warm sandbox."""
        self.sandbox.close()


_CONTEXTS: dict[tuple[str, str, str, str], GradingContext] = {}
_LOCK = threading.Lock()
_REGISTERED: list[bool] = []


def grading_context(root: Path, db_url: str, submitted: Path, assignment: str) -> GradingContext:
    """The process's grading context for ``assignment``, built on first use.

    One warm sandbox (one worker: nbgrader grades students one at a time) serves every
    student of this process; the key and the variant runs come from the on-disk cache
    when nothing they depend on changed.
    """
    ident = (str(root), db_url, str(submitted), assignment)
    stamp = _inputs_stamp(root, assignment)
    with _LOCK:
        ctx = _CONTEXTS.get(ident)
        if ctx is not None and ctx.stamp != stamp:
            # formgrader autogrades inside the long-lived Jupyter server: a changed grader,
            # release, solution or gradetape.toml must not be graded with a stale key
            del _CONTEXTS[ident]
            ctx.close()
            ctx = None
        if ctx is None:
            ctx = _build_context(root, db_url, submitted, assignment)
            ctx.stamp = stamp
            _CONTEXTS[ident] = ctx
            if not _REGISTERED:
                atexit.register(close_contexts)
                _REGISTERED.append(True)
        return ctx


def _inputs_stamp(root: Path, assignment: str) -> tuple[tuple[str, int, int], ...]:
    """Size and mtime of everything a context was built from (cheap to recheck per student)."""
    paths = [root / "gradetape.toml"]
    for folder in (
        root / "exercises" / assignment,
        root / "solutions" / assignment,
        root / "autograder" / "graders" / assignment,
    ):
        if folder.is_dir():
            paths += sorted(p for p in folder.rglob("*") if p.is_file())
    stamp = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        stamp.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(stamp)


def close_contexts() -> None:
    """Stop every context's sandbox (registered with ``atexit``)."""
    with _LOCK:
        contexts = list(_CONTEXTS.values())
        _CONTEXTS.clear()
    for ctx in contexts:
        try:
            ctx.close()
        except Exception as exc:  # noqa: BLE001 - shutting down: report and go on
            log.warning("could not stop a grading sandbox: %s", exc)


def _build_context(root: Path, db_url: str, submitted: Path, assignment: str) -> GradingContext:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from autograder.judge.answer_key import build_key
    from autograder.judge.misconceptions import build_variant_runs
    from autograder.load.exercise import load_exercise
    from autograder.load.notebook import read_notebook
    from autograder.pipeline.submission import batch_digest
    from autograder.run.sandbox import SandboxSpec, make_sandbox
    from autograder.settings import load_settings

    settings = load_settings(root, db_url=db_url, submitted=submitted)
    exercise = load_exercise(settings, assignment)
    box = make_sandbox(SandboxSpec.from_settings(settings, exercise.limits, workers=1))
    try:
        key = build_key(exercise, settings.seed, box, settings.cache)
        runs: Sequence[VariantRun] = []
        if settings.misconceptions:
            runs = build_variant_runs(exercise, key, settings.seed, box, settings.cache, 1)
    except BaseException:
        box.close()
        raise
    release = read_notebook(exercise.release_path)
    return GradingContext(
        settings, exercise, key, release, box, runs, batch_digest(exercise, key, runs)
    )


# --------------------------------------------------------------------------- preprocessors


def _course_paths(config: Any) -> tuple[Path, Path]:
    """The course root and the submitted folder from nbgrader's ``CourseDirectory`` config."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    root = Path(coursedir.root).resolve()
    return root, root / coursedir.submitted_directory


class GradeTapeGrade(NbGraderPreprocessor):
    """Replaces nbgrader's ``Execute``: the grade cells get GradeTape's hidden-test results.

    The student's notebook is never executed in nbgrader's kernel; GradeTape grades the
    submitted file in its sandbox and records its per-test rows, then this fills the
    grade cells (:func:`fill_grade_cells`) for ``SaveAutoGrades`` to store.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Grade (or take ``resources[RESULT_KEY]``), record GradeTape's rows, fill cells."""
        from gradebook import record

        info = resources["nbgrader"]
        result = resources.get(RESULT_KEY)
        if result is None:
            root, submitted = _course_paths(self.config)
            ctx = grading_context(root, info["db_url"], submitted, info["assignment"])
            if info["notebook"] != ctx.exercise.notebook_id:
                # empty grade cells would be full marks in nbgrader: refuse instead
                raise RuntimeError(
                    f"GradeTape grades {info['assignment']} as {ctx.exercise.notebook_id}.ipynb, "
                    f"not {info['notebook']}.ipynb; remove the other notebook from the "
                    "assignment (nbgrader db) or add it to the exercise"
                )
            result = ctx.grade(info["student"])
            record(info["db_url"], [result])
            self.log.info(
                "GradeTape: %s scored %s/%s (%s)",
                info["student"],
                _points(result.score),
                _points(result.max_score),
                result.status.value,
            )
        return fill_grade_cells(nb, result), resources


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
        root, _ = _course_paths(self.config)
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
        text += f" (with an extension of {_points(extension)} days)"
    text += f": {days} started day{'s' if days != 1 else ''} late"
    text += f", late penalty {_points(penalty)} points." if penalty > 0 else ", no penalty."
    return text


def feedback_summary(db_url: str, root: Path, student: str, assignment: str, notebook: str,
                     penalty: float) -> str:  # fmt: skip
    """The markdown opening a feedback page: status, lateness and cost, notes about the run.

    Only student-safe text: the rejection reason and the run's notices (as in the
    gradebook), never review flags, expected values or stack traces.
    """
    import json

    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import select

    from gradebook import tables
    from gradebook.policy import load_policy

    lines: list[str] = ["## Grading summary", ""]
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
            timestamp, duedate = sub.timestamp, sub.duedate
        except MissingEntry:
            timestamp = duedate = None
        tables.create_tables(gb.engine)
        t = tables.submission
        row = gb.db.execute(
            select(t.c.status, t.c.reason, t.c.notices).where(
                t.c.student == student, t.c.assignment == assignment, t.c.notebook == notebook
            )
        ).first()
    if row is not None:
        if row.status != "graded":
            lines.append(f"**Not graded ({row.status}):** {row.reason}")
            lines.append("")
        else:
            lines.append("Graded by the hidden tests; each test cell below shows their verdicts.")
            lines.append("")
    late = late_summary(load_policy(root), student, assignment, timestamp, duedate, penalty)
    if late:
        lines += [f"**Late:** {late}", ""]
    notices = json.loads(row.notices) if row is not None and row.notices else []
    if notices:
        lines.append("Notes about the run:")
        lines += [f"- {n}" for n in notices]
    return "\n".join(lines).strip() + "\n"


class GradeTapeFeedbackSummary(NbGraderPreprocessor):
    """Opens nbgrader's feedback page with GradeTape's summary (:func:`feedback_summary`).

    Runs in ``GenerateFeedback`` after ``GetGrades`` (which puts the late penalty into
    ``resources``); the autograded notebook itself is not changed.
    """

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        """Insert the summary as the first cell."""
        info = resources["nbgrader"]
        root, _ = _course_paths(self.config)
        text = feedback_summary(
            info["db_url"],
            root,
            info["student"],
            info["assignment"],
            info["notebook"],
            float(info.get("late_penalty") or 0.0),
        )
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
        return nb, resources


# --------------------------------------------------------------------------- gradetape grade


def autograde_pipeline(root: Path, config: Any = None) -> list[Any]:
    """Return nbgrader's sanitize + autograde preprocessors with GradeTape's swapped in, in order.

    The same list ``nbgrader_config.py`` gives ``Autograde`` (see
    :data:`AUTOGRADE_PREPROCESSORS`), instantiated on ``config`` for the course at ``root``
    (where the late policy's ``gradetape.toml`` is).
    """
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader import preprocessors as pp
    from traitlets.config import Config

    cfg = Config(config) if config is not None else Config()
    cfg.CourseDirectory.root = str(root)
    cfg.AssignLatePenalties.plugin_class = GradeTapeLatePenalty
    sanitize = [
        pp.ClearOutput,
        pp.DeduplicateIds,
        pp.OverwriteKernelspec,
        pp.OverwriteCells,
        pp.CheckCellMetadata,
    ]
    autograde = [
        GradeTapeGrade,
        pp.IgnorePattern,
        ClearMetadataPreprocessor,
        pp.LimitOutput,
        pp.SaveAutoGrades,
        pp.AssignLatePenalties,
        pp.CheckCellMetadata,
    ]
    return [cls(config=cfg) for cls in [*sanitize, *autograde]]


AUTOGRADE_PREPROCESSORS = [
    "autograder.integrations.nbgrader_autograde.GradeTapeGrade",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
"""What ``nbgrader_config.py`` sets as ``Autograde.autograde_preprocessors``."""


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


def late_policy_for(settings: CourseSettings) -> GradingPolicy:
    """The course's ``[grading]`` policy (a shortcut for callers holding settings)."""
    from gradebook.policy import load_policy

    return load_policy(settings.root)
