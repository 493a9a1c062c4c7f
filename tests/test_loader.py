import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.load.notebook import Rejected, prepare, question_points, read_notebook


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


# --- hostile notebook files: explicit limits (issue 12, item 3) ---

import os  # noqa: E402

from autograder.load.notebook import parse_notebook, read_notebook_bytes  # noqa: E402
from autograder.load.readers import ReaderLimits  # noqa: E402


def nb_bytes(nb):
    return nbformat.writes(nb).encode()


def test_deeply_nested_notebook_is_rejected_not_recursion_error(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text('{"nbformat": 4, "cells": [], "metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(Rejected, match="nested"):
        read_notebook(path)


def test_deep_nesting_inside_a_cell_output_is_rejected():
    nb = student_nb()
    text = nbformat.writes(nb).replace('"metadata": {', '"metadata": {"deep": ' + "[" * 5000 + "]" * 5000 + ", ", 1)
    with pytest.raises(Rejected, match="nested"):
        parse_notebook(text.encode(), "nb.ipynb")


def test_huge_integer_in_notebook_is_rejected():
    text = '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"n": 1' + "0" * 100_000 + "}}"
    with pytest.raises(Rejected, match="not a notebook"):
        parse_notebook(text.encode(), "nb.ipynb")


def test_too_many_cells_rejected():
    nb = student_nb()
    nb.cells += [new_code_cell("x = 1") for _ in range(20)]
    with pytest.raises(Rejected, match="cells, over the limit"):
        parse_notebook(nb_bytes(nb), "nb.ipynb", ReaderLimits(cells=10))


def test_oversized_cell_rejected():
    nb = student_nb()
    nb.cells[2].source = "x = 1\n" * 200_000
    with pytest.raises(Rejected, match="characters"):
        parse_notebook(nb_bytes(nb), "nb.ipynb")


def test_oversized_file_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(b" " * 2000)
    with pytest.raises(Rejected, match="limit"):
        read_notebook_bytes(path, ReaderLimits(notebook_bytes=1000))


def test_symlinked_submission_is_refused(tmp_path):
    real = tmp_path / "reference.ipynb"
    real.write_bytes(nb_bytes(student_nb()))
    link = tmp_path / "nb.ipynb"
    os.symlink(real, link)
    with pytest.raises(Rejected, match="symbolic link"):
        read_notebook(link, follow_symlinks=False)
    assert read_notebook(link).cells  # trusted files (the release) may be links


def test_fifo_is_refused(tmp_path):
    path = tmp_path / "nb.ipynb"
    os.mkfifo(path)
    with pytest.raises(Rejected, match="not a regular file"):
        read_notebook(path, follow_symlinks=False)


def test_non_text_source_items_are_rejected_with_reason():
    nb = json.loads(nbformat.writes(student_nb()))
    nb["cells"][2]["source"] = ["def f(x):\n", {"evil": 1}, "    return 2 * x"]
    with pytest.raises(Rejected, match="could not be read as a notebook"):
        parse_notebook(json.dumps(nb).encode(), "nb.ipynb")
