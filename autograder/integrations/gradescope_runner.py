"""The runner inside Gradescope: grade ``submission/*.ipynb`` into ``results/results.json``.

``run_autograder`` calls ``python -m autograder.integrations.gradescope_runner``. Everything happens
as in ``gradetape grade`` (the same loader, sandbox, hidden grader, answer key, static
checks and misconception matching, through :func:`autograder.pipeline.submission.grade_submission`),
for one submission and without a gradebook: the answer key and the variant runs are read
from the bundle's ``trusted/`` folder instead of being built.

What a student reads (``results.json``) is what GradeTape's feedback shows: each test's
message, the rejection reason and the run's notices (:func:`gradebook.lms.
submission_gradescope_results`). Review flags, the isolation in use and any grading-side
failure go to stdout, which Gradescope shows to instructors (``stdout_visibility`` is
``hidden``). A submission that cannot be graded (no notebook, a malformed file) and a
failure of the autograder itself both still produce a valid ``results.json`` with a score
of 0 and a reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autograder.integrations.gradescope_bundle import (
    COURSE_DIR,
    DEFAULT_ROOT,
    MANIFEST,
    ROOT_ENV,
    TRUSTED_DIR,
    BundleError,
    Manifest,
    sha256_file,
    walk_files,
)
from autograder.judge.answer_key import AnswerKey
from autograder.judge.misconceptions import VariantRun, variant_tests
from autograder.load.exercise import Exercise, load_exercise
from autograder.load.heldout import build as build_heldout
from autograder.load.notebook import question_points, read_notebook
from autograder.load.readers import short_error
from autograder.pipeline.submission import Submission, grade_submission
from autograder.results import SubmissionResult
from autograder.run.fresh_process import read_kept
from autograder.run.job_output import JobOutput, read_job_output
from autograder.run.sandbox import SandboxSpec, make_sandbox
from autograder.settings import CourseSettings, load_settings

#: Keep ``trusted/`` on disk even under weak isolation (local runs and tests only).
KEEP_SECRETS_ENV = "GRADETAPE_GRADESCOPE_KEEP_SECRETS"
#: Override the bundle's isolation (``auto``, ``bwrap``, ``subprocess``), e.g. to insist on
#: bubblewrap (a container without it then gives every submission a platform failure).
ISOLATION_ENV = "GRADETAPE_GRADESCOPE_ISOLATION"
STUDENT = "gradescope"
#: How deep below ``submission/`` a lone notebook is looked for (an uploaded folder).
SEARCH_DEPTH = 3

PLATFORM_FAILURE = (
    "The autograder could not grade this submission because of a problem on the grading "
    "side, not in your notebook. It scored 0 for now; your instructor can see what went "
    "wrong and regrade it."
)
WEAK_NOTE = (
    "INSTRUCTOR NOTE: bubblewrap could not create a sandbox in this container (Gradescope's "
    "containers may not allow user namespaces), so this submission ran with WEAK isolation: "
    "a plain subprocess that can read the container's files and use the network. The answer "
    "key and seed were loaded and deleted from the container before the student's code ran, "
    "but a hostile submission could still tamper with its own result. Treat scores as "
    "advisory, or grade with `gradetape grade` on a machine with bubblewrap."
)


@dataclass(frozen=True)
class Bundle:
    """An unpacked bundle, loaded into memory."""

    settings: CourseSettings
    exercise: Exercise
    key: AnswerKey
    variants: list[VariantRun]
    trusted: Path


def load_bundle(source: Path) -> Bundle:
    """Read the course, the key and the variant runs from an unpacked bundle.

    Raises:
        BundleError: If the bundle is incomplete, altered or inconsistent.
    """
    course = source / COURSE_DIR
    trusted = source / TRUSTED_DIR
    manifest = Manifest.read(trusted / MANIFEST)
    for rel, digest in manifest.files.items():
        path = course / rel
        if not path.is_file() or sha256_file(path) != digest:
            raise BundleError(
                f"{path} is missing or differs from the file the answer key was built with; "
                "rebuild the bundle with `gradetape gradescope-bundle` and upload it again"
            )
    for package in ("autograder", "gradebook"):
        extra = [
            p.relative_to(course).as_posix()
            for p in walk_files(course / package)
            if p.relative_to(course).as_posix() not in manifest.files
        ]
        if extra:
            raise BundleError(
                f"{course} holds files the bundle was not built with ({', '.join(extra[:5])}); "
                "rebuild the bundle with `gradetape gradescope-bundle` and upload it again"
            )
    settings = replace(load_settings(course), seed=manifest.seed, workers=1)
    exercise = load_exercise(settings, manifest.exercise)
    limits = exercise.limits

    def reader(out: Path) -> JobOutput:
        return read_job_output(str(out), limits.max_value_mb << 20, limits.max_total_mb << 20)

    output = read_kept(trusted / "key" / "out", exercise, None, reader)
    if not output.tests:
        raise BundleError(f"{trusted / 'key'} holds no test records; rebuild the bundle")
    questions: dict[str, float] = {}
    for test in output.tests.values():
        questions[test.question] = questions.get(test.question, 0.0) + test.points
    if question_points(read_notebook(exercise.release_path)) != questions:
        raise BundleError("the release's question points differ from the key; rebuild the bundle")
    key = AnswerKey(exercise.name, manifest.key, dict(output.tests), questions)
    runs = []
    for variant in exercise.variants():
        if variant.name not in manifest.variants:
            continue
        select = variant_tests(variant, key)
        kept = read_kept(trusted / "variants" / variant.name / "out", exercise, select, reader)
        static = frozenset(manifest.variants[variant.name])
        runs.append(VariantRun(variant, dict(kept.tests), static))
    for name in exercise.datasets:  # held-out data: built now, kept in this process's cache
        build_heldout(name, settings.seed, exercise.private_data)
    return Bundle(settings, exercise, key, runs, trusted)


def find_notebook_folder(submission: Path) -> Path:
    """The folder to grade: ``submission`` itself, or the one folder below it with notebooks.

    Gradescope keeps an uploaded folder's layout; a notebook inside one (and none at the
    top) is still found. Symbolic links are never followed.
    """
    if any(p.is_file() and not p.is_symlink() for p in submission.glob("*.ipynb")):
        return submission
    found: set[Path] = set()
    for folder, dirs, names in os.walk(submission, followlinks=False):
        depth = len(Path(folder).relative_to(submission).parts)
        dirs[:] = [d for d in dirs if not d.startswith(".") and depth < SEARCH_DEPTH]
        if any(n.endswith(".ipynb") for n in names):
            found.add(Path(folder))
    return found.pop() if len(found) == 1 else submission


def scrub(bundle: Bundle) -> None:
    """Delete what only the trusted side may read (under weak isolation, before grading)."""
    shutil.rmtree(bundle.trusted, ignore_errors=True)
    shutil.rmtree(bundle.exercise.grader_dir / "variants", ignore_errors=True)
    for source in bundle.exercise.private_data.values():
        source.path.unlink(missing_ok=True)


def grade(
    root: Path, keep_secrets: bool = False, isolation: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Grade ``root/submission`` with the bundle in ``root/source``.

    Args:
        root: Gradescope's root folder (``/autograder``).
        keep_secrets: Keep ``trusted/`` on disk under weak isolation (local runs only).
        isolation: Overrides the bundle's ``isolation`` setting.

    Returns:
        The ``results.json`` content and the lines for instructors (stdout).
    """
    from gradebook.lms import gradescope_json, submission_gradescope_results

    start = time.monotonic()
    notes: list[str] = []
    try:
        bundle = load_bundle(root / "source")
    except Exception as exc:  # noqa: BLE001 - a broken bundle still gives a valid result
        notes.append(f"the bundle could not be loaded: {_describe(exc)}")
        return gradescope_json(0.0, time.monotonic() - start, [PLATFORM_FAILURE], []), notes
    exercise, key = bundle.exercise, bundle.key
    box = None
    try:
        spec = SandboxSpec(isolation or bundle.settings.isolation, True, 1, exercise.limits)
        box = make_sandbox(spec)
        notes.append(f"isolation: {box.name}")
        if box.capabilities.isolation != "bwrap":
            notes.append(WEAK_NOTE)
            if not keep_secrets:
                scrub(bundle)
        folder = find_notebook_folder(root / "submission")
        result = grade_submission(
            exercise,
            key,
            read_notebook(exercise.release_path),
            Submission(STUDENT, folder),
            box,
            bundle.settings.seed,
            variants=bundle.variants,
        )
    except Exception as exc:  # noqa: BLE001 - a broken grader or machine still gives a result
        notes.append(f"grading failed: {_describe(exc)}")
        from autograder.pipeline.submission import zero_result
        from autograder.results import Status

        result = zero_result(exercise, key, STUDENT, Status.REJECTED, PLATFORM_FAILURE)
    finally:
        if box is not None:
            box.close()
    result = replace(result, duration_s=time.monotonic() - start)
    notes += _instructor_lines(result)
    return submission_gradescope_results(result), notes


def _instructor_lines(result: SubmissionResult) -> list[str]:
    lines = [f"score: {result.score:g} / {result.max_score:g} ({result.status.value})"]
    lines += [f"review flag: {flag}" for flag in result.flags]
    lines += [f"misconception: {t.test_id}: {t.misconception}" for t in result.tests]
    return [line for line in lines if not line.endswith(": ")]


def _describe(exc: BaseException) -> str:
    """The exception and where the trusted code raised it, never a whole stack trace."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}: {short_error(exc, 400)}"


def write_results(results: dict[str, Any], path: Path) -> Path:
    """Write ``results.json`` atomically (a partial file never stands as the result)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def main() -> int:
    """Grade the submission under ``$GRADETAPE_GRADESCOPE_ROOT`` (default ``/autograder``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT).resolve()
    keep = os.environ.get(KEEP_SECRETS_ENV, "") == "1"
    results, notes = grade(root, keep_secrets=keep, isolation=os.environ.get(ISOLATION_ENV))
    write_results(results, root / "results" / "results.json")
    for line in notes:
        print(f"gradetape: {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
