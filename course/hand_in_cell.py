"""Write the locked "How to hand in" cell at the end of every solution notebook.

Run from the course root after changing the text, then regenerate the releases::

    PYTHONPATH=$PWD python course/hand_in_cell.py
    for ex in $(ls solutions); do PYTHONPATH=$PWD python -m autograder.cli release "$ex"; done

The cell is nbgrader "read-only" markdown (``locked``, not graded) with the ``grade_id``
``hand_in``; an existing ``hand_in`` cell is replaced, otherwise one is appended. The
sentence "Then hand in the notebook" of a notebook's closing cell points to it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

GRADE_ID = "hand_in"
CELL_ID = "hand-in"  # fixed, so rerunning the script changes nothing

TEXT = """\
## How to hand in

1. **Save** the notebook (<kbd>Ctrl</kbd>+<kbd>S</kbd>, or *File → Save Notebook*). Keep its
   name, `{notebook}`, and keep it in the `{exercise}` folder you fetched: only that file is
   collected. Locked cells (like this one) are restored from the release when it is graded,
   so edits to them are lost.
2. **Validate**: click **Validate** in this notebook's toolbar. It runs your notebook's
   self-checks and lists those that fail and the answers still missing. Validating does not
   hand anything in and gives no score; the hidden tests run only when your work is graded.
3. **Submit**: open *Nbgrader → Assignment List* (the **Assignments** tab). Under
   *Downloaded assignments*, click **Submit** next to `{exercise}`. It then appears under
   *Submitted assignments* with the time of your submission: that line is your receipt. No
   line there means nothing was handed in.
4. **Resubmitting**: you may submit as often as you like. Only your **latest** submission is
   collected and graded; each one replaces the one before.
5. **Deadline**: the due date and time your instructor announced for `{exercise}`. The time
   shown under *Submitted assignments* for your latest submission is what counts, so a
   resubmission after the deadline makes the whole exercise late (the course's late policy
   then applies).
6. **Feedback**: once your work is graded, *(feedback available to fetch)* appears next to
   your submission. Click **Fetch Feedback**, then **(view feedback)**, and open
   `{stem}.html` in the `feedback` folder: it lists every hidden test with its verdict and,
   for a failed test, a hint (never the expected value).
"""

POINTER = re.compile(r"(Then hand in the\s+notebook)(?! as described below)")


def hand_in_cell(exercise: str, notebook: str) -> nbformat.NotebookNode:
    """The locked markdown cell for ``notebook`` of ``exercise``."""
    cell = nbformat.v4.new_markdown_cell(
        TEXT.format(exercise=exercise, notebook=notebook, stem=Path(notebook).stem).rstrip("\n")
    )
    cell.metadata["nbgrader"] = {
        "grade": False,
        "grade_id": GRADE_ID,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return cell


def update(path: Path) -> bool:
    """Put the hand-in cell last in ``path``; True when the file changed."""
    raw = path.read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    new = hand_in_cell(path.parent.name, path.name)
    kept = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != GRADE_ID]
    old = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == GRADE_ID]
    new.id = old[0].get("id", CELL_ID) if old else CELL_ID
    for cell in kept:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("locked"):
            cell.source = POINTER.sub(r"\1 as described below", cell.source)
    nb.cells = [*kept, new]
    out = nbformat.writes(nb) + "\n"
    if out == raw:
        return False
    path.write_text(out, encoding="utf-8")
    return True


def main(root: Path) -> int:
    """Update every ``solutions/<exercise>/<exercise>.ipynb`` under ``root``."""
    for path in sorted(root.glob("solutions/*/*.ipynb")):
        if path.stem != path.parent.name:
            continue
        print(f"{path}: {'updated' if update(path) else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
