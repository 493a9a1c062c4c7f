"""The demo's plan and class (no grading here; `test_end_to_end.test_demo_command` grades one)."""

from pathlib import Path

import pytest

from autograder.load.exercise import exercise_names, load_exercise
from autograder.load.sample_class import (
    DEMO_EXERCISES,
    DEMO_VARIANTS,
    DUE,
    LATE_BY,
    build_class,
    demo_plan,
)
from autograder.pipeline.submission import find_submissions
from autograder.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = load_settings(ROOT)
EX = "01_tensors"


def test_default_plan_is_a_representative_class_with_a_training_exercise():
    plan = demo_plan(SETTINGS, None, everything=False)
    assert plan.exercises == DEMO_EXERCISES and plan.variants == DEMO_VARIANTS and plan.late
    assert set(DEMO_EXERCISES) <= set(exercise_names(SETTINGS))
    assert "07_training_loops" in plan.exercises and len(plan.exercises) < len(exercise_names(SETTINGS))


def test_all_is_the_whole_course_with_every_variant():
    plan = demo_plan(SETTINGS, None, everything=True)
    assert list(plan.exercises) == exercise_names(SETTINGS) and plan.variants is None and not plan.late
    assert demo_plan(SETTINGS, [EX], everything=True).exercises == (EX,)
    assert demo_plan(SETTINGS, [EX], everything=False).variants == DEMO_VARIANTS


def test_unknown_exercise_is_named():
    with pytest.raises(FileNotFoundError, match="no exercise '99_x'; exercises: 01_tensors"):
        demo_plan(SETTINGS, ["99_x"], everything=False)


def test_representative_class_of_one_exercise(tmp_path):
    ex = load_exercise(SETTINGS, EX)
    expected = build_class(ex, tmp_path, variants=2, late=LATE_BY)
    variants = [f"variant-{v.name}" for v in ex.variants()[:2]]
    assert sorted(expected) == sorted(["reference", "blank", "malformed", "late", *variants])
    assert expected["late"] == () and expected["blank"] == ("*",)
    subs = {s.student: s for s in find_submissions(tmp_path, EX)}
    assert subs["late"].timestamp().replace(tzinfo=None) == (DUE + LATE_BY).replace(tzinfo=None)
    assert subs["reference"].timestamp() is None
    assert (tmp_path / "late" / EX / ex.notebook).read_bytes() == (
        tmp_path / "reference" / EX / ex.notebook
    ).read_bytes()


def test_default_class_is_the_conformance_class(tmp_path):
    ex = load_exercise(SETTINGS, EX)
    expected = build_class(ex, tmp_path)
    assert sorted(expected) == sorted(
        ["reference", "blank", "malformed", *(f"variant-{v.name}" for v in ex.variants())]
    )
