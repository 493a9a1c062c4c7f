"""The package's public face: ``autograder.<name>`` for the pipeline's entry points, lazily."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import autograder

ROOT = Path(__file__).resolve().parent.parent

#: Public name -> the module that must define it.
PUBLIC = {
    "load_settings": "autograder.settings",
    "CourseSettings": "autograder.settings",
    "load_exercise": "autograder.load.exercise",
    "grade_submission": "autograder.pipeline.submission",
    "grade_assignment": "autograder.pipeline.batch",
    "SubmissionResult": "autograder.results",
    "validate": "autograder.review.validate",
    "audit_exercise": "autograder.review.audit.run",
}

#: Modules too heavy for ``import autograder`` (and so for the CLI's start-up).
HEAVY = ("tensorflow", "keras", "pandas", "numpy", "nbgrader", "nbformat", "sqlalchemy", "dask")


def test_all_lists_the_public_names():
    assert sorted(autograder.__all__) == sorted(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_name_is_the_defining_modules_object(name):
    value = getattr(autograder, name)
    assert value is getattr(importlib.import_module(PUBLIC[name]), name)
    assert value.__module__ == PUBLIC[name]
    assert callable(value) and value.__doc__


def test_public_names_are_listed_by_dir():
    assert set(PUBLIC) <= set(dir(autograder))


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'grade_everything'"):
        autograder.grade_everything  # noqa: B018
    assert not hasattr(autograder, "_PRIVATE_THING")


def test_from_import_works():
    namespace: dict[str, object] = {}
    exec("from autograder import grade_assignment, load_settings", namespace)
    assert namespace["grade_assignment"] is autograder.grade_assignment


def _loaded_after(code: str) -> list[str]:
    """Heavy top-level modules loaded after running ``code`` in a fresh interpreter."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_autograder_loads_nothing_heavy():
    assert _loaded_after("import autograder") == []


def test_a_name_loads_only_its_stage():
    # the settings are cheap: asking for them must not pull in the grading engine
    assert _loaded_after("import autograder; autograder.load_settings") == []
    # the probe itself can see a heavy import (the pipeline's notebook reading needs nbformat)
    assert "nbformat" in _loaded_after("import autograder; autograder.grade_assignment")
