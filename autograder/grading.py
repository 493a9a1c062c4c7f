"""Grade submissions: load, sandbox, compare with the key, assemble a SubmissionResult."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader.utils import parse_utc

from .compare import judge_test
from .exercise import Exercise
from .heldout import labels_for
from .jobs import job_note, run_job
from .key import AnswerKey
from .loader import Prepared, Rejected, prepare, read_notebook
from .misconceptions import VariantRun, annotate
from .result_cache import ResultCache, result_digest
from .results import QuestionResult, Status, SubmissionResult, TestResult
from .sandbox.base import Sandbox
from .static import review_flags, run_static_checks

MAX_NOTICES = 12


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
        others = sorted(p for p in self.folder.glob("*.ipynb") if p.is_file())
        if len(others) == 1:
            return others[0], (
                f"the notebook was submitted as {others[0].name} instead of "
                f"{exercise.notebook}; it was graded anyway"
            )
        found = ", ".join(p.name for p in others) or "no notebook"
        raise Rejected(f"no notebook named {exercise.notebook} in the submission (found: {found})")

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
    result = run_job(exercise, prepared.cells, seed, sandbox)
    if "ready" not in result.output.events and not result.run.timed_out:
        # The runtime never started: a worker problem, not the student's. Try once more.
        result = run_job(exercise, prepared.cells, seed, sandbox)
    note = job_note(result, exercise.limits)
    labels = labels_for(exercise.datasets, seed, exercise.private_data)
    static = run_static_checks(exercise.static_checks, prepared.student_code)
    tests: list[TestResult] = []
    for test_id, want in key.tests.items():
        if test_id in static:
            tests.append(
                TestResult(test_id, want.question, want.points, 0.0, False, static[test_id])
            )
        else:
            tests.append(judge_test(want, result.output.tests.get(test_id), note, labels))
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
    flags = review_flags(prepared.student_code)
    if result.output.collect_errors:
        flags.append("the hidden grader could not be loaded in this run (check the notebook)")
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
) -> SubmissionResult:
    """Grade one student's folder; never raises for anything in it.

    ``batch`` is :func:`batch_digest` when the caller computed it once for a whole batch.
    """
    start = time.monotonic()
    digest = ""
    try:
        path, notice = submission.notebook_path(exercise)
        if cache is not None:
            digest = result_digest(
                batch or batch_digest(exercise, key, variants),
                path.read_bytes(),
                f"{submission.student}/{notice}",
            )
            hit = cache.get(digest)
            if hit is not None:
                extra = {**hit.extra, "cached": "yes"}
                return replace(hit, timestamp=submission.timestamp(), extra=extra)
        prepared = prepare(read_notebook(path), release)
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
        cache.put(digest, result)
    return _with(result, result.duration_s, submission.timestamp())


def batch_digest(exercise: Exercise, key: AnswerKey, variants: Sequence[VariantRun]) -> str:
    """What every result of a batch depends on besides the notebook: key, release, variants."""
    h = hashlib.sha256(f"{key.digest}/{len(variants)}".encode())
    h.update(hashlib.sha256(exercise.release_path.read_bytes()).digest())
    for path in sorted((exercise.grader_dir / "variants").glob("*.toml")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:32]


def _platform_failure(result: SubmissionResult) -> bool:
    """Whether the job never started (a worker problem, not the student's): never cached."""
    return any("could not start" in n for n in result.notices)


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
) -> list[SubmissionResult]:
    """Grade every submission, ``workers`` sandboxes at a time, in submission order."""
    release = read_notebook(exercise.release_path)
    batch = batch_digest(exercise, key, variants) if cache is not None else ""

    def one(sub: Submission) -> SubmissionResult:
        res = grade_submission(exercise, key, release, sub, sandbox, seed, cache, variants, batch)
        if on_result is not None:
            on_result(res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, submissions))
