"""The grading context of ``nbgrader autograde``: key, variants and sandbox, built once.

Inside one ``nbgrader autograde`` process (or formgrader's long-lived Jupyter server) the
answer key (cached on disk as always), the variant runs and one warm sandbox are built once
per assignment and reused for every student (:func:`grading_context`); a changed grader,
release, solution or ``gradetape.toml`` rebuilds them, and the sandbox closes when the
process exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat

    from autograder.judge.answer_key import AnswerKey
    from autograder.judge.misconceptions import VariantRun
    from autograder.load.exercise import Exercise
    from autograder.results import SubmissionResult
    from autograder.run.sandbox.base import Sandbox
    from autograder.settings import CourseSettings

log = logging.getLogger(__name__)


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
    from autograder.load.release import ExerciseNotebooks
    from autograder.pipeline.submission import batch_digest
    from autograder.run.sandbox import SandboxSpec, make_sandbox
    from autograder.settings import load_settings

    settings = load_settings(root, db_url=db_url, submitted=submitted)
    exercise = load_exercise(settings, assignment)
    notebooks = ExerciseNotebooks.read(exercise)  # once for the key, variants and students
    box = make_sandbox(SandboxSpec.from_settings(settings, exercise.limits, workers=1))
    try:
        key = build_key(exercise, settings.seed, box, settings.cache, notebooks)
        runs: Sequence[VariantRun] = []
        if settings.misconceptions:
            runs = build_variant_runs(
                exercise, key, settings.seed, box, settings.cache, 1, notebooks
            )
    except BaseException:
        box.close()
        raise
    return GradingContext(
        settings, exercise, key, notebooks.release, box, runs, batch_digest(exercise, key, runs)
    )


def course_paths(config: Any) -> tuple[Path, Path]:
    """The course root and the submitted folder from nbgrader's ``CourseDirectory`` config."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    root = Path(coursedir.root).resolve()
    return root, root / coursedir.submitted_directory
