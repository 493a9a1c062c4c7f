"""Seeds a job may see, derived on the trusted side from the course seed, which it may not.

The course seed decides the held-out splits (:mod:`autograder.load.heldout`), so a job that learnt
it could rebuild them and look up the held-back labels in the public data. A job therefore
receives only seeds derived with a keyed hash: one for the notebook (Python, NumPy and Keras
are seeded with it before the cells run) and one per test function of the hidden grader.

Derivation: the course seed is first stretched with PBKDF2-HMAC-SHA256 (so that trying
candidate course seeds against a derived one costs a tenth of a second each, even for a
short seed such as a date), then every derived seed is ``HMAC-SHA256(stretched, label)``
cut to 31 bits (what NumPy, Keras and ``random`` all accept). Labels name the exercise and
the test (``"test/01_tensors/test_tensors.py::test_filled"``), so seeds differ per test
and per exercise, and the reference run and every student run of a batch get the same ones.

Test functions are listed statically (``ast``) from the grader files: module-level
``test_*`` functions and ``test_*`` methods of ``Test*`` classes, keyed like the runtime's
test ids (``"test_x.py::test_name"``, ``"test_x.py::TestClass::test_name"``). A test the
list misses gets no seed and fails inside the job with a grader-author error.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Changes whenever the derivation does (part of every answer-key digest).
DERIVATION = "pbkdf2-hmac-sha256/200000+hmac-sha256/31bit/v1"

_SALT = b"gradetape/course-seed/v1"
_ITERATIONS = 200_000


@dataclass(frozen=True)
class JobSeeds:
    """The seeds of one job (``JobSpec.notebook_seed`` and ``test_seeds`` in ``job.json``).

    Attributes:
        notebook: Seeds Python, NumPy and Keras before the notebook's cells run.
        tests: ``"test_x.py::test_name"`` -> that test function's seed.
    """

    notebook: int
    tests: dict[str, int] = field(default_factory=dict)


@functools.lru_cache(maxsize=8)
def _stretched(course_seed: int) -> bytes:
    """The course seed stretched into an HMAC key (slow on purpose, cached per process)."""
    return hashlib.pbkdf2_hmac("sha256", str(int(course_seed)).encode(), _SALT, _ITERATIONS)


def derive(course_seed: int, label: str) -> int:
    """A 31-bit seed for ``label``; the course seed cannot be computed back from it."""
    digest = hmac.new(_stretched(course_seed), label.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFFFFFF


def notebook_seed(course_seed: int, exercise: str) -> int:
    """The seed the notebook's cells run under."""
    return derive(course_seed, f"notebook/{exercise}")


def seed_of_test(course_seed: int, exercise: str, test_id: str) -> int:
    """The seed of one test function (``"test_x.py::test_name"``)."""
    return derive(course_seed, f"test/{exercise}/{test_id}")


def grader_tests(files: Iterable[Path]) -> list[str]:
    """The test functions pytest collects from the grader files, as test ids.

    Raises:
        SyntaxError: If a grader file does not parse (the grader is broken).
    """
    found: list[str] = []
    for path in sorted(files, key=lambda p: p.name):
        if not (path.name.startswith("test_") and path.suffix == ".py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("test"):
                    found.append(f"{path.name}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        if item.name.startswith("test"):
                            found.append(f"{path.name}::{node.name}::{item.name}")
    return found


def job_seeds(course_seed: int, exercise: str, grader_files: Iterable[Path]) -> JobSeeds:
    """Every seed one job of ``exercise`` needs, derived from the course seed."""
    tests = {t: seed_of_test(course_seed, exercise, t) for t in grader_tests(grader_files)}
    return JobSeeds(notebook_seed(course_seed, exercise), tests)
