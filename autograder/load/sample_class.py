"""A sample class of known submissions: who hands in what, and which tests each must lose.

:func:`build_class` writes, for one exercise, the reference solution, the blank release, a
malformed file, known-wrong variants and (optionally) a late hand-in of the reference, and
returns what each student must lose; ``gradetape demo`` grades it and checks every score, and
the conformance battery and the end-to-end tests grade the same class. :func:`demo_plan`
picks the exercises and variants of a demo (:data:`DEMO_EXERCISES` by default, the whole
course with ``--all``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from autograder.load.exercise import Exercise, exercise_names
from autograder.load.release import reference_submission, variant_submission, write_submission
from autograder.settings import CourseSettings

#: The representative class's exercises: tensors, autodiff, manual backprop and training.
DEMO_EXERCISES = ("01_tensors", "04_gradient_tape", "07_training_loops")
#: Known-wrong variants per exercise in the representative class.
DEMO_VARIANTS = 3
#: The demo's due date (every demo assignment) and how late the late student hands in.
DUE = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
LATE_BY = timedelta(days=2, hours=3)


@dataclass(frozen=True)
class DemoPlan:
    """What the demo grades.

    Attributes:
        exercises: The exercises, in order.
        variants: Known-wrong variants per exercise (``None``: every variant).
        late: Whether the class has a late hand-in of the reference (``late`` student).
    """

    exercises: tuple[str, ...]
    variants: int | None = DEMO_VARIANTS
    late: bool = True


def demo_plan(settings: CourseSettings, names: list[str] | None, everything: bool) -> DemoPlan:
    """The plan for ``gradetape demo [NAMES] [--all]``.

    Args:
        settings: The course.
        names: Exercises asked for on the command line (``None`` or empty: the default set).
        everything: ``--all``: every exercise (unless named) and every variant, no late hand-in.

    Raises:
        FileNotFoundError: If a named exercise does not exist, naming those that do.
    """
    known = exercise_names(settings)
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise FileNotFoundError(
                f"no exercise {', '.join(map(repr, unknown))}; exercises: {', '.join(known)}"
            )
        chosen = tuple(names)
    elif everything:
        chosen = tuple(known)
    else:
        chosen = tuple(n for n in DEMO_EXERCISES if n in known) or tuple(known[:1])
    if everything:
        return DemoPlan(chosen, variants=None, late=False)
    return DemoPlan(chosen)


def build_class(
    exercise: Exercise,
    submitted: Path,
    variants: int | None = None,
    late: timedelta | None = None,
) -> dict[str, tuple[str, ...]]:
    """Write the demo submissions; returns student id -> the tests that student must lose.

    ``("*",)`` means every test (the blank release and the malformed file score zero).

    Args:
        exercise: The exercise.
        submitted: Where to write ``<student>/<exercise>/<notebook>``.
        variants: How many known-wrong variants (the first ones by name; ``None``: all).
        late: When given, a ``late`` student hands the reference in this long after
            :data:`DUE` (nbgrader's ``timestamp.txt``); it must keep full marks, the late
            penalty applies to the course grade only.
    """
    import nbformat

    expected: dict[str, tuple[str, ...]] = {}
    folder = lambda student: submitted / student / exercise.name  # noqa: E731
    reference = reference_submission(exercise)
    write_submission(reference, folder("reference"), exercise.notebook)
    expected["reference"] = ()
    blank = nbformat.read(exercise.release_path, as_version=4)
    write_submission(blank, folder("blank"), exercise.notebook)
    expected["blank"] = ("*",)
    chosen = exercise.variants()
    for variant in chosen if variants is None else chosen[:variants]:
        student = f"variant-{variant.name}"
        write_submission(variant_submission(exercise, variant), folder(student), exercise.notebook)
        expected[student] = variant.loses
    broken = folder("malformed")
    broken.mkdir(parents=True, exist_ok=True)
    (broken / exercise.notebook).write_text('{"cells": [ {"cell_type": "code", ')
    expected["malformed"] = ("*",)
    if late is not None:
        write_submission(reference, folder("late"), exercise.notebook)
        stamp = (DUE + late).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        (folder("late") / "timestamp.txt").write_text(stamp + "\n")
        expected["late"] = ()
    return expected
