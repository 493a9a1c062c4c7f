import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.loader import Rejected, prepare, question_points, read_notebook


def meta(gid, *, solution=False, grade=False, locked=True, points=None):
    nbg = {"grade": grade, "solution": solution, "locked": locked, "grade_id": gid, "schema_version": 3}
    if points is not None:
        nbg["points"] = points
    return {"nbgrader": nbg}


def release_nb():
    return new_notebook(cells=[
        new_markdown_cell("# Intro", metadata=meta("intro")),
        new_code_cell("import numpy as np", metadata=meta("imports")),
        new_code_cell("def f(x):\n    raise NotImplementedError()", metadata=meta("f_impl", solution=True, locked=False)),
        new_code_cell("assert f(1) == 2", metadata=meta("f", grade=True, points=3)),
    ])


def student_nb(**changes):
    nb = release_nb()
    nb.cells[2].source = "def f(x):\n    return 2 * x"
    return nb


def sources(prepared):
    return [c.source for c in prepared.cells]


def test_complete_submission_runs_imports_then_solution_not_self_check():
    p = prepare(student_nb(), release_nb())
    assert sources(p) == ["import numpy as np", "def f(x):\n    return 2 * x"]
    assert p.notices == ()
    assert p.student_code == {"f_impl": "def f(x):\n    return 2 * x"}


def test_edited_locked_cell_is_restored_and_reported():
    nb = student_nb()
    nb.cells[1].source = "import numpy as np\nnp.allclose = lambda *a, **k: True"
    p = prepare(nb, release_nb())
    assert sources(p)[0] == "import numpy as np"
    assert any("`imports` was edited" in n for n in p.notices)


def test_deleted_locked_cell_is_restored():
    nb = student_nb()
    del nb.cells[1]
    p = prepare(nb, release_nb())
    assert sources(p)[0] == "import numpy as np"
    assert any("deleted" in n for n in p.notices)


def test_missing_solution_cell_uses_blank():
    nb = student_nb()
    del nb.cells[2]
    p = prepare(nb, release_nb())
    assert "NotImplementedError" in sources(p)[1]
    assert any("missing" in n for n in p.notices)


def test_retyped_solution_cell_uses_blank():
    nb = student_nb()
    nb.cells[2] = new_markdown_cell("def f(x): return 2*x", metadata=nb.cells[2].metadata)
    p = prepare(nb, release_nb())
    assert "NotImplementedError" in sources(p)[1]
    assert any("changed from code to markdown" in n for n in p.notices)


def test_duplicated_cell_first_copy_wins():
    nb = student_nb()
    dup = nbformat.from_dict(json.loads(json.dumps(nb.cells[2])))
    dup.source = "def f(x):\n    return 0"
    nb.cells.append(dup)
    p = prepare(nb, release_nb())
    assert "return 2 * x" in sources(p)[1] and len(p.cells) == 2
    assert any("twice" in n for n in p.notices)


def test_reordered_cells_follow_release_order():
    nb = student_nb()
    nb.cells = [nb.cells[3], nb.cells[2], nb.cells[1], nb.cells[0]]
    p = prepare(nb, release_nb())
    assert sources(p) == ["import numpy as np", "def f(x):\n    return 2 * x"]


def test_student_extra_cells_are_kept_after_their_predecessor():
    nb = student_nb()
    nb.cells.insert(3, new_code_cell("helper = 1"))
    p = prepare(nb, release_nb())
    assert sources(p) == ["import numpy as np", "def f(x):\n    return 2 * x", "helper = 1"]
    assert "helper = 1" in p.student_code.values()


def test_question_points():
    assert question_points(release_nb()) == {"f": 3.0}


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a notebook"),
        (b'{"cells": [', "not a notebook"),
        (b"[1, 2, 3]", "not a Jupyter notebook"),
        (b'{"nbformat": 5, "cells": []}', "nbformat 5"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{"source": "x"}], "metadata": {}}', "could not be read"),
    ],
)
def test_malformed_files_are_rejected_with_reason(tmp_path, content, phrase):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(content)
    with pytest.raises(Rejected, match=phrase):
        read_notebook(path)


def test_missing_file(tmp_path):
    with pytest.raises(Rejected, match="could not be found"):
        read_notebook(tmp_path / "nope.ipynb")


def test_nbformat3_is_converted(tmp_path):
    from nbformat.v3 import new_code_cell as c3
    from nbformat.v3 import new_notebook as n3
    from nbformat.v3 import new_worksheet

    nb = n3(worksheets=[new_worksheet(cells=[c3(input="x = 1")])])
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.v3.nbjson.writes(nb))
    assert read_notebook(path).cells[0].source == "x = 1"
