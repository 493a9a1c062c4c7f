"""The questions of a notebook: their solution cells, blank cells and edited cells.

nbgrader's metadata says which cells are questions (grade cells with points), which are
solutions and what each locked cell held at release (its checksum); ``validate`` uses these
to tell a question not attempted from one that failed, and an edited self-check from an
honest one.
"""

from __future__ import annotations

import copy
import re

import nbformat

from autograder.load.notebook import grade_id

_BLANK = re.compile(r"^[ \t]*raise[ \t]+NotImplementedError\b", re.MULTILINE)


def is_blank(source: str) -> bool:
    """Whether a solution cell still holds the release's ``raise NotImplementedError``."""
    return bool(_BLANK.search(source))


def edited_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Locked cells and self-checks whose content no longer matches nbgrader's checksum.

    Returns:
        ``grade_id`` -> what changed (``"edited"`` or ``"changed from X to Y"``).
    """
    from nbgrader.utils import compute_checksum

    edits: dict[str, str] = {}
    for cell in notebook.cells:
        gid = grade_id(cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not gid or not isinstance(meta, dict) or meta.get("solution"):
            continue
        kind = meta.get("cell_type")
        if kind and kind != cell.get("cell_type"):
            edits[gid] = f"changed from {kind} to {cell.get('cell_type')}"
            continue
        expected = meta.get("checksum")
        if not expected:
            continue
        try:
            actual = compute_checksum(cell)
        except Exception:  # noqa: BLE001 - broken metadata counts as an edit
            actual = ""
        if actual != expected:
            edits[gid] = "edited"
    return edits


def solution_ids(release: nbformat.NotebookNode) -> set[str]:
    """The ``grade_id`` of every code solution cell."""
    return {
        grade_id(c)
        for c in release.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }


def solution_cells_by_question(
    release: nbformat.NotebookNode, points: dict[str, float]
) -> dict[str, tuple[str, ...]]:
    """Each question's solution cells: the code solution cells since the previous question."""
    owners: dict[str, tuple[str, ...]] = {}
    solutions = solution_ids(release)
    pending: list[str] = []
    for cell in release.cells:
        gid = grade_id(cell)
        if gid in points:
            owners[gid] = tuple(pending)
            pending = []
        elif gid in solutions:
            pending.append(gid)
    return owners


def with_runnable_self_checks(
    release: nbformat.NotebookNode, points: dict[str, float]
) -> nbformat.NotebookNode:
    """A copy of the release whose question cells count as locked cells, so they run."""
    runnable = copy.deepcopy(release)
    for cell in runnable.cells:
        if grade_id(cell) in points:
            cell.metadata.nbgrader["grade"] = False
    return runnable
