"""Course-level operations the CLI delegates to: grade an assignment into the gradebook."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from nbformat import NotebookNode

from autograder.judge.answer_key import AnswerKey, build_key
from autograder.judge.misconceptions import build_variant_runs
from autograder.load.exercise import Exercise, load_exercise
from autograder.load.notebook import Rejected, prepare, read_notebook
from autograder.load.release import ExerciseNotebooks
from autograder.pipeline.autograded import autograde_pipeline, write_autograded
from autograder.pipeline.submission import Submission, find_submissions, grade_all
from autograder.results import SubmissionResult
from autograder.review.similarity import SimilarPair, own_code, similar_pairs
from autograder.run.result_cache import ResultCache
from autograder.run.sandbox import Needs, Sandbox, SandboxSpec, make_sandbox
from autograder.settings import CourseSettings, SimilaritySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchReport:
    """The outcome of grading one assignment for a class."""

    exercise: Exercise
    key: AnswerKey
    results: list[SubmissionResult]
    isolation: str


def grade_assignment(
    settings: CourseSettings,
    assignment: str,
    sandbox: Sandbox | None = None,
    on_result: Callable[[SubmissionResult], None] | None = None,
    record: bool = True,
    force: bool = False,
    on_stage: Callable[[str, int | None, int], None] | None = None,
) -> BatchReport:
    """Grade every submission of ``assignment`` and record the scores in the gradebook.

    ``on_stage(name, count, workers)`` is told when each stage begins (``"connect"``,
    ``"key"``, ``"variants"``, ``"grading"``; see :mod:`autograder.cli.progress`) with how many
    items it has (``None``: unknown) and how many jobs run at once, for a progress display.

    The sandbox is built from the course's settings (``SandboxSpec.from_settings``, on its
    Dask cluster when it has one) and closed at the end, unless ``sandbox`` is given: that
    one is the caller's to close, and its capabilities say how many jobs run at once.

    Raises:
        FileNotFoundError: If the exercise does not exist.
        autograder.judge.answer_key.GraderError: If the reference solution fails its own grader.
    """
    from gradebook import Recorder, ensure_assignment

    stage = on_stage or (lambda name, count, workers: None)
    exercise = load_exercise(settings, assignment)
    spec = SandboxSpec.from_settings(settings, exercise.limits, cluster=True)
    if sandbox is None and spec.scheduler:
        stage("connect", None, spec.workers)
    with ExitStack() as owned:
        box = sandbox or owned.enter_context(make_sandbox(spec))
        # Read and parsed once for the whole batch (while a warm pool imports TensorFlow):
        # the key, the variants and every submission are built on these; each student's
        # solution code is kept for the similarity review.
        notebooks = ExerciseNotebooks.read(exercise)
        codes: dict[str, dict[str, str]] = {}
        workers = box.capabilities.workers
        stage("key", None, workers)
        key = build_key(exercise, settings.seed, box, settings.cache, notebooks)
        box = box.routed(Needs(gpu=any(t.gpu for t in key.tests.values())))
        submissions = find_submissions(settings.submitted_dir, assignment)
        runs = []
        if settings.misconceptions:
            stage("variants", len(exercise.variants()), workers)
            runs = build_variant_runs(
                exercise, key, settings.seed, box, settings.cache, workers, notebooks
            )
        cache = None if force else ResultCache(settings.cache / "results" / assignment)
        if record:
            ensure_assignment(settings.database, assignment, exercise.notebook_id, key.questions)
        lock = threading.Lock()
        stage("grading", len(submissions), workers)
        pipeline = autograde_pipeline(settings.root) if record else []
        # One session for the batch's writes, closed with the sandbox.
        recorder = owned.enter_context(Recorder(settings.database)) if record else None

        def done(result: SubmissionResult) -> None:
            # Record each submission as soon as it is graded (one transaction each, on the
            # batch's one session), so a grader killed mid-batch loses nothing already
            # graded; the coordinator's lock keeps it the single writer. nbgrader's
            # autograded notebook (and its grade cells, late penalty, auto comments) are
            # written as `nbgrader autograde` would.
            with lock:
                if recorder is not None:
                    recorder.write(result)
                    folder = settings.submitted_dir / result.student / assignment
                    write_autograded(settings, result, folder, pipeline=pipeline)
                if on_result is not None:
                    on_result(result)

        results = grade_all(
            exercise,
            key,
            submissions,
            box,
            settings.seed,
            workers,
            done,
            cache,
            runs,
            notebooks.release,
            codes,
        )
    if record:
        from gradebook.similarity import record_similarity

        record_similarity(
            settings.database,
            assignment,
            review_similarity(exercise, submissions, settings.similarity, notebooks.release, codes),
        )
    return BatchReport(exercise, key, results, box.name)


def review_similarity(
    exercise: Exercise,
    submissions: list[Submission],
    options: SimilaritySettings | None = None,
    release: NotebookNode | None = None,
    parsed: Mapping[str, dict[str, str]] | None = None,
) -> list[SimilarPair]:
    """Flag pairs of students whose solution cells are suspiciously alike (no score change).

    Cells identical to the release's are left out of each student's code, and code shorter
    than ``options.min_tokens`` is not compared (see :mod:`autograder.review.similarity`).
    ``release`` is the parsed release and ``parsed`` the solution code of the students
    whose notebooks grading parsed already (the others, graded from the result cache,
    are read here).
    """
    options = options or SimilaritySettings()
    release = release if release is not None else read_notebook(exercise.release_path)
    parsed = parsed or {}
    given = prepare(release, release).student_code
    boilerplate = "\n\n".join(given.values())
    codes: dict[str, str] = {}
    for sub in submissions:
        try:
            code = parsed.get(sub.student)
            if code is None:
                path, _ = sub.notebook_path(exercise)
                code = prepare(read_notebook(path, follow_symlinks=False), release).student_code
        except Rejected:
            continue
        except Exception as exc:  # noqa: BLE001 - a review aid never stops a batch
            log.warning("similarity: skipped %s (%s: %s)", sub.student, type(exc).__name__, exc)
            continue
        codes[sub.student] = own_code(code, given)
    try:
        return similar_pairs(codes, boilerplate, options.threshold, options.min_tokens)
    except Exception as exc:  # noqa: BLE001 - a review aid never stops a batch
        log.warning("similarity review failed (%s: %s); no pairs recorded", type(exc).__name__, exc)
        return []
