"""Fresh-process checks: the static plan, the hand-over copy, the merge and the two jobs."""

import dataclasses
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from autograder.load.exercise import Exercise
from autograder.run.fresh_process import (
    FreshPlan,
    FreshPlanError,
    fresh_plan,
    merge_outputs,
    run_graded,
)
from autograder.run.handover import REPORT_FILE, copy_handover
from autograder.run.job_output import JobOutput, TestRecord
from autograder.run.sandbox.bwrap import BwrapSandbox
from autograder.run.sandbox.process import SubprocessSandbox
from autograder.settings import Limits

LIMITS = Limits(handover_files=10, handover_mb=1)


JOB_LIMITS = Limits(job_timeout=120)


def _exercise(tmp_path: Path, grader: str, limits: Limits = JOB_LIMITS) -> Exercise:
    folder = tmp_path / "grader"
    folder.mkdir(exist_ok=True)
    (folder / "test_g.py").write_text(grader)
    return Exercise("xx", "xx.ipynb", folder, tmp_path / "s.ipynb", tmp_path / "r.ipynb", limits)


# -- the plan -----------------------------------------------------------------------------------
def test_plan_reads_fresh_decorators(tmp_path):
    grader = (
        "import pytest\n"
        "def test_save(handover):\n    pass\n"
        "@pytest.mark.points(2)\n@pytest.mark.fresh('saved')\n"
        "def test_reload(handed_over):\n    pass\n"
    )
    plan = fresh_plan(_exercise(tmp_path, grader))
    assert plan.tests == {"test_g.py::test_reload": "saved"}


@pytest.mark.parametrize(
    "grader",
    [
        "import pytest\nNAME = 'x'\n@pytest.mark.fresh(NAME)\ndef test_a():\n    pass\n",
        "import pytest\n@pytest.mark.fresh\ndef test_a():\n    pass\n",
        "import pytest\n@pytest.mark.fresh('../up')\ndef test_a():\n    pass\n",
        "import pytest\npytestmark = pytest.mark.fresh('x')\ndef test_a():\n    pass\n",
        "import pytest\nfresh = pytest.mark.fresh('x')\n@fresh\ndef test_a():\n    pass\n",
        "import pytest\nclass TestA:\n    @pytest.mark.fresh('x')\n    def test_a(self):\n"
        "        pass\n",
    ],
    ids=["name-variable", "no-call", "bad-name", "pytestmark", "alias", "class"],
)
def test_plan_refuses_markers_it_cannot_read_statically(tmp_path, grader):
    with pytest.raises(FreshPlanError, match="fresh"):
        fresh_plan(_exercise(tmp_path, grader))


def test_split_keeps_fresh_tests_out_of_the_grading_job():
    plan = FreshPlan({"t.py::test_f": "x"})
    assert plan.split(None) == (None, ["t.py::test_f"])
    assert plan.split(["t.py::test_a", "t.py::test_f"]) == (["t.py::test_a"], ["t.py::test_f"])
    assert plan.split(["t.py::test_a"]) == (["t.py::test_a"], [])


# -- the copy -----------------------------------------------------------------------------------
def _out(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "handover" / "saved"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"k" * 100)
    (folder / "sub" / "variables.data-00000-of-00001").write_bytes(b"v" * 10)
    return tmp_path / "out"


def _report(dest: Path) -> dict:
    return json.loads((dest / REPORT_FILE).read_text())


def test_copy_takes_regular_files_and_folders(tmp_path):
    out = _out(tmp_path)
    report = copy_handover(out, tmp_path / "dest", ["saved", "never_saved"], LIMITS)
    copied = tmp_path / "dest" / "saved"
    assert (copied / "model.keras").read_bytes() == b"k" * 100
    assert (copied / "sub" / "variables.data-00000-of-00001").read_bytes() == b"v" * 10
    assert report["saved"].files == 3 and report["saved"].bytes == 110
    assert not report["saved"].refused
    assert "never_saved" not in report
    assert _report(tmp_path / "dest") == {"saved": {"files": 3, "bytes": 110, "refused": ""}}
    assert not os.access(copied / "model.keras", os.W_OK) or os.geteuid() == 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda f: (f / "link").symlink_to("/etc/passwd"), "symbolic link"),
        (lambda f: (f / "sub" / "link").symlink_to(f / "model.keras"), "symbolic link"),
        (lambda f: (f / "dirlink").symlink_to("/etc", target_is_directory=True), "symbolic link"),
        (lambda f: os.mkfifo(f / "pipe"), "not a regular file"),
        (lambda f: (f / "big.bin").write_bytes(b"x" * (1 << 20)), "more than 1 MB"),
        (lambda f: [(f / f"n{i}").write_bytes(b"") for i in range(10)], "more than 10 files"),
        (lambda f: (f / ".hidden").write_bytes(b""), "not allowed"),
        (lambda f: (f / "-rf").write_bytes(b""), "not allowed"),
        (lambda f: (f / "with space").write_bytes(b""), "not allowed"),
        (lambda f: (f / "caf\u00e9").write_bytes(b""), "not allowed"),
        (lambda f: (f / "a" / "b" / "c" / "d" / "e" / "f" / "g").mkdir(parents=True), "deep"),
    ],
    ids=[
        "symlink-out",
        "symlink-in",
        "dir-symlink",
        "fifo",
        "oversize",
        "too-many",
        "dot-name",
        "dash-name",
        "space-name",
        "non-ascii",
        "too-deep",
    ],
)
def test_copy_refuses_a_bad_handover_whole(tmp_path, make, reason):
    out = _out(tmp_path)
    make(out / "handover" / "saved")
    report = copy_handover(out, tmp_path / "dest", ["saved"], LIMITS)
    assert reason in report["saved"].refused
    assert not (tmp_path / "dest" / "saved").exists()  # nothing of it is copied
    assert reason in _report(tmp_path / "dest")["saved"]["refused"]


def test_copy_refuses_a_socket(tmp_path):
    out = _out(tmp_path)
    path = out / "handover" / "saved" / "sock"
    if len(str(path)) > 100:
        pytest.skip("socket path too long for this tmp dir")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        report = copy_handover(out, tmp_path / "dest", ["saved"], LIMITS)
    assert "not a regular file" in report["saved"].refused


@pytest.mark.parametrize("swap", ["handover", "saved", "out"])
def test_copy_never_follows_a_swapped_folder(tmp_path, swap):
    elsewhere = tmp_path / "secret"
    (elsewhere / "saved").mkdir(parents=True)
    (elsewhere / "saved" / "key.json").write_text("secret")
    (elsewhere / "handover" / "saved").mkdir(parents=True)
    out = tmp_path / "out"
    (out / "handover").mkdir(parents=True)
    if swap == "out":
        shutil.rmtree(out)
        out.symlink_to(elsewhere, target_is_directory=True)
    elif swap == "handover":
        (out / "handover").rmdir()
        (out / "handover").symlink_to(elsewhere, target_is_directory=True)
    else:
        (out / "handover" / "saved").symlink_to(elsewhere / "saved", target_is_directory=True)
    report = copy_handover(out, tmp_path / "dest", ["saved"], LIMITS)
    assert not (tmp_path / "dest" / "saved" / "key.json").exists()
    if swap == "saved":
        assert "not a folder" in report["saved"].refused
    else:
        assert report == {}


def test_copy_ignores_names_that_are_not_handover_names(tmp_path):
    out = _out(tmp_path)
    assert copy_handover(out, tmp_path / "dest", ["../out", "Saved", ""], LIMITS) == {}


# -- the merge ----------------------------------------------------------------------------------
def _record(test: str, value: str) -> TestRecord:
    return TestRecord(test, "q", 1.0, 10.0, False, "passed", value, ())


def test_merge_believes_each_job_only_about_its_own_tests():
    plan = FreshPlan({"t.py::test_f": "x", "t.py::test_g": "x"})
    first = JobOutput(
        tests={"t.py::test_a": _record("t.py::test_a", "job1"), "t.py::test_f": _record("", "forged")}
    )
    fresh = JobOutput(
        tests={
            "t.py::test_f": _record("t.py::test_f", "job2"),
            "t.py::test_a": _record("t.py::test_a", "forged"),
            "t.py::test_g": _record("t.py::test_g", "not selected"),
        },
        runtime_error="boom",
    )
    merged = merge_outputs(first, fresh, plan, ["t.py::test_f"])
    assert {t: r.message for t, r in merged.tests.items()} == {
        "t.py::test_a": "job1",
        "t.py::test_f": "job2",
    }
    assert merged.runtime_error == "fresh job: boom"
    alone = merge_outputs(first, None, plan, [])
    assert set(alone.tests) == {"t.py::test_a"}


# -- the two jobs, end to end (no TensorFlow) ----------------------------------------------------
GRADER = """
import os
import pytest

@pytest.mark.question("q")
def test_save(student, expect, handover):
    folder = handover("saved")
    with open(os.path.join(folder, "value.txt"), "w") as fh:
        fh.write(str(student.value))
    if "bad_link" in student:
        os.symlink("/etc/hostname", os.path.join(folder, "link"))
    expect("saved", student.value)

@pytest.mark.question("q")
@pytest.mark.fresh("saved")
def test_reload(student, expect, handed_over):
    folder = handed_over("saved")
    with open(os.path.join(folder, "value.txt")) as fh:
        expect("reloaded", int(fh.read()))
    expect("no_notebook_state", "value" not in student)
    try:
        open(os.path.join(folder, "value.txt"), "w")
        expect("read_only", False)
    except OSError:
        expect("read_only", True)
"""


@pytest.fixture
def no_tf(monkeypatch):
    """Jobs without TensorFlow (seconds instead of tens of seconds on a loaded machine)."""
    import autograder.run.jobs

    real = autograder.run.jobs.write_job

    def write_job(job_dir, *args, **kwargs):
        real(job_dir, *args, **kwargs)
        spec = autograder.run.jobs.read_spec(job_dir)
        autograder.run.jobs.write_spec(job_dir, dataclasses.replace(spec, tensorflow=False))

    monkeypatch.setattr(autograder.run.jobs, "write_job", write_job)


def _cells(*sources):
    from autograder.load.notebook import CodeCell

    return [CodeCell(i, f"c{i}", s, "student") for i, s in enumerate(sources)]


def _values(output, test):
    return {
        r.name: (r.value.text if r.value.text is not None else r.value.array.item())
        for r in output.tests[test].values
    }


SANDBOXES = [
    SubprocessSandbox,
    pytest.param(
        BwrapSandbox, marks=pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bwrap")
    ),
]


@pytest.mark.parametrize("box", SANDBOXES)
def test_two_jobs_hand_over_and_merge(tmp_path, box, no_tf):
    exercise = _exercise(tmp_path, GRADER)
    graded = run_graded(exercise, _cells("value = 7"), 1, box(), select=None)
    assert graded.fresh is not None
    assert graded.handovers["saved"].files == 1
    assert _values(graded.output, "test_g.py::test_save") == {"saved": 7}
    reloaded = _values(graded.output, "test_g.py::test_reload")
    assert reloaded["reloaded"] == 7 and reloaded["no_notebook_state"] is True
    if box is BwrapSandbox:
        assert reloaded["read_only"] is True
    # The grading job never ran the fresh test itself.
    assert set(graded.first.output.tests) == {"test_g.py::test_save"}


def test_a_refused_handover_fails_the_fresh_test_with_the_reason(tmp_path, no_tf):
    exercise = _exercise(tmp_path, GRADER)
    graded = run_graded(exercise, _cells("value = 7\nbad_link = 1"), 1, SubprocessSandbox())
    record = graded.output.tests["test_g.py::test_reload"]
    assert record.outcome == "failed" and record.values == ()
    assert "symbolic link" in record.message and "not accepted" in record.message


def test_no_fresh_job_when_no_fresh_test_is_selected(tmp_path, no_tf):
    exercise = _exercise(tmp_path, GRADER)
    graded = run_graded(
        exercise, _cells("value = 7"), 1, SubprocessSandbox(), select=["test_g.py::test_save"]
    )
    assert graded.fresh is None
    assert set(graded.output.tests) == {"test_g.py::test_save"}
