"""Name the mistake: match a failed test's values with those of the known-wrong variants.

Each variant is run through the grader with the batch's seed, like the reference (and
cached the same way). When a student fails a test, their recorded values are compared with
each variant's values for that test under the test's tolerance; a variant that fails the
test and whose values the student reproduced explains the failure. The feedback then names
the misconception and the lecture topic, never the expected value.

Whether a variant fails a test depends on the key and the batch's seed only, so it is
judged once per batch, when the variant runs are built (:attr:`VariantRun.fails`), not
once per student.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from autograder.judge.answer_key import AnswerKey, cached_run
from autograder.judge.compare import Tolerance, compare_value, judge_test
from autograder.judge.static import run_static_checks
from autograder.load.exercise import Exercise, Variant
from autograder.load.heldout import labels_for
from autograder.load.notebook import prepare
from autograder.load.release import ExerciseNotebooks
from autograder.results import TestResult
from autograder.run.job_output import TestRecord
from autograder.run.sandbox.base import Sandbox


@dataclass(frozen=True)
class VariantRun:
    """A known-wrong variant: its values per test and the tests its source fails statically.

    Attributes:
        variant: The variant.
        tests: Its recorded values per test.
        static: The tests its source fails statically.
        fails: The tests it is aimed at (``loses``) that its values fail against the key,
            judged once (:func:`judge_variants`); ``None`` when not judged yet, then
            :func:`candidates` judges them on each use.
    """

    variant: Variant
    tests: dict[str, TestRecord]
    static: frozenset[str] = frozenset()
    fails: frozenset[str] | None = None


def judge_variants(
    runs: Sequence[VariantRun],
    key_tests: Mapping[str, TestRecord],
    labels: Mapping[str, np.ndarray] | None = None,
) -> list[VariantRun]:
    """``runs`` with :attr:`VariantRun.fails` judged against the key, once for the batch.

    ``labels`` are the held-out labels accuracy tests are scored with (the batch's seed).
    """
    judged = []
    for run in runs:
        fails = {
            test
            for test in run.variant.loses
            if test in key_tests
            and test in run.tests
            and not judge_test(key_tests[test], run.tests[test], labels=labels).passed
        }
        judged.append(replace(run, fails=frozenset(fails)))
    return judged


def variant_tests(variant: Variant, key: AnswerKey) -> list[str] | None:
    """The tests a variant run needs; ``None`` when that is every test.

    Heavy tests (marked ``gpu``: training to a threshold) run only for the variants that say
    they lose them (``loses`` or ``also_loses``): matching a student's failure needs a
    variant's values only for the tests it is aimed at, and skipping the rest keeps a
    batch's set-up cost to the cheap tests for most variants.
    """
    aimed = set(variant.loses) | set(variant.also_loses)
    chosen = [t for t, rec in key.tests.items() if not rec.gpu or t in aimed]
    return None if len(chosen) == len(key.tests) else chosen


def build_variant_runs(
    exercise: Exercise,
    key: AnswerKey,
    seed: int,
    sandbox: Sandbox,
    cache: Path,
    workers: int = 1,
    notebooks: ExerciseNotebooks | None = None,
) -> list[VariantRun]:
    """Run every variant of ``exercise`` through its grader (cached by digest).

    Each run holds the tests :func:`variant_tests` chooses, and which of the tests it is
    aimed at it fails against ``key`` (:func:`judge_variants`, with the held-out labels of
    ``seed``). ``notebooks`` are the exercise's notebooks when the batch read them already.
    """
    notebooks = notebooks or ExerciseNotebooks.read(exercise)

    def one(variant: Variant) -> VariantRun:
        prepared = prepare(notebooks.variant(variant), notebooks.release)
        folder = cache / "variants" / exercise.name / variant.name
        select = variant_tests(variant, key)
        _, output = cached_run(exercise, list(prepared.cells), seed, sandbox, folder, select=select)
        static = frozenset(run_static_checks(exercise.static_checks, prepared.student_code))
        return VariantRun(variant, dict(output.tests), static)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        runs = list(pool.map(one, exercise.variants()))
    labels = labels_for(exercise.datasets, seed, exercise.private_data)
    return judge_variants(runs, key.tests, labels)


def _exception_type(message: str) -> str:
    return message.split(":", 1)[0].strip() if message else ""


def reproduces(key: TestRecord, variant: TestRecord, student: TestRecord) -> bool:
    """Whether the student's values for this test are the variant's, within tolerance."""
    got = {r.name: r for r in student.values}
    theirs = {r.name: r for r in variant.values}
    for want in key.values:
        mine, wrong = got.get(want.name), theirs.get(want.name)
        if wrong is None:
            # The variant raised before recording this value: match on the exception type.
            if mine is not None or _exception_type(student.message) != _exception_type(
                variant.message
            ):
                return False
            continue
        if mine is None:
            return False
        tol = Tolerance.from_record(want.tolerance)
        if not compare_value(want.name, mine.value, wrong.value, tol).ok:
            return False
    return True


def candidates(
    key: TestRecord,
    student: TestRecord | None,
    runs: Sequence[VariantRun],
    static_failure: bool = False,
    labels: Mapping[str, np.ndarray] | None = None,
) -> list[VariantRun]:
    """Every variant aimed at this test (``loses``) whose failure the student reproduced.

    A test lost to a static check is explained by the variants that trip the same check.
    ``labels`` are the held-out labels accuracy tests are scored with.
    """
    found = []
    for run in runs:
        if key.test not in run.variant.loses:
            continue
        if static_failure:
            if key.test in run.static:
                found.append(run)
            continue
        wrong = run.tests.get(key.test)
        if student is None or wrong is None or key.test in run.static:
            continue
        if run.fails is None:
            fails = not judge_test(key, wrong, labels=labels).passed
        else:
            fails = key.test in run.fails
        if fails and reproduces(key, wrong, student):
            found.append(run)
    return found


def explain(
    key: TestRecord, student: TestRecord | None, runs: Sequence[VariantRun]
) -> Variant | None:
    """The first variant that explains a failed test, if any."""
    found = candidates(key, student, runs)
    return found[0].variant if found else None


def feedback(variant: Variant) -> str:
    """The text a student reads for a matched misconception."""
    parts = [f"Likely mistake: {variant.description}"]
    if variant.hint:
        parts.append(f"Hint: {variant.hint}")
    if variant.topic:
        parts.append(f"Lecture topic: {variant.topic}")
    return " ".join(parts)


def annotate(
    tests: Sequence[TestResult],
    key_tests: dict[str, TestRecord],
    student_tests: dict[str, TestRecord],
    runs: Sequence[VariantRun],
    static_failures: frozenset[str] = frozenset(),
    labels: Mapping[str, np.ndarray] | None = None,
) -> list[TestResult]:
    """Add the matched misconception to every failed test it explains.

    When several variants fit one test (a recorded boolean, say), the one that explains
    the most of this student's failed tests wins; ties go by name.
    """
    fits: dict[str, list[VariantRun]] = {}
    for t in tests:
        key = key_tests.get(t.test_id)
        if not t.passed and key is not None:
            fits[t.test_id] = candidates(
                key, student_tests.get(t.test_id), runs, t.test_id in static_failures, labels
            )
    weight: dict[str, int] = {}
    for found in fits.values():
        for run in found:
            weight[run.variant.name] = weight.get(run.variant.name, 0) + 1
    out: list[TestResult] = []
    for t in tests:
        found = fits.get(t.test_id, [])
        if not found:
            out.append(t)
            continue
        best = min(found, key=lambda r: (-weight[r.variant.name], r.variant.name)).variant
        message = f"{t.message}. {feedback(best)}" if t.message else feedback(best)
        out.append(replace(t, message=message, misconception=best.name))
    return out
