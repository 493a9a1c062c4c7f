"""The hostile-submissions corpus: each case is a released notebook plus an attack, and the
score it must get.

Cases are built on exercise 01 (15 points). ``REF`` is the reference solution (honest full
marks), ``BLANK`` the untouched release. Each case says what stops the attack
(``stopped_by``) and whether that still holds without bubblewrap (``weak_mode``), which is
what the README's isolation table reports.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

FULL = 15.0


@dataclass(frozen=True)
class Case:
    """One hostile submission.

    Attributes:
        name: Student id in the batch.
        build: Writes the submission into the student's assignment folder.
        score: The score it must get.
        expect: A phrase that must appear in the reason, a notice or a test message.
        flag: A phrase that must appear in the review flags ("" = no flag required).
        stopped_by: What stops the attack.
        weak_mode: Whether the plain-subprocess fallback still stops it.
    """

    name: str
    build: Callable[[Path, nbformat.NotebookNode, nbformat.NotebookNode, str], None]
    score: float
    expect: str = ""
    flag: str = ""
    stopped_by: str = ""
    weak_mode: bool = True


def _write(nb: nbformat.NotebookNode, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def with_cell(base: str, source: str, where: str = "end"):
    """A case builder: the reference (or blank) notebook with one extra code cell."""

    def build(folder: Path, ref, blank, name: str) -> None:
        nb = copy.deepcopy(ref if base == "ref" else blank)
        cell = new_code_cell(source)
        if where == "end":
            nb.cells.append(cell)
        else:  # right after the imports cell
            idx = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "imports")
            nb.cells.insert(idx + 1, cell)
        _write(nb, folder, name)

    return build


def with_solution(grade_id: str, source: str, base: str = "ref"):
    """A case builder: one solution cell replaced."""

    def build(folder: Path, ref, blank, name: str) -> None:
        nb = copy.deepcopy(ref if base == "ref" else blank)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                cell.source = source
        _write(nb, folder, name)

    return build


def edited(change: Callable[[nbformat.NotebookNode], None], base: str = "ref"):
    """A case builder: any change to the notebook's cells."""

    def build(folder: Path, ref, blank, name: str) -> None:
        nb = copy.deepcopy(ref if base == "ref" else blank)
        change(nb)
        _write(nb, folder, name)

    return build


def raw(content: bytes | None, filename: str | None = None):
    """A case builder: a file that is not a proper notebook (or no file)."""

    def build(folder: Path, ref, blank, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if content is not None:
            (folder / (filename or name)).write_bytes(content)

    return build


def _gid(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _delete_imports(nb) -> None:
    nb.cells = [c for c in nb.cells if _gid(c) != "imports"]


def _duplicate_solution(nb) -> None:
    idx = next(i for i, c in enumerate(nb.cells) if _gid(c) == "filled_impl")
    dup = copy.deepcopy(nb.cells[idx])
    dup.source = "def filled(shape, value, dtype):\n    return 0"
    nb.cells.append(dup)


def _reorder(nb) -> None:
    nb.cells = list(reversed(nb.cells))


def _retype(nb) -> None:
    for c in nb.cells:
        if _gid(c) == "filled_impl":
            c.cell_type = "markdown"
            c.pop("outputs", None)
            c.pop("execution_count", None)


def _edit_locked(nb) -> None:
    for c in nb.cells:
        if _gid(c) == "imports":
            c.source += "\nnp.allclose = lambda *a, **k: True"


def _lying_everything(nb) -> None:
    liar = (
        "class Liar:\n"
        "    shape = (7, 5)\n    dtype = 'float32'\n"
        "    def __eq__(self, other): return True\n"
        "    def __array__(self, *a, **k): raise TypeError('no')\n"
        "    def numpy(self): return self\n"
    )
    for c in nb.cells:
        gid = _gid(c)
        if gid.endswith("_impl"):
            fn = gid.removesuffix("_impl")
            c.source = liar + f"def {fn}(*args, **kwargs):\n    return Liar()\n"


FORGE = '''
import json, os, numpy as np
os.makedirs("/job/out/values", exist_ok=True)
np.save("/job/out/values/v00001.npy", np.zeros((7, 5), dtype=np.float32))
with open("/job/out/tests.jsonl", "a") as fh:
    for t in ["test_filled", "test_arange_matrix", "test_scale_pixels", "test_sub_block"]:
        fh.write(json.dumps({"test": "test_tensors.py::" + t, "question": "creation", "points": 99,
                             "outcome": "passed", "message": "",
                             "values": [{"name": "x", "kind": "tf.Tensor", "file": "v00001.npy", "tol": {"rtol": 1e9}}]}) + "\\n")
'''

CASES: list[Case] = [
    Case("honest-1", edited(lambda nb: None), FULL, stopped_by="(an honest classmate)"),
    Case("honest-2", edited(lambda nb: None), FULL, stopped_by="(an honest classmate)"),
    # patching the test runner, numpy, the grader's own modules
    Case("patch-pytest-main", with_cell("ref", "import pytest\npytest.main = lambda *a, **k: 0"), FULL,
         flag="grading machinery", stopped_by="pytest.main is taken before student code runs"),
    Case("patch-numpy-blank", with_cell("blank", "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None"), 0.0,
         stopped_by="comparison happens on the trusted side"),
    Case("patch-runtime-blank", with_cell("blank", "import sys\nch = sys.modules['gradetape_runtime.channel']\nch.Channel.encode = lambda self, v: {'kind': 'tf.Tensor', 'str': 'ok'}"), 0.0,
         flag="grading machinery", stopped_by="values are judged against the key outside the sandbox"),
    Case("forge-results-blank", with_cell("blank", FORGE), 0.0, flag="job files",
         stopped_by="forged records carry values that do not match the key; points come from the key"),
    Case("lying-objects", edited(_lying_everything), 0.0, expect="could not be read",
         stopped_by="values cross as numeric arrays only; __eq__ is never called"),
    # reading grader files, searching filesystem and memory for answers
    Case("read-grader-blank", with_cell("blank", "import glob\nsrc = [open(p).read() for p in glob.glob('/job/in/grader/*.py')]"), 0.0,
         flag="job files", stopped_by="the grader holds no expected values"),
    Case("search-filesystem-blank", with_cell("blank", "import os\nfound = [r for r, d, f in os.walk('/') if 'solutions' in d or '.gradetape' in d][:10]"), 0.0,
         stopped_by="solutions and keys are not mounted", weak_mode=False),
    Case("frames-and-gc-blank", with_solution("filled_impl", "import sys, gc\ndef filled(shape, value, dtype):\n    f = sys._getframe(1)\n    objs = [o for o in gc.get_objects() if isinstance(o, dict) and 'expected' in o]\n    return f.f_locals.get('expected')\n", base="blank"), 0.0,
         flag="inspects call frames", stopped_by="no expected value exists in the sandbox"),
    Case("proc-snooping-blank", with_cell("blank", "import os\nenv = {p: open(f'/proc/{p}/environ','rb').read()[:100] for p in os.listdir('/proc') if p.isdigit()}"), 0.0,
         flag="process or job files", stopped_by="own pid namespace; nothing secret in it"),
    # writing to the gradebook, the results channel, other students
    Case("write-gradebook", with_cell("ref", "import glob\nfor p in glob.glob('/work/**/gradebook.db', recursive=True) + glob.glob('/tmp/**/*.db', recursive=True):\n    open(p, 'wb').write(b'x')"), FULL,
         stopped_by="the gradebook is not mounted; the coordinator is its only writer", weak_mode=False),
    Case("network", with_cell("ref", "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\nexcept OSError:\n    pass"), FULL,
         stopped_by="--unshare-net", weak_mode=False),
    # time, processes, memory, output, files
    Case("infinite-loop-cell", with_cell("ref", "while True:\n    pass"), FULL, expect="time limit",
         stopped_by="per-cell time limit; later cells and the tests still run"),
    Case("sleep-cell", with_cell("ref", "import time\ntime.sleep(10**6)"), FULL, expect="time limit",
         stopped_by="per-cell time limit"),
    Case("infinite-loop-in-function", with_solution("filled_impl", "import tensorflow as tf\ndef filled(shape, value, dtype):\n    while True:\n        pass\n"), FULL - 1, expect="TestTimeLimit",
         stopped_by="per-test time limit"),
    Case("fork-bomb", with_cell("ref", "import os\ntry:\n    for _ in range(100000):\n        if os.fork() == 0:\n            import time; time.sleep(60); os._exit(0)\nexcept OSError:\n    pass"), FULL,
         stopped_by="pids cgroup (max_processes); leftovers killed after the job", weak_mode=False),
    Case("memory-bomb", with_cell("ref", "try:\n    x = bytearray(64 * 2**30)\nexcept MemoryError:\n    pass"), FULL,
         stopped_by="RLIMIT_AS"),
    Case("huge-print", with_cell("ref", "for _ in range(300):\n    print('x' * 1_000_000)"), FULL,
         stopped_by="output capped per cell; fds 1 and 2 go to /dev/null"),
    Case("huge-file", with_cell("ref", "try:\n    with open('/tmp/big', 'wb') as fh:\n        for _ in range(2000):\n            fh.write(b'x' * 2**20)\nexcept OSError:\n    pass"), FULL,
         stopped_by="RLIMIT_FSIZE"),
    Case("sys-exit", with_cell("ref", "import sys\nsys.exit(3)", where="after-imports"), FULL,
         stopped_by="SystemExit ends the cell only"),
    Case("os-exit", with_cell("ref", "import os\nos._exit(0)"), 0.0, expect="ended the grading process",
         stopped_by="the job ends; the batch goes on with a readable reason"),
    Case("signals-ignored-loop", with_cell("ref", "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"), 0.0,
         expect="stopped after", stopped_by="the job's wall-time limit kills the sandbox"),
    Case("kill-parent", with_cell("ref", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"), FULL,
         stopped_by="pid 1 of the namespace ignores it; a killed warm worker is replaced and the job's own output still read"),
    Case("thread-left-running", with_cell("ref", "import threading, time\ndef spin():\n    while True:\n        time.sleep(0.001)\nthreading.Thread(target=spin, daemon=False).start()"), FULL,
         stopped_by="the runtime ends with os._exit; leftovers are killed"),
    # deleted, duplicated, reordered, re-typed and edited cells
    Case("deleted-locked-cell", edited(_delete_imports), FULL, expect="was deleted",
         stopped_by="locked cells restored from the release"),
    Case("duplicated-cell", edited(_duplicate_solution), FULL, expect="appears twice",
         stopped_by="the first copy of a grade_id is graded"),
    Case("reordered-cells", edited(_reorder), FULL, stopped_by="cells run in the release's order"),
    Case("retyped-cell", edited(_retype), FULL - 1, expect="changed from code to markdown",
         stopped_by="a re-typed solution cell is graded blank"),
    Case("edited-locked-cell", edited(_edit_locked), FULL, expect="was edited",
         stopped_by="nbgrader checksums; the original cell is restored"),
    # malformed files
    Case("malformed-json", raw(b'{"cells": [ {"cell_type": '), 0.0, expect="not a notebook", stopped_by="loader"),
    Case("nbformat-5", raw(json.dumps({"nbformat": 5, "cells": []}).encode()), 0.0, expect="nbformat 5", stopped_by="loader"),
    Case("empty-file", raw(b""), 0.0, expect="is empty", stopped_by="loader"),
    Case("binary-file", raw(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10), 0.0, expect="not a notebook", stopped_by="loader"),
    Case("missing-notebook", raw(None), 0.0, expect="no notebook named", stopped_by="loader"),
    Case("wrong-file-name", lambda folder, ref, blank, name: _write(copy.deepcopy(ref), folder, "my_tensors.ipynb"), FULL,
         expect="instead of", stopped_by="a single notebook under another name is graded, with a notice"),
]
