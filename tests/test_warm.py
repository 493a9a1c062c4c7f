"""Warm workers: jobs on one worker share nothing that matters, and a bad job costs only itself."""

import time
from pathlib import Path

import pytest

from autograder.run.job_output import read_job_output
from autograder.run.sandbox.pool import WarmPool
from autograder.settings import Limits

MB = 1 << 20
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("warm")]

GRADER = '''
def test_facts(student, expect):
    for k, v in sorted(student.facts.items()):
        expect(k, str(v))
'''


@pytest.fixture(scope="module")
def pool():
    box = WarmPool(1, Limits(), use_bwrap=True)
    yield box
    box.close()


def facts(job):
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    return {r.name: r.value.text for r in out.tests["test_g.py::test_facts"].values}


def run(pool, make_job, cells, grader=GRADER, timeout=60):
    job = make_job(cells, grader)
    result = pool.run(job, Limits(job_timeout=timeout))
    return job, result


def test_leftovers_of_one_job_do_not_reach_the_next(pool, make_job, tmp_path_factory):
    _, first = run(pool, make_job, [
        "import subprocess, os\n"
        "subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
        "open('/tmp/planted', 'w').write('x')\n"
        "open(os.path.expanduser('~/planted'), 'w').write('x')\n"
        "facts = {'ok': 1}"
    ])
    assert first.exit_code == 0 and first.isolation == "bwrap+fork"
    job, _ = run(pool, make_job, [
        "import os\n"
        "procs = [open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()]\n"
        "facts = {'sleep_alive': any('sleep' in c for c in procs),\n"
        "         'tmp_planted': os.path.exists('/tmp/planted'),\n"
        "         'home_planted': os.path.exists(os.path.expanduser('~/planted'))}"
    ])
    assert facts(job) == {"home_planted": "False", "sleep_alive": "False", "tmp_planted": "False"}


def test_zygote_memory_cannot_be_read(pool, make_job):
    job, _ = run(pool, make_job, [
        "import os\nfacts = {}\n"
        "for what in ('mem', 'environ'):\n"
        "    try:\n"
        "        open(f'/proc/{os.getppid()}/{what}', 'rb').read(16); facts[what] = 'readable'\n"
        "    except OSError as e:\n"
        "        facts[what] = type(e).__name__"
    ])
    f = facts(job)
    assert f["mem"] != "readable" and f["environ"] != "readable"


def test_hung_job_times_out_and_next_job_runs(pool, make_job):
    _, hung = run(pool, make_job, ["import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass"], timeout=5)
    assert hung.timed_out
    job, ok = run(pool, make_job, ["facts = {'alive': True}"])
    assert ok.exit_code == 0 and facts(job) == {"alive": "True"}


def test_os_exit_ends_only_that_job(pool, make_job):
    job, res = run(pool, make_job, ["import os\nos._exit(3)"])
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    assert res.exit_code == 3 and not out.finished
    job, ok = run(pool, make_job, ["facts = {'alive': True}"])
    assert facts(job) == {"alive": "True"}


def test_weak_warm_worker_cleans_up_only_its_own(make_job, tmp_path):
    """Without bubblewrap the zygote shares the host: it must not empty /tmp or kill others."""
    import subprocess
    import tempfile

    sentinel = tempfile.NamedTemporaryFile(dir="/tmp", prefix="gradetape-sentinel-", delete=False)
    sentinel.close()
    bystander = subprocess.Popen(["sleep", "60"])
    pidfile = tmp_path / "stray.pid"
    cells = [
        "import os, subprocess, tempfile\n"
        "open(os.path.join(tempfile.gettempdir(), 'scratch.txt'), 'w').write('x')\n"
        "tmp = tempfile.gettempdir()\n"
        # a daemon that outlives the job: double fork, own session
        f"subprocess.Popen(['sh', '-c', 'setsid sleep 300 & echo $! > {pidfile}'])\n"
        "import time; time.sleep(0.5)\n"
    ]
    grader = "def test_tmp(student, expect):\n    expect('tmp', student.tmp)\n"
    box = WarmPool(1, Limits(job_timeout=120), use_bwrap=False)
    try:
        job = make_job(cells, grader, tensorflow=False)
        run = box.run(job, Limits(job_timeout=120))
        assert run.exit_code == 0 and run.isolation == "subprocess+fork"
        stray = int(pidfile.read_text())
        for _ in range(100):
            if not Path(f"/proc/{stray}").exists():
                break
            time.sleep(0.05)
        assert not Path(f"/proc/{stray}").exists(), "the job's daemon survived the job"
        assert Path(sentinel.name).exists(), "the host's /tmp was emptied"
        assert bystander.poll() is None, "a process outside the worker was killed"
    finally:
        box.close()
        bystander.kill()
        Path(sentinel.name).unlink(missing_ok=True)
