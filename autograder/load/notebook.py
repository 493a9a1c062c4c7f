"""Load and check a submitted notebook, then rebuild it on the release's skeleton.

Every locked cell (instructions, imports, visible self-checks) comes from the release, so an
edited, deleted or re-typed locked cell cannot change what runs; tampering is detected with
nbgrader's own checksums and reported. Solution cells come from the student (by
``grade_id``); cells the student added are kept after the cell they followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.utils import compute_checksum, is_grade, is_solution

from autograder.load.readers import DEFAULT_LIMITS, ReaderLimits, Unreadable, loads

MAX_NOTEBOOK_BYTES = DEFAULT_LIMITS.notebook_bytes


class Rejected(Exception):
    """A submission that cannot be graded; the message is shown to the student."""


@dataclass(frozen=True)
class CodeCell:
    """A code cell to execute."""

    index: int
    cell_id: str
    source: str
    origin: str  # "release", "student" or "student-extra"


@dataclass(frozen=True)
class Prepared:
    """A submission rebuilt on the release skeleton, ready to run."""

    cells: tuple[CodeCell, ...]
    notices: tuple[str, ...]
    student_code: dict[str, str]  # grade_id (or "extra-N") -> student-written source


def read_notebook(
    path: Path, limits: ReaderLimits = DEFAULT_LIMITS, follow_symlinks: bool = True
) -> nbformat.NotebookNode:
    """Parse a notebook file into nbformat 4, with a readable reason when it cannot be.

    Raises:
        Rejected: For a missing, empty, oversized, binary, malformed or too deeply nested
            file, or one with too many or too large cells.
    """
    return parse_notebook(read_notebook_bytes(path, limits, follow_symlinks), path.name, limits)


def read_notebook_bytes(
    path: Path, limits: ReaderLimits = DEFAULT_LIMITS, follow_symlinks: bool = True
) -> bytes:
    """A notebook file's bytes, read once through one descriptor, within the size limit.

    ``follow_symlinks=False`` (for submissions) refuses a symbolic link, so a submission
    cannot point at a file of the grading machine (a reference solution, say).

    Raises:
        Rejected: For a missing, special, empty or oversized file, or a symbolic link.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_symlinks and path.is_symlink():
            raise Rejected(
                f"{path.name} is a symbolic link, not a notebook file; submit the notebook itself"
            ) from None
        raise Rejected(
            f"the notebook {path.name} could not be found or opened ({exc.strerror})"
        ) from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Rejected(f"{path.name} is not a regular file; submit the saved notebook")
        if info.st_size == 0:
            raise Rejected(f"{path.name} is empty; submit the saved notebook")
        data = fh.read(limits.notebook_bytes + 1)
    if len(data) > limits.notebook_bytes:
        raise Rejected(
            f"{path.name} is over the {limits.notebook_bytes >> 20} MB limit; clear the outputs "
            "(Edit > Clear Outputs of All Cells) and submit again"
        )
    if not data:
        raise Rejected(f"{path.name} is empty; submit the saved notebook")
    return data


def parse_notebook(
    data: bytes, name: str, limits: ReaderLimits = DEFAULT_LIMITS
) -> nbformat.NotebookNode:
    """Parse a notebook's bytes into nbformat 4 within ``limits``; never crashes on them.

    The JSON's depth is checked before anything recursive parses it.

    Raises:
        Rejected: With a reason a student can act on.
    """
    try:
        text = data.decode("utf-8")
        raw = loads(text, limits.notebook_depth)
    except Unreadable as exc:
        raise Rejected(
            f"{name} is not a notebook ({exc}); re-download it from JupyterLab"
        ) from None
    except UnicodeDecodeError:
        raise Rejected(
            f"{name} is not a notebook (not valid JSON); re-download it from JupyterLab"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise Rejected(f"{name} is JSON but not a Jupyter notebook (no list of cells)")
    major = raw.get("nbformat")
    if major not in (3, 4) or isinstance(major, bool):
        plain = major is None or isinstance(major, int | float)
        shown = repr(major)[:20] if plain else f"of type {type(major).__name__}"
        raise Rejected(f"{name} has nbformat {shown}; only versions 3 and 4 are supported")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        reason = f"{name} could not be read as a notebook ({type(exc).__name__})"
        raise Rejected(reason) from None
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise Rejected(f"{name} has no list of cells; re-download it from JupyterLab")
    if len(cells) > limits.cells:
        raise Rejected(f"{name} has {len(cells)} cells, over the limit of {limits.cells}")
    for cell in cells:
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise Rejected(f"{name} has a cell without a type; re-download it from JupyterLab")
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(s if isinstance(s, str) else "" for s in cell["source"])
        if not isinstance(cell.get("source", ""), str):
            raise Rejected(f"{name} has a cell whose source is not text")
        if len(cell.get("source", "")) > limits.cell_source_chars:
            raise Rejected(
                f"{name} has a cell of more than {limits.cell_source_chars} characters; "
                "load large data from a file instead of pasting it into a cell"
            )
    return nb


def grade_id(cell: Any) -> str:
    """The cell's nbgrader ``grade_id``, or ``""``."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    gid = nbg.get("grade_id", "") if isinstance(nbg, dict) else ""
    return str(gid) if isinstance(gid, str | int) else ""


def _checksum(cell: Any) -> str | None:
    try:
        return str(compute_checksum(cell))
    except Exception:  # noqa: BLE001 - malformed metadata means "differs"
        return None


def _is_solution(cell: Any) -> bool:
    try:
        return bool(is_solution(cell))
    except Exception:  # noqa: BLE001
        return False


def prepare(submission: nbformat.NotebookNode, release: nbformat.NotebookNode) -> Prepared:
    """Rebuild ``submission`` on the release's cells; never raises for student content."""
    notices: list[str] = []
    by_id: dict[str, Any] = {}
    extras_after: dict[str, list[str]] = {}
    last = ""
    for cell in submission.cells:
        gid = grade_id(cell)
        if gid:
            if gid in by_id:
                notices.append(f"cell `{gid}` appears twice; only the first copy was graded")
            else:
                by_id[gid] = cell
                last = gid
        elif cell.get("cell_type") == "code" and str(cell.get("source", "")).strip():
            extras_after.setdefault(last, []).append(str(cell["source"]))

    cells: list[CodeCell] = []
    student_code: dict[str, str] = {}

    def add(source: str, cell_id: str, origin: str) -> None:
        cells.append(CodeCell(len(cells), cell_id, source, origin))

    def add_extras(after: str) -> None:
        for n, source in enumerate(extras_after.pop(after, [])):
            key = f"extra-{after or 'top'}-{n}"
            student_code[key] = source
            add(source, "", "student-extra")

    add_extras("")
    for cell in release.cells:
        gid = grade_id(cell)
        mine = by_id.get(gid) if gid else None
        if gid and _is_solution(cell):
            if mine is None:
                notices.append(f"solution cell `{gid}` is missing; its blank version was graded")
                mine = cell
            elif mine.get("cell_type") != cell.cell_type:
                notices.append(
                    f"solution cell `{gid}` was changed from {cell.cell_type} to "
                    f"{mine.get('cell_type')}; its blank version was graded"
                )
                mine = cell
            if cell.cell_type == "code":
                source = str(mine.get("source", ""))
                student_code[gid] = source
                add(source, gid, "student" if mine is not cell else "release")
        else:
            if gid and mine is None and cell.cell_type == "code":
                notices.append(f"locked cell `{gid}` was deleted; the original was restored")
            elif gid and mine is not None and _checksum(mine) != _checksum(cell):
                notices.append(f"locked cell `{gid}` was edited; the original was restored")
            if cell.cell_type == "code" and not _is_grade_only(cell):
                add(str(cell.source), gid, "release")
        if gid:
            add_extras(gid)
    for after in list(extras_after):
        add_extras(after)
    return Prepared(tuple(cells), tuple(notices), student_code)


def _is_grade_only(cell: Any) -> bool:
    """Question cells hold the visible self-check; the hidden grader replaces them."""
    try:
        return bool(is_grade(cell)) and not _is_solution(cell)
    except Exception:  # noqa: BLE001
        return False


def question_points(release: nbformat.NotebookNode) -> dict[str, float]:
    """``grade_id`` -> points of every autograded question cell of a notebook."""
    points: dict[str, float] = {}
    for cell in release.cells:
        if _is_grade_only(cell):
            points[grade_id(cell)] = float(cell.metadata.nbgrader.get("points", 0))
    return points
