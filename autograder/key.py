"""The answer key: the reference solution run through the same grader with the same seed.

Keys are cached on the trusted side by a digest of everything that produced them (the
reference cells, the grader files, the runtime, the seed and how job seeds are derived
from it, the limits, the interpreter and numerical library versions), so a batch pays for
the reference run once and a changed grader, solution or Python is never graded with a stale key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .compare import judge_test
from .exercise import Exercise
from .fingerprint import environment_fingerprint
from .fresh import FRESH_FORMAT, FreshPlanError, fresh_plan, read_kept, run_graded
from .heldout import VERSION as HELDOUT_VERSION
from .heldout import labels_for
from .jobs import job_note
from .loader import CodeCell, prepare, question_points, read_notebook
from .sandbox.base import RUNTIME_DIR, Sandbox
from .seeds import DERIVATION as SEED_DERIVATION
from .values import JobOutput, TestRecord, read_job_output

KEY_FORMAT = "2"


class GraderError(Exception):
    """The reference solution or the grader is broken; grading cannot be trusted."""


@dataclass(frozen=True)
class AnswerKey:
    """The reference run's records, in test order, and the maximum per question."""

    exercise: str
    digest: str
    tests: dict[str, TestRecord]
    questions: dict[str, float]


def _digest(
    exercise: Exercise, sources: list[str], seed: int, select: Sequence[str] | None = None
) -> str:
    h = hashlib.sha256(
        f"gradetape-key/{KEY_FORMAT}/{FRESH_FORMAT}/{seed}/{SEED_DERIVATION}/{exercise.limits}/"
        f"{exercise.datasets}/{HELDOUT_VERSION}/{sorted(select) if select else None}/"
        f"{sorted((k, s.digest) for k, s in exercise.private_data.items())}/"
        f"{environment_fingerprint()}".encode()
    )
    for source in sources:
        h.update(b"\0cell\0" + source.encode())
    for path in exercise.grader_files() + sorted(RUNTIME_DIR.glob("*.py")):
        h.update(b"\0file\0" + path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:24]


def reference_cells(exercise: Exercise) -> list[CodeCell]:
    """The source notebook rebuilt on the release skeleton, exactly as a student's would be."""
    source = read_notebook(exercise.source_path)
    release = read_notebook(exercise.release_path)
    return list(prepare(source, release).cells)


def cached_run(
    exercise: Exercise,
    cells: list[CodeCell],
    seed: int,
    sandbox: Sandbox,
    folder: Path,
    check: Callable[[JobOutput, str], None] | None = None,
    select: Sequence[str] | None = None,
) -> tuple[str, JobOutput]:
    """Run trusted cells (a reference or a variant) once per digest; later calls read the cache.

    ``select`` runs only those tests (see :func:`autograder.jobs.write_job`). Exercises with
    fresh tests run two jobs (:func:`autograder.fresh.run_graded`); both outputs are kept.

    Returns:
        The digest and the (merged) output.

    Raises:
        GraderError: If the grader's ``fresh`` markers cannot be read.
    """
    try:
        digest = _digest(exercise, [c.source for c in cells], seed, select)
        fresh_plan(exercise)
    except FreshPlanError as exc:
        raise GraderError(f"{exercise.name}: {exc}") from None
    where = folder / digest
    limits = exercise.limits
    if not (where / "complete").is_file():
        # Build in a private folder and rename it into place: concurrent builders never
        # see a half-written key, and the first complete one wins.
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=folder))
        try:
            graded = run_graded(exercise, cells, seed, sandbox, keep=staging / "out", select=select)
            if check is not None:
                first = graded.first
                note = job_note(first, limits) or first.run.stderr_tail
                if graded.fresh is not None and not note:
                    note = job_note(graded.fresh, limits) or graded.fresh.run.stderr_tail
                check(graded.output, note)
            (staging / "complete").write_text(json.dumps({"exercise": exercise.name}))
            try:
                os.rename(staging, where)
            except OSError:
                pass  # another process finished the same run first
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    output = read_kept(
        where / "out",
        exercise,
        select,
        lambda out: read_job_output(str(out), limits.max_value_mb << 20, limits.max_total_mb << 20),
    )
    return digest, output


def build_key(exercise: Exercise, seed: int, sandbox: Sandbox, cache: Path) -> AnswerKey:
    """Return the answer key, from the cache when nothing that produced it has changed.

    Raises:
        GraderError: If the reference solution does not pass every test, or the question
            points in the notebook disagree with the hidden tests.
    """
    digest, output = cached_run(
        exercise,
        reference_cells(exercise),
        seed,
        sandbox,
        cache / "keys" / exercise.name,
        lambda out, note: _check_reference(exercise, out, note, seed),
    )
    _check_reference(exercise, output, "", seed)
    questions: dict[str, float] = {}
    for test in output.tests.values():
        questions[test.question] = questions.get(test.question, 0.0) + test.points
    notebook_points = question_points(nbformat.read(exercise.release_path, as_version=4))
    if notebook_points != questions:
        raise GraderError(
            f"{exercise.name}: question points in the notebook {notebook_points} differ from "
            f"the hidden tests' totals {questions}; make each question cell's points equal "
            "the sum of its tests' points markers"
        )
    return AnswerKey(exercise.name, digest, dict(output.tests), questions)


def _check_reference(exercise: Exercise, output: JobOutput, note: str, seed: int) -> None:
    problems = list(output.collect_errors)
    labels = labels_for(exercise.datasets, seed, exercise.private_data)
    if output.runtime_error:
        problems.append(output.runtime_error)
    for cell in output.cells:
        if not cell.ok:
            problems.append(f"reference cell {cell.index + 1} ({cell.cell_id}): {cell.error}")
    for test in output.tests.values():
        if test.outcome != "passed" or not test.values:
            problems.append(f"{test.test}: {test.message or 'recorded no value'}")
        if not test.question:
            problems.append(f"{test.test}: no question marker")
        for rec in test.values:
            if rec.tolerance.get("tensor") is True and not rec.value.tensor:
                problems.append(
                    f"{test.test}: `{rec.name}` is recorded with tensor=True but the reference's "
                    f"value is a {rec.value.kind}, not a tf.Tensor"
                )
            if rec.value.error:
                problems.append(
                    f"{test.test}: the value `{rec.name}` cannot be recorded ({rec.value.error});"
                    " record arrays, numbers, strings or None (flatten ragged lists)"
                )
        if test.outcome == "passed" and test.values:
            judged = judge_test(test, test, labels=labels)  # thresholds: the key must reach them
            if not judged.passed:
                problems.append(f"{test.test}: {judged.message}")
    if not output.tests:
        problems.append("the grader ran no test" + (f" ({note})" if note else ""))
    if problems:
        raise GraderError(
            f"the reference solution of {exercise.name} does not pass its grader:\n  "
            + "\n  ".join(p[-600:] for p in problems)
        )
