"""The sandboxes: isolation properties and limits, on small jobs without TensorFlow."""

import shutil
import sys
from pathlib import Path

import pytest

from autograder.run.job_output import read_job_output
from autograder.run.sandbox import BwrapSandbox, SubprocessSandbox, choose_sandbox
from autograder.settings import Limits

MB = 1 << 20
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

PROBE = '''
import json, os, socket
facts = {}
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2); facts["net"] = "open"
except OSError as e:
    facts["net"] = type(e).__name__
try:
    s = socket.socket(); s.connect(("1.1.1.1", 53)); facts["internet"] = "open"
except OSError as e:
    facts["internet"] = type(e).__name__
facts["repo_listing"] = sorted(os.listdir(REPO)) if os.path.isdir(REPO) else []
facts["solutions_visible"] = os.path.exists(REPO + "/solutions")
facts["uid"] = os.getuid()
facts["home"] = os.environ.get("HOME")
facts["env_leak"] = "SECRET_FOR_TEST" in os.environ
try:
    open("/job/in/job.json", "a"); facts["in_writable"] = True
except OSError:
    facts["in_writable"] = False
try:
    open("/usr/evil", "w"); facts["usr_writable"] = True
except OSError:
    facts["usr_writable"] = False
facts["pids"] = len([p for p in os.listdir("/proc") if p.isdigit()])
'''

GRADER = '''
def test_facts(student, expect):
    for k, v in sorted(student.facts.items()):
        expect(k, str(v))
'''


def facts(job):
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    t = out.tests["test_g.py::test_facts"]
    return {r.name: r.value.text for r in t.values}


@needs_bwrap
def test_bwrap_isolates_network_files_and_privileges(make_job, monkeypatch):
    from autograder.run.sandbox.base import RUNTIME_DIR

    monkeypatch.setenv("SECRET_FOR_TEST", "1")
    repo = str(RUNTIME_DIR.parent.parent)
    job = make_job([f"REPO = {repo!r}", PROBE], GRADER)
    run = BwrapSandbox().run(job, Limits(job_timeout=60))
    assert run.isolation == "bwrap" and not run.timed_out
    f = facts(job)
    assert f["net"] != "open" and f["internet"] != "open"
    # Only the virtual environment is mounted from the repository (when it lives there:
    # .venv, or a per-Python folder such as .venv-3.12).
    venv = Path(sys.prefix)
    inside = [venv.relative_to(repo).parts[0]] if venv.is_relative_to(repo) else []
    assert f["repo_listing"] == str(inside)
    assert f["solutions_visible"] == "False"
    assert f["uid"] != "0"
    assert f["env_leak"] == "False"
    assert f["in_writable"] == "False" and f["usr_writable"] == "False"
    assert int(f["pids"]) <= 3  # its own pid namespace


@needs_bwrap
def test_bwrap_enforces_job_wall_time(make_job):
    job = make_job(["import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass"],
                   cell_timeout=100)
    run = BwrapSandbox().run(job, Limits(job_timeout=3))
    assert run.timed_out and run.duration_s < 20


def test_cell_time_limit_lets_later_cells_run(make_job):
    job = make_job(["while True: pass", "x = 41 + 1"],
                   "def test_x(student, expect):\n    expect('x', student.x)\n", cell_timeout=1)
    run = choose_sandbox("auto").run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert not run.timed_out
    assert "CellTimeLimit" in out.cells[0].error and out.cells[1].ok
    assert int(out.tests["test_g.py::test_x"].values[0].value.array) == 42


def test_test_time_limit(make_job):
    grader = "import pytest, time\n@pytest.mark.timeout(1)\ndef test_slow(expect):\n    time.sleep(30)\n    expect('a', 1)\n"
    job = make_job([], grader)
    choose_sandbox("auto").run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    t = out.tests["test_g.py::test_slow"]
    assert "TestTimeLimit" in t.message and t.values == ()


def test_os_exit_in_a_cell_ends_job_without_tests(make_job):
    job = make_job(["import os\nos._exit(0)", "x = 1"])
    choose_sandbox("auto").run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert out.started_cells == [0] and out.cells == [] and not out.finished


def test_huge_print_is_capped(make_job):
    job = make_job(["for _ in range(200):\n    print('x' * 100_000)", "y = 2"],
                   "def test_y(student, expect):\n    expect('y', student.y)\n")
    run = choose_sandbox("auto").run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert out.finished and out.tests["test_g.py::test_y"].values[0].value.array == 2
    assert run.duration_s < 30


def test_subprocess_sandbox_runs_and_is_named_weak(make_job):
    job = make_job(["import os\nx = os.getcwd()"], "def test_x(student, expect):\n    expect('x', student.x)\n")
    run = SubprocessSandbox().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert run.isolation == "subprocess" and out.finished
    # files a notebook writes land in the job's own folder, not where grading was started
    assert out.tests["test_g.py::test_x"].values[0].value.text == str(job / "home")


def test_fallback_is_loud(monkeypatch, capsys):
    from autograder.run.sandbox import bwrap as bw

    monkeypatch.setattr(bw.BwrapSandbox, "problem", staticmethod(lambda: "bwrap is not installed"))
    box = choose_sandbox("auto")
    assert box.name == "subprocess"
    assert "WARNING" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="bubblewrap sandbox unavailable"):
        choose_sandbox("bwrap")


def test_unknown_isolation_is_an_error():
    with pytest.raises(ValueError, match="auto, bwrap or subprocess"):
        choose_sandbox("docker")


def test_a_job_can_select_its_tests(make_job):
    grader = ("def test_a(expect):\n    expect('a', 1)\n\n"
              "def test_b(expect):\n    expect('b', 2)\n\n"
              "def test_c(expect):\n    expect('c', 3)\n")
    job = make_job(["x = 1"], grader, select=["test_g.py::test_c", "test_g.py::test_a"])
    SubprocessSandbox().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert sorted(out.tests) == ["test_g.py::test_a", "test_g.py::test_c"] and out.finished
