"""Name the mistake: match a failed test's values with those of the known-wrong variants.

Each variant is run through the grader with the batch's seed, like the reference (and
cached the same way). When a student fails a test, their recorded values are compared with
each variant's values for that test under the test's tolerance; a variant that fails the
test and whose values the student reproduced explains the failure. The feedback then names
the misconception and the lecture topic, never the expected value.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .compare import Tolerance, compare_value, judge_test
from .exercise import Exercise, Variant
from .key import cached_run
from .loader import prepare, read_notebook
from .release import variant_submission
from .results import TestResult
from .sandbox.base import Sandbox
from .values import TestRecord


@dataclass(frozen=True)
class VariantRun:
    """A known-wrong variant and the values it recorded, per test."""

    variant: Variant
    tests: dict[str, TestRecord]


def build_variant_runs(
    exercise: Exercise, seed: int, sandbox: Sandbox, cache: Path, workers: int = 1
) -> list[VariantRun]:
    """Run every variant of ``exercise`` through its grader (cached by digest)."""
    release = read_notebook(exercise.release_path)

    def one(variant: Variant) -> VariantRun:
        cells = list(prepare(variant_submission(exercise, variant), release).cells)
        folder = cache / "variants" / exercise.name / variant.name
        _, output = cached_run(exercise, cells, seed, sandbox, folder)
        return VariantRun(variant, dict(output.tests))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, exercise.variants()))


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


def explain(
    key: TestRecord, student: TestRecord | None, runs: Sequence[VariantRun]
) -> Variant | None:
    """The variant that explains a failed test, if any."""
    if student is None:
        return None
    for run in runs:
        wrong = run.tests.get(key.test)
        if wrong is None or judge_test(key, wrong).passed:
            continue  # this variant does not fail this test
        if reproduces(key, wrong, student):
            return run.variant
    return None


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
) -> list[TestResult]:
    """Add the matched misconception to every failed test it explains."""
    from dataclasses import replace

    out: list[TestResult] = []
    for t in tests:
        key = key_tests.get(t.test_id)
        variant = (
            None if t.passed or key is None else explain(key, student_tests.get(t.test_id), runs)
        )
        if variant is None:
            out.append(t)
        else:
            message = f"{t.message}. {feedback(variant)}" if t.message else feedback(variant)
            out.append(replace(t, message=message, misconception=variant.name))
    return out
