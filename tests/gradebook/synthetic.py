"""A synthetic class for report tests: gradebook rows built directly, no grading.

:func:`build_class` records ``students`` x ``assignments`` results with a seeded mix of
passes, known mistakes, unknown failures and not-attempted (``NotImplementedError``)
failures; some rejected, some missing; long student ids, messages and flags (to catch
horizontal overflow); and similar pairs with long code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from autograder.results import QuestionResult, Status, SubmissionResult, TestResult
from gradebook import ensure_assignment, record
from gradebook.similarity import record_similarity

NAMES = ["01_tensors", "02_autodiff", "03_layers", "04_training", "05_digits", "06_cnn"]
NAMES += ["07_rnn", "08_attention"]
QUESTIONS = {"q_shape": 2.0, "q_dtype": 3.0, "q_values": 5.0}
TESTS_PER_QUESTION = 2
NOT_ATTEMPTED_MESSAGE = "your code raised NotImplementedError: "


@dataclass(frozen=True)
class FakePair:
    """Shaped like :class:`autograder.review.similarity.SimilarPair` for ``record_similarity``."""

    student_a: str
    student_b: str
    similarity_a: float
    similarity_b: float
    code_a: str
    code_b: str


def student_id(i: int) -> str:
    """Mostly short ids, every 37th a long e-mail-like one without spaces."""
    if i % 37 == 5:
        return f"firstname.middlename.lastname.{i:04d}@students.example-university.edu"
    return f"s{i:04d}"


def _result(rng: random.Random, student: str, assignment: str, skill: float) -> SubmissionResult:
    notebook = assignment.split("_", 1)[1]
    when = datetime(2025, 3, 1, 12) + timedelta(hours=rng.randint(-72, 30))
    if rng.random() < 0.02:
        return SubmissionResult(
            student, assignment, notebook, Status.REJECTED, reason="Not a notebook.",
            questions=tuple(QuestionResult(q, 0.0, m) for q, m in QUESTIONS.items()),
            timestamp=when,
        )  # fmt: skip
    tests, questions = [], []
    blank = rng.random() < 0.1  # left the whole notebook blank
    for q, points in QUESTIONS.items():
        each = points / TESTS_PER_QUESTION
        skipped = blank or rng.random() < 0.05
        got = 0.0
        for t in range(TESTS_PER_QUESTION):
            test_id = f"test_{assignment}.py::test_{q}_{'edge' if t else 'basic'}_case"
            if not skipped and rng.random() < skill:
                tests.append(TestResult(test_id, q, each, each, True))
                got += each
            elif skipped:
                tests.append(TestResult(test_id, q, each, 0.0, False, NOT_ATTEMPTED_MESSAGE))
            elif rng.random() < 0.6:
                name = rng.choice(["wrong_axis", "int_division", "forgot_cast"])
                message = f"`{q}`: wrong values. Likely mistake: {name.replace('_', ' ')}."
                tests.append(TestResult(test_id, q, each, 0.0, False, message, name))
            else:
                message = "expected shape (None, 10), received " + "x" * rng.randint(5, 160)
                tests.append(TestResult(test_id, q, each, 0.0, False, message))
        questions.append(QuestionResult(q, got, points))
    notices = ("Cell 7 raised <NameError>; later cells still ran.",) if rng.random() < 0.1 else ()
    flags = (f"review: {'very-long-token-' * 8}{rng.randint(0, 99)}",) if rng.random() < 0.03 else ()
    return SubmissionResult(
        student, assignment, notebook, Status.GRADED, questions=tuple(questions),
        tests=tuple(tests), notices=notices, flags=flags, isolation="bwrap",
        duration_s=rng.uniform(2.0, 20.0), timestamp=when,
    )  # fmt: skip


def _code(rng: random.Random, lines: int) -> str:
    body = [
        f"    value_{k} = tf.reduce_sum(tf.square(x - tf.reduce_mean(x, axis={k % 2})), "
        f"axis=-1, keepdims=True) * {rng.random():.6f}  # {'a long comment ' * 3}"
        for k in range(lines)
    ]
    return "def solve(x):\n" + "\n".join(body) + "\n    return value_0\n"


def build_class(
    db_url: str, students: int, assignments: int = 4, pairs: int = 40, seed: int = 13
) -> None:
    """Record a synthetic class of ``students`` into ``db_url`` (see the module docstring)."""
    rng = random.Random(seed)
    names = NAMES[:assignments]
    for name in names:
        ensure_assignment(db_url, name, name.split("_", 1)[1], QUESTIONS)
    ids = [student_id(i) for i in range(students)]
    results = []
    for sid in ids:
        skill = rng.uniform(0.3, 0.98)
        for name in names:
            if rng.random() < 0.05:
                continue  # never submitted: missing
            results.append(_result(rng, sid, name, skill))
    record(db_url, results)
    for name in names:
        found = []
        for _ in range(pairs // max(1, len(names))):
            a, b = rng.sample(ids, 2)
            code = _code(rng, rng.randint(5, 40))
            share = rng.uniform(0.6, 1.0)
            found.append(FakePair(a, b, share, share * 0.9, f"[[{code}]]", f"[[{code}]]"))
        record_similarity(db_url, name, found)
