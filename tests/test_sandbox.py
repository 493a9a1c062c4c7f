"""The sandboxes: the factory and the interface, isolation properties and limits (small jobs)."""

import shutil
import sys
from pathlib import Path

import pytest

from autograder.run.job_output import read_job_output
from autograder.run.sandbox import (
    BwrapSandbox,
    Capabilities,
    Needs,
    Sandbox,
    SandboxRun,
    SandboxSpec,
    SubprocessSandbox,
    make_sandbox,
)
from autograder.run.sandbox.bwrap import gpu_devices
from autograder.run.sandbox.early import EarlySandbox
from autograder.run.sandbox.pool import WarmPool
from autograder.settings import CourseSettings, Limits

MB = 1 << 20
GPU = bool(gpu_devices())
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


def cold(isolation="auto"):
    """A cold sandbox of ``isolation``, built by the factory."""
    return make_sandbox(SandboxSpec(isolation, warm=False))


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
    run = cold().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert not run.timed_out
    assert "CellTimeLimit" in out.cells[0].error and out.cells[1].ok
    assert int(out.tests["test_g.py::test_x"].values[0].value.array) == 42


def test_test_time_limit(make_job):
    grader = "import pytest, time\n@pytest.mark.timeout(1)\ndef test_slow(expect):\n    time.sleep(30)\n    expect('a', 1)\n"
    job = make_job([], grader)
    cold().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    t = out.tests["test_g.py::test_slow"]
    assert "TestTimeLimit" in t.message and t.values == ()


def test_os_exit_in_a_cell_ends_job_without_tests(make_job):
    job = make_job(["import os\nos._exit(0)", "x = 1"])
    cold().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert out.started_cells == [0] and out.cells == [] and not out.finished


def test_huge_print_is_capped(make_job):
    job = make_job(["for _ in range(200):\n    print('x' * 100_000)", "y = 2"],
                   "def test_y(student, expect):\n    expect('y', student.y)\n")
    run = cold().run(job, Limits(job_timeout=60))
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
    box = cold("auto")
    assert box.name == "subprocess" and box.capabilities.isolation == "process"
    assert "WARNING" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="bubblewrap sandbox unavailable"):
        cold("bwrap")


def test_unknown_isolation_is_an_error():
    with pytest.raises(ValueError, match="auto, bwrap or subprocess"):
        cold("docker")


def test_a_job_can_select_its_tests(make_job):
    grader = ("def test_a(expect):\n    expect('a', 1)\n\n"
              "def test_b(expect):\n    expect('b', 2)\n\n"
              "def test_c(expect):\n    expect('c', 3)\n")
    job = make_job(["x = 1"], grader, select=["test_g.py::test_c", "test_g.py::test_a"])
    SubprocessSandbox().run(job, Limits(job_timeout=60))
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert sorted(out.tests) == ["test_g.py::test_a", "test_g.py::test_c"] and out.finished


# -- the factory and the interface ---------------------------------------------------------------


@needs_bwrap
@pytest.mark.parametrize(
    ("isolation", "warm", "kind", "capabilities"),
    [
        ("bwrap", False, BwrapSandbox, Capabilities("bwrap", False, 3, GPU)),
        ("subprocess", False, SubprocessSandbox, Capabilities("process", False, 3, GPU)),
        ("bwrap", True, WarmPool, Capabilities("bwrap", True, 3, GPU)),
        ("subprocess", True, WarmPool, Capabilities("process", True, 3, GPU)),
    ],
)
def test_the_factory_builds_each_local_kind_from_settings(tmp_path, isolation, warm, kind, capabilities):
    limits = Limits(memory_mb=1000)
    settings = CourseSettings(tmp_path, isolation=isolation, warm=warm, workers=3, limits=limits)
    spec = SandboxSpec.from_settings(settings)
    assert spec == SandboxSpec(isolation, warm, 3, limits)
    with make_sandbox(spec) as box:
        assert type(box) is kind and isinstance(box, Sandbox)
        assert box.capabilities == capabilities
        assert box.routed(Needs(gpu=True)) is box  # a local sandbox runs every job here
        if warm:  # the pool is started by its first job, with the spec's limits
            assert len(box.workers) == 3 and {w.limits for w in box.workers} == {limits}
            assert all(w.proc is None for w in box.workers)


def test_a_spec_from_settings_uses_the_cluster_only_when_asked(tmp_path):
    settings = CourseSettings(tmp_path, scheduler="tcp://scheduler:8786", warm=False)
    local = SandboxSpec.from_settings(settings)
    assert local.scheduler is None and local.workers == settings.worker_count
    assert local.limits == settings.limits and local.warm is False
    batch = SandboxSpec.from_settings(settings, Limits(job_timeout=5), workers=2, cluster=True)
    assert batch.scheduler == "tcp://scheduler:8786"
    assert batch.limits == Limits(job_timeout=5) and batch.workers == 2


def test_the_context_manager_closes_the_sandbox_also_on_an_error(make_job):
    class Boom(Exception):
        pass

    grader = "def test_x(student, expect):\n    expect('x', student.x)\n"
    spec = SandboxSpec("subprocess", warm=True, workers=1, limits=Limits(job_timeout=120))
    with pytest.raises(Boom), make_sandbox(spec) as box:
        job = make_job(["x = 6 * 7"], grader)
        run = box.run(job, Limits(job_timeout=120))
        [worker] = box.workers
        proc, spool = worker.proc, worker.spool
        assert proc.poll() is None and spool.is_dir()
        raise Boom
    assert run.isolation == "subprocess+fork" and run.exit_code == 0
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert int(out.tests["test_g.py::test_x"].values[0].value.array) == 42
    assert proc.poll() is not None, "the warm worker outlived the with block"
    assert not spool.exists() and worker.proc is None


@needs_bwrap
def test_the_early_sandbox_runs_one_job_on_the_worker_it_started(make_job):
    grader = "def test_x(student, expect):\n    expect('x', student.x)\n"
    spec = SandboxSpec("auto", limits=Limits(job_timeout=120), early=True, warn_weak=False)
    with make_sandbox(spec) as box:
        assert type(box) is EarlySandbox
        assert box.capabilities == Capabilities("bwrap", True, 1, GPU)
        job = make_job(["x = 6 * 7"], grader)
        run = box.run(job, Limits(job_timeout=120))
        worker = box.worker
    assert run.isolation == "bwrap+fork" and not run.timed_out
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert int(out.tests["test_g.py::test_x"].values[0].value.array) == 42
    assert worker.proc is None and not worker.spool.exists()


def test_without_bwrap_the_early_sandbox_refuses_on_its_job_or_falls_back_quietly(
    monkeypatch, capsys, make_job
):
    from autograder.run.sandbox import bwrap as bw

    monkeypatch.setattr(bw.BwrapSandbox, "problem", staticmethod(lambda: "bwrap is not installed"))
    with make_sandbox(SandboxSpec("bwrap", early=True)) as box:
        # an unreadable notebook is still reported: the refusal comes with the job
        with pytest.raises(RuntimeError, match="bubblewrap sandbox unavailable"):
            box.run(make_job(["x = 1"]), Limits(job_timeout=60))
        assert box.worker.proc is None  # nothing was started
    with make_sandbox(SandboxSpec("auto", early=True, warn_weak=False)) as box:
        assert box.capabilities.isolation == "process" and box.name == "subprocess+fork"
    with make_sandbox(SandboxSpec("auto", warm=False, warn_weak=False)) as box:
        assert type(box) is SubprocessSandbox
    assert "WARNING" not in capsys.readouterr().err  # validate: the student's own code


class Recording(Sandbox):
    """A sandbox that only records what happened to it."""

    name = "recording"
    capabilities = Capabilities("process", False, 1, False)

    def __init__(self):
        self.closed = 0

    def run(self, job_dir, limits):
        return SandboxRun(self.name, 0, False, 0.0)

    def close(self):
        self.closed += 1


def test_the_interface_gives_every_kind_the_context_manager_and_routing():
    box = Recording()
    with box as entered:
        assert entered is box and box.closed == 0
    assert box.closed == 1
    assert box.routed(Needs(gpu=True)) is box


def test_the_factory_connects_to_a_cluster_and_warm_reaches_its_workers(make_job):
    from distributed import LocalCluster

    from autograder.run.sandbox.dask import DaskSandbox

    grader = "def test_x(student, expect):\n    expect('x', student.x)\n"
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        spec = SandboxSpec("auto", warm=False, workers=7, scheduler=cluster.scheduler_address)
        with make_sandbox(spec) as box:
            assert type(box) is DaskSandbox
            assert box.capabilities == Capabilities("auto", False, 2, False, remote=True)
            job = make_job(["x = 6 * 7"], grader)
            run = box.run(job, Limits(job_timeout=120))
            client = box.client
        assert client.status == "closed", "the sandbox did not close its connection"
    # a cold sandbox on the worker (a warm one would be "bwrap+fork")
    local = "bwrap" if BwrapSandbox.problem() is None else "subprocess"
    assert run.isolation == f"dask:{local}" and not run.timed_out
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert int(out.tests["test_g.py::test_x"].values[0].value.array) == 42


@needs_bwrap
def test_a_job_imports_from_its_python_installation_and_cannot_write_it():
    """Wherever the venv lives (also under /tmp, as in a temporary clone): every module the
    zygote did not import still loads in a job, and the installation stays read-only."""
    from autograder.load.exercise import load_exercise
    from autograder.load.notebook import CodeCell
    from autograder.run.jobs import run_job
    from autograder.settings import load_settings

    exercise = load_exercise(load_settings(Path(__file__).resolve().parent.parent), "01_tensors")
    source = (
        "import os, sys\n"
        "try:\n    open(os.path.join(sys.prefix, 'gradetape-probe'), 'w'); w = 'writable'\n"
        "except OSError:\n    w = 'read-only'\n"
        "import xml.dom.minidom, IPython.core.oinspect\n"
        "raise RuntimeError(w)\n"
    )
    with make_sandbox(SandboxSpec("bwrap", True, 1, exercise.limits)) as box:
        result = run_job(exercise, [CodeCell(0, "probe", source, "student")], 1, box)
    assert [c.error for c in result.output.cells] == ["RuntimeError: read-only"]
