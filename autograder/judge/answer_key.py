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

import numpy as np

from autograder.judge.compare import Tolerance, judge_test
from autograder.judge.fingerprint import environment_fingerprint
from autograder.load.exercise import Alternative, AlternativeError, Exercise
from autograder.load.heldout import VERSION as HELDOUT_VERSION
from autograder.load.heldout import labels_for
from autograder.load.notebook import CodeCell, prepare, question_points
from autograder.load.release import ExerciseNotebooks, with_cells
from autograder.run.fresh_process import (
    FRESH_FORMAT,
    FreshPlanError,
    fresh_plan,
    read_kept,
    run_graded,
)
from autograder.run.job_output import JobOutput, Recorded, TestRecord, read_job_output
from autograder.run.jobs import job_note
from autograder.run.sandbox.base import RUNTIME_DIR, Sandbox
from autograder.run.seeds import DERIVATION as SEED_DERIVATION

KEY_FORMAT = "2"
#: How many times the honest spread (reference vs. alternative solutions) a tolerance must allow.
SAFETY_FACTOR = 4.0


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


def reference_cells(
    exercise: Exercise, notebooks: ExerciseNotebooks | None = None
) -> list[CodeCell]:
    """The source notebook rebuilt on the release skeleton, exactly as a student's would be.

    ``notebooks`` are the exercise's notebooks when the caller read them already.
    """
    notebooks = notebooks or ExerciseNotebooks.read(exercise)
    return list(prepare(notebooks.solution, notebooks.release).cells)


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

    ``select`` runs only those tests (see :func:`autograder.run.jobs.write_job`). Exercises with
    fresh tests run two jobs (:func:`autograder.run.fresh_process.run_graded`); both outputs
    are kept.

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


def build_key(
    exercise: Exercise,
    seed: int,
    sandbox: Sandbox,
    cache: Path,
    notebooks: ExerciseNotebooks | None = None,
) -> AnswerKey:
    """Return the answer key, from the cache when nothing that produced it has changed.

    The declared alternative solutions (``alternatives/*.toml``) are run too (cached the
    same way) and every tolerance is checked against their spread (:func:`check_spread`).
    ``notebooks`` are the exercise's notebooks when the batch read them already (once).

    Raises:
        GraderError: If the reference solution does not pass every test, a tolerance is
            tighter than :data:`SAFETY_FACTOR` times the spread between the reference and an
            alternative solution, or the question points in the notebook disagree with the
            hidden tests.
    """
    notebooks = notebooks or ExerciseNotebooks.read(exercise)
    digest, output = cached_run(
        exercise,
        reference_cells(exercise, notebooks),
        seed,
        sandbox,
        cache / "keys" / exercise.name,
        lambda out, note: _check_reference(exercise, out, note, seed),
    )
    _check_reference(exercise, output, "", seed)
    alternatives = alternative_runs(exercise, output.tests, seed, sandbox, cache, notebooks)
    check_spread(exercise.name, output.tests, alternatives)
    questions: dict[str, float] = {}
    for test in output.tests.values():
        questions[test.question] = questions.get(test.question, 0.0) + test.points
    notebook_points = question_points(notebooks.release)
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


def alternative_runs(
    exercise: Exercise,
    reference: dict[str, TestRecord],
    seed: int,
    sandbox: Sandbox,
    cache: Path,
    notebooks: ExerciseNotebooks | None = None,
) -> dict[str, dict[str, TestRecord]]:
    """Run every declared alternative solution through the grader with the key's seed.

    Heavy (``gpu``) tests are left out: their values (trained weights, accuracies) are
    judged by thresholds or loose tolerances, and the conformance battery grades each
    alternative in full. Runs are cached by digest like the key's.

    Returns:
        Alternative name -> its test records.

    Raises:
        GraderError: If an alternative's file is malformed or replaces cells that do not exist.
    """
    try:
        found = exercise.alternatives()
    except AlternativeError as exc:
        raise GraderError(f"{exercise.name}: {exc}") from None
    if not found:
        return {}
    notebooks = notebooks or ExerciseNotebooks.read(exercise)
    chosen = [t for t, rec in reference.items() if not rec.gpu]
    select = None if len(chosen) == len(reference) else chosen
    runs: dict[str, dict[str, TestRecord]] = {}
    for alternative in found:
        cells = _alternative_cells(exercise, alternative, notebooks)
        folder = cache / "alternatives" / exercise.name / alternative.name
        _, output = cached_run(exercise, cells, seed, sandbox, folder, select=select)
        runs[alternative.name] = dict(output.tests)
    return runs


def _alternative_cells(
    exercise: Exercise, alternative: Alternative, notebooks: ExerciseNotebooks
) -> list[CodeCell]:
    try:
        notebook = with_cells(notebooks.reference(), alternative.cells)
    except KeyError as exc:
        raise GraderError(
            f"{exercise.name}: alternative `{alternative.name}` replaces cells the notebook "
            f"does not have: {exc}"
        ) from None
    return list(prepare(notebook, notebooks.release).cells)


def check_spread(
    exercise: str,
    reference: dict[str, TestRecord],
    alternatives: dict[str, dict[str, TestRecord]],
    factor: float = SAFETY_FACTOR,
) -> None:
    """Refuse tolerances that honest rounding can fail.

    For every float value the reference recorded with a tolerance (not exact, not an
    accuracy), each alternative's value must differ from it by at most ``1/factor`` of the
    allowed ``atol + rtol * |key|``, element by element. An alternative that fails a test
    outright (an error, a missing value, another shape or dtype) refuses the key too: it is
    declared correct.

    Raises:
        GraderError: Naming the test, the value, the alternative, the tolerance and the
            measured spread, for every problem found.
    """
    problems: list[str] = []
    for name, tests in sorted(alternatives.items()):
        for test_id, want in reference.items():
            got = tests.get(test_id)
            if got is None:
                continue  # not run (a heavy test)
            if got.outcome != "passed":
                problems.append(f"{test_id}: alternative `{name}` fails: {got.message[-300:]}")
                continue
            theirs = {r.name: r for r in got.values}
            for rec in want.values:
                problem = _spread_problem(rec, theirs.get(rec.name), factor)
                if problem:
                    problems.append(f"{test_id}: `{rec.name}`, alternative `{name}`: {problem}")
    if problems:
        raise GraderError(
            f"{exercise}: a declared alternative solution is not graded as correct with a "
            f"safety factor of {factor:g} (tolerance >= {factor:g} x honest spread):\n  "
            + "\n  ".join(problems)
        )


def _spread_problem(want: Recorded, got: Recorded | None, factor: float) -> str:
    """Why an alternative's value is not safely within the reference's tolerance ("" if it is)."""
    tol = Tolerance.from_record(want.tolerance)
    key = want.value.array
    if tol.labels or key is None or want.value.text is not None:
        return ""  # accuracies are judged by threshold; text and None exactly
    exact = tol.exact if tol.exact is not None else key.dtype.kind in "biu"
    if exact or key.dtype.kind not in "fc":
        return ""
    mine = got.value.array if got is not None else None
    if got is None or mine is None:
        return "no numeric value was recorded"
    if mine.shape != key.shape or (tol.check_dtype and mine.dtype != key.dtype):
        return f"has shape {mine.shape} and dtype {mine.dtype}, the key {key.shape} {key.dtype}"
    ref = key.astype(np.complex128 if "c" in (key.dtype.kind, mine.dtype.kind) else np.float64)
    alt = mine.astype(ref.dtype)
    same = (ref == alt) | (np.isnan(ref) & np.isnan(alt))
    if not np.isfinite(alt[~same]).all() or not np.isfinite(ref[~same]).all():
        return "differs in a NaN or an infinity"
    spread = np.where(same, 0.0, np.abs(alt - ref))
    allowed = tol.atol + tol.rtol * np.abs(ref)
    if spread.size == 0:
        return ""
    worst = int(np.argmax(factor * spread - allowed))
    if factor * spread.flat[worst] <= allowed.flat[worst]:
        return ""
    return (
        f"the tolerance atol={tol.atol:g} + rtol={tol.rtol:g} x |key| allows "
        f"{allowed.flat[worst]:.3g} at element {worst}, where the alternative differs from "
        f"the reference by {spread.flat[worst]:.3g}; it must allow at least {factor:g} x that "
        f"({factor * spread.flat[worst]:.3g}): loosen rtol/atol (derive atol from the terms' "
        "magnitude where the value is a cancelling sum)"
    )
