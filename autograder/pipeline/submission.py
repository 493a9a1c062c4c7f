"""Grade submissions: load, sandbox, compare with the key, assemble a SubmissionResult."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader.utils import parse_utc

from autograder.judge.answer_key import AnswerKey, GraderError
from autograder.judge.compare import judge_test
from autograder.judge.misconceptions import VariantRun, annotate
from autograder.judge.review_flags import review_flags
from autograder.judge.source_tree import parse_cells
from autograder.judge.static import run_static_checks
from autograder.load.exercise import Exercise
from autograder.load.heldout import labels_for
from autograder.load.notebook import (
    Prepared,
    Rejected,
    parse_notebook,
    prepare,
    read_notebook,
    read_notebook_bytes,
)
from autograder.load.readers import short_error
from autograder.results import QuestionResult, Status, SubmissionResult, TestResult
from autograder.run.fresh_process import fresh_plan, run_graded
from autograder.run.jobs import SandboxFailure, job_note
from autograder.run.result_cache import ResultCache, result_digest
from autograder.run.sandbox.base import Sandbox

MAX_NOTICES = 12
#: Sandbox failures in a row (no job succeeding in between) that stop a batch.
SANDBOX_STRIKES = 3
#: ``SubmissionResult.extra`` key marking a zero given because grading itself failed.
TRUSTED_ERROR = "trusted_error"

log = logging.getLogger(__name__)


class PlatformError(RuntimeError):
    """The grading machine keeps failing (not any one student): the batch stops."""


@dataclass(frozen=True)
class Submission:
    """One student's folder for one assignment (nbgrader's ``submitted`` layout)."""

    student: str
    folder: Path

    def notebook_path(self, exercise: Exercise) -> tuple[Path, str]:
        """The notebook to grade and a notice when it was found under another name."""
        expected = self.folder / exercise.notebook
        if expected.is_file():
            return expected, ""
        files = sorted(p for p in self.folder.iterdir() if p.is_file())
        # a notebook is any file ending in .ipynb, in any case (01_Tensors.IPYNB)
        others = [p for p in files if p.suffix.lower() == ".ipynb"]
        if len(others) == 1:
            return others[0], (
                f"the notebook was submitted as {others[0].name} instead of "
                f"{exercise.notebook}; it was graded anyway"
            )
        found = ", ".join(p.name for p in (others or files)[:10]) or "nothing"
        raise Rejected(
            f"no notebook named {exercise.notebook} in the submission (found: {found}); "
            f"submit the notebook as {exercise.notebook}"
        )

    def timestamp(self) -> datetime | None:
        """Nbgrader's ``timestamp.txt``, when present and readable."""
        try:
            return parse_utc((self.folder / "timestamp.txt").read_text()[:100].strip())
        except Exception:  # noqa: BLE001 - a bad timestamp is no timestamp
            return None


def find_submissions(submitted: Path, assignment: str) -> list[Submission]:
    """Every ``submitted/<student>/<assignment>/`` folder, sorted by student id."""
    if not submitted.is_dir():
        return []
    return [
        Submission(d.name, d / assignment)
        for d in sorted(submitted.iterdir())
        if (d / assignment).is_dir() and not d.name.startswith(".")
    ]


def zero_result(
    exercise: Exercise, key: AnswerKey, student: str, status: Status, reason: str
) -> SubmissionResult:
    """A submission that earns nothing (rejected or missing), with every question listed."""
    return SubmissionResult(
        student=student,
        assignment=exercise.name,
        notebook=exercise.notebook_id,
        status=status,
        reason=reason,
        questions=tuple(QuestionResult(q, 0.0, m) for q, m in key.questions.items()),
        tests=tuple(
            TestResult(t.test, t.question, t.points, 0.0, False, reason) for t in key.tests.values()
        ),
    )


def grade_prepared(
    exercise: Exercise,
    key: AnswerKey,
    prepared: Prepared,
    sandbox: Sandbox,
    seed: int,
    student: str,
    notices: Iterable[str] = (),
    variants: Sequence[VariantRun] = (),
) -> SubmissionResult:
    """Run a prepared notebook through the grader and compare with the key.

    Failed tests whose values reproduce a known-wrong variant's get that variant's text.
    """
    start = time.monotonic()
    # The grading job, then (when the grader has fresh tests) the fresh job on the files it
    # handed over; a job whose runtime never started is retried once (a worker problem).
    graded = run_graded(exercise, prepared.cells, seed, sandbox)
    result = replace(graded.first, output=graded.output)
    note = job_note(graded.first, exercise.limits)
    fresh_note = job_note(graded.fresh, exercise.limits) if graded.fresh is not None else ""
    fresh_tests = fresh_plan(exercise).tests
    labels = labels_for(exercise.datasets, seed, exercise.private_data)
    parsed = parse_cells(prepared.student_code)  # once: static checks and flags share it
    static = run_static_checks(exercise.static_checks, prepared.student_code, parsed=parsed)
    tests: list[TestResult] = []
    for test_id, want in key.tests.items():
        if test_id in static:
            tests.append(
                TestResult(test_id, want.question, want.points, 0.0, False, static[test_id])
            )
        else:
            why = f"the fresh-process job: {fresh_note}" if test_id in fresh_tests else note
            if test_id in fresh_tests and not fresh_note and note:
                why = note
            tests.append(judge_test(want, result.output.tests.get(test_id), why, labels))
    if variants:
        tests = annotate(tests, key.tests, result.output.tests, variants, frozenset(static), labels)
    totals = {q: 0.0 for q in key.questions}
    for t in tests:
        totals[t.question] = totals.get(t.question, 0.0) + t.points
    all_notices = [*notices, *prepared.notices]
    if note:
        all_notices.append(note)
    by_index = {c.index: c for c in prepared.cells}
    for cell in result.output.cells:
        if not cell.ok:
            where = by_index.get(cell.index)
            label = f"`{where.cell_id}`" if where and where.cell_id else f"{cell.index + 1}"
            all_notices.append(f"code cell {label} raised {cell.error}")
    flags = review_flags(prepared.student_code, parsed=parsed)
    if result.output.collect_errors:
        flags.append("the hidden grader could not be loaded in this run (check the notebook)")
    if result.output.problems:
        all_notices.append(
            "part of the grading job's output was malformed or over a limit and was ignored"
        )
        shown = "; ".join(short_error(p, 120) for p in result.output.problems[:3])
        more = len(result.output.problems) - 3
        flags.append(
            f"the job's output broke the readers' rules ({shown}"
            + (f"; and {more} more)" if more > 0 else ")")
        )
    all_notices = [short_error(n, 500) for n in all_notices]
    if len(all_notices) > MAX_NOTICES:
        all_notices = all_notices[:MAX_NOTICES] + [f"... and {len(all_notices) - MAX_NOTICES} more"]
    return SubmissionResult(
        student=student,
        assignment=exercise.name,
        notebook=exercise.notebook_id,
        status=Status.GRADED,
        questions=tuple(QuestionResult(q, totals[q], m) for q, m in key.questions.items()),
        tests=tuple(tests),
        notices=tuple(all_notices),
        flags=tuple(flags),
        isolation=result.run.isolation,
        duration_s=time.monotonic() - start,
        extra={"devices": ",".join(result.output.devices), "tf32": str(result.output.tf32)},
    )


def grade_submission(
    exercise: Exercise,
    key: AnswerKey,
    release: nbformat.NotebookNode,
    submission: Submission,
    sandbox: Sandbox,
    seed: int,
    cache: ResultCache | None = None,
    variants: Sequence[VariantRun] = (),
    batch: str = "",
    codes: dict[str, dict[str, str]] | None = None,
) -> SubmissionResult:
    """Grade one student's folder; never raises for anything in it.

    ``batch`` is :func:`batch_digest` when the caller computed it once for a whole batch.
    ``codes``, when given, receives the student's solution code (``student -> grade_id ->
    source``) once the notebook is parsed, so later reviews need not parse it again.
    Any exception while loading, reading the job's output, checking, judging or annotating
    becomes this submission's zero with a student-safe reason and a review flag; it is
    never cached, so a rerun grades it again. Only the instructor's problems propagate:
    :class:`~.key.GraderError` (a broken grader) and ``BaseException`` (an interrupt).
    """
    start = time.monotonic()
    try:
        return _grade_submission(
            exercise, key, release, submission, sandbox, seed, cache, variants, batch, codes
        )
    except GraderError:
        raise
    except SandboxFailure as exc:
        reason = (
            "the grading job could not be run because of a problem on the grading machine, "
            "not in your notebook; it scored zero for now and will be regraded"
        )
        result = failed_result(exercise, key, submission.student, reason, exc, "sandbox")
    except Exception as exc:  # noqa: BLE001 - one submission must never stop the batch
        reason = (
            "grading stopped on something unexpected in this notebook; it scored zero for now "
            "and an instructor will review it"
        )
        result = failed_result(exercise, key, submission.student, reason, exc, "trusted")
    return _with(result, time.monotonic() - start, submission.timestamp())


def failed_result(
    exercise: Exercise, key: AnswerKey, student: str, reason: str, exc: BaseException, kind: str
) -> SubmissionResult:
    """A zero for a submission whose grading raised, flagged for the instructor.

    The flag names the exception and where the trusted code raised it (never shown to
    the student); ``extra[TRUSTED_ERROR]`` keeps the result out of the cache.
    """
    log.warning("grading %s failed (%s)", student, kind, exc_info=exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    flag = (
        f"grading failed on this submission ({type(exc).__name__}{where}: "
        f"{short_error(exc, 300)}); it scored zero and was not cached; regrade it after a look"
    )
    result = zero_result(exercise, key, student, Status.REJECTED, reason)
    return replace(result, flags=(flag,), extra={TRUSTED_ERROR: kind})


def _grade_submission(
    exercise: Exercise,
    key: AnswerKey,
    release: nbformat.NotebookNode,
    submission: Submission,
    sandbox: Sandbox,
    seed: int,
    cache: ResultCache | None,
    variants: Sequence[VariantRun],
    batch: str,
    codes: dict[str, dict[str, str]] | None = None,
) -> SubmissionResult:
    start = time.monotonic()
    digest = ""
    try:
        path, notice = submission.notebook_path(exercise)
        data = read_notebook_bytes(path, follow_symlinks=False)
        if cache is not None:
            digest = result_digest(
                batch or batch_digest(exercise, key, variants),
                data,
                f"{submission.student}/{notice}",
            )
            hit = cache.get(digest)
            if hit is not None:
                extra = {**hit.extra, "cached": "yes"}
                return replace(hit, timestamp=submission.timestamp(), extra=extra)
        prepared = prepare(parse_notebook(data, path.name), release)
        if codes is not None:
            codes[submission.student] = prepared.student_code
    except (Rejected, OSError) as exc:
        reason = (
            str(exc) if isinstance(exc, Rejected) else f"the notebook could not be read ({exc})"
        )
        result = zero_result(exercise, key, submission.student, Status.REJECTED, reason)
        return _with(result, time.monotonic() - start, submission.timestamp())
    result = grade_prepared(
        exercise,
        key,
        prepared,
        sandbox,
        seed,
        submission.student,
        [notice] if notice else [],
        variants,
    )
    if cache is not None and digest and not _platform_failure(result):
        try:
            cache.put(digest, result)
        except OSError as exc:
            log.warning("could not cache the result of %s: %s", submission.student, exc)
    return _with(result, result.duration_s, submission.timestamp())


def batch_digest(exercise: Exercise, key: AnswerKey, variants: Sequence[VariantRun]) -> str:
    """What every result of a batch depends on besides the notebook: key, release, variants."""
    h = hashlib.sha256(f"{key.digest}/{len(variants)}".encode())
    h.update(hashlib.sha256(exercise.release_path.read_bytes()).digest())
    for path in sorted((exercise.grader_dir / "variants").glob("*.toml")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:32]


def _platform_failure(result: SubmissionResult) -> bool:
    """Whether grading failed or the job never started (not the student's): never cached."""
    return TRUSTED_ERROR in result.extra or any("could not start" in n for n in result.notices)


def _with(result: SubmissionResult, duration: float, ts: datetime | None) -> SubmissionResult:
    return replace(result, duration_s=duration, timestamp=ts)


def grade_all(
    exercise: Exercise,
    key: AnswerKey,
    submissions: list[Submission],
    sandbox: Sandbox,
    seed: int,
    workers: int,
    on_result: Callable[[SubmissionResult], None] | None = None,
    cache: ResultCache | None = None,
    variants: Sequence[VariantRun] = (),
    release: nbformat.NotebookNode | None = None,
    codes: dict[str, dict[str, str]] | None = None,
) -> list[SubmissionResult]:
    """Grade every submission, ``workers`` sandboxes at a time, in submission order.

    ``release`` is the parsed release notebook when the batch read it already (else it is
    read here, once); ``codes`` collects each parsed student's solution code (see
    :func:`grade_submission`).

    No submission stops the batch: each one's failure is its own zero (see
    :func:`grade_submission`). A result ``on_result`` cannot take (say, text the gradebook
    refuses) is replaced by a flagged zero; if that fails too, the gradebook is broken
    and the error propagates.

    Raises:
        autograder.judge.answer_key.GraderError: If the grader is broken.
        PlatformError: If the sandbox failed on :data:`SANDBOX_STRIKES` submissions in a
            row: the grading machine, not the students, is at fault.
    """
    if release is None:
        release = read_notebook(exercise.release_path)
    batch = batch_digest(exercise, key, variants) if cache is not None else ""
    lock = threading.Lock()
    strikes = [0]

    def one(sub: Submission) -> SubmissionResult:
        res = grade_submission(
            exercise, key, release, sub, sandbox, seed, cache, variants, batch, codes
        )
        with lock:
            if res.extra.get(TRUSTED_ERROR) == "sandbox":
                strikes[0] += 1
            elif res.status is Status.GRADED and "cached" not in res.extra:
                strikes[0] = 0  # a job ran: the sandbox works
            if strikes[0] >= SANDBOX_STRIKES:
                raise PlatformError(
                    f"the sandbox failed on {strikes[0]} submissions in a row (last: "
                    f"{sub.student}: {'; '.join(res.flags)}); check the grading machine and "
                    "grade again (nothing failed was cached)"
                )
        if on_result is not None:
            try:
                on_result(res)
            except Exception as exc:  # noqa: BLE001 - retried as a plain flagged zero
                reason = "the result could not be recorded; an instructor will review it"
                res = failed_result(exercise, key, sub.student, reason, exc, "record")
                on_result(res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures: list[Future[SubmissionResult]] = [pool.submit(one, s) for s in submissions]
        try:
            return [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
