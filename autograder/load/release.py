"""Release an exercise with nbgrader and build notebooks from the release (for demos/tests)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.load.exercise import Exercise, Variant
from autograder.load.notebook import grade_id, read_notebook
from autograder.settings import CourseSettings


class ReleaseError(Exception):
    """nbgrader could not generate the release."""


def release(settings: CourseSettings, assignment: str, db_url: str | None = None) -> Path:
    """Run ``nbgrader generate_assignment`` (source ``solutions/`` -> release ``exercises/``).

    This also records the assignment and its graded cells in nbgrader's gradebook.

    Raises:
        ReleaseError: With nbgrader's own message when generation fails.
    """
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        "generate_assignment",
        assignment,
        "--force",
        f"--CourseDirectory.root={settings.root}",
        f"--CourseDirectory.db_url={db_url or settings.database}",
    ]
    done = subprocess.run(
        command, cwd=settings.root, capture_output=True, text=True, env=nbgrader_env()
    )
    if done.returncode != 0:
        raise ReleaseError(
            f"nbgrader generate_assignment {assignment} failed:\n{done.stderr[-3000:]}"
        )
    return settings.exercises_dir / assignment


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader commands, with the venv's ``bin`` first on PATH.

    nbgrader runs the ``alembic`` executable from PATH when it opens a gradebook.
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def with_cells(
    release: nbformat.NotebookNode, replacements: dict[str, str]
) -> nbformat.NotebookNode:
    """A copy of ``release`` with the sources of the cells named by ``grade_id`` replaced.

    Raises:
        KeyError: If a replacement names a cell the release does not have.
    """
    nb = copy.deepcopy(release)
    missing = set(replacements) - {grade_id(c) for c in nb.cells}
    if missing:
        raise KeyError(f"no cells {sorted(missing)} in the release")
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in replacements:
            cell.source = replacements[gid]
    return nb


@dataclass(frozen=True)
class ExerciseNotebooks:
    """An exercise's release and reference solution, each read and parsed once (per batch).

    The key, the alternatives, the variants and every submission are built on these two
    trees; they are shared, so treat them as read-only (:func:`with_cells` copies).
    """

    release: nbformat.NotebookNode
    solution: nbformat.NotebookNode

    @classmethod
    def read(cls, exercise: Exercise) -> ExerciseNotebooks:
        """Read and parse both notebooks of ``exercise``."""
        return cls(read_notebook(exercise.release_path), read_notebook(exercise.source_path))

    def solution_sources(self) -> dict[str, str]:
        """``grade_id`` -> source of every solution cell of the reference notebook."""
        return _solution_sources(self.solution)

    def reference(self) -> nbformat.NotebookNode:
        """The release with every solution cell completed as in the source: a perfect student."""
        return with_cells(self.release, self.solution_sources())

    def variant(self, variant: Variant) -> nbformat.NotebookNode:
        """The reference submission with the variant's cells swapped in."""
        return with_cells(self.release, {**self.solution_sources(), **variant.cells})


def _solution_sources(source: nbformat.NotebookNode) -> dict[str, str]:
    return {
        grade_id(c): str(c.source)
        for c in source.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }


def solution_sources(exercise: Exercise) -> dict[str, str]:
    """``grade_id`` -> source of every solution cell of the reference notebook."""
    return _solution_sources(read_notebook(exercise.source_path))


def reference_submission(exercise: Exercise) -> nbformat.NotebookNode:
    """The release with every solution cell completed as in the source: a perfect student."""
    return ExerciseNotebooks.read(exercise).reference()


def variant_submission(exercise: Exercise, variant: Variant) -> nbformat.NotebookNode:
    """The reference submission with the variant's cells swapped in."""
    return ExerciseNotebooks.read(exercise).variant(variant)


def write_submission(nb: nbformat.NotebookNode, folder: Path, name: str) -> Path:
    """Write ``nb`` as ``folder/name`` (nbgrader's submitted layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nb, path)
    return path
