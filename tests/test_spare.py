"""The spare interpreter behind ``fresh_python``: clean, faithful to ``python -c``, one use."""

import shutil

import pytest

from autograder.sandbox import BwrapSandbox, SubprocessSandbox
from autograder.settings import Limits
from autograder.values import read_job_output

MB = 1 << 20

CELLS = [
    "import json, os\njson.STUDENT_WAS_HERE = True\nstudent_pid = os.getpid()",
    # a stray process: the reaper after this cell must kill it but not the spare
    "import subprocess\nstray = subprocess.Popen(['sleep', '30'])",
    "with open('my_module.py', 'w') as fh:\n    fh.write('VALUE = 41\\n')",
]

GRADER = r'''
import os, subprocess, sys
import pytest

PROBE = """
import json, os, sys
import my_module
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "pid": os.getpid(),
                  "student": hasattr(json, "STUDENT_WAS_HERE"), "value": my_module.VALUE + 1,
                  "env": os.environ.get("PROBE_ENV")}))
print("to stderr", file=sys.stderr)
sys.exit(3)
"""

@pytest.mark.question("q")
def test_first_call_uses_the_spare(student, expect, fresh_python, tmp_path):
    here = os.getcwd()
    env = dict(os.environ, PROBE_ENV="yes", PYTHONPATH=here)
    run = fresh_python(PROBE, ["a", 2], cwd=str(tmp_path), env=env, timeout=60)
    import json
    facts = json.loads(run.stdout)
    expect("returncode", run.returncode)
    expect("stderr", run.stderr.strip())
    expect("argv", " ".join(facts["argv"]))
    expect("cwd_is_tmp", facts["cwd"] == str(tmp_path))
    expect("student_state_seen", facts["student"])
    expect("module_value", facts["value"])
    expect("env", facts["env"])
    expect("fresh_pid", facts["pid"] not in (os.getpid(), student.student_pid))

@pytest.mark.question("q")
def test_later_calls_start_a_real_interpreter(expect, fresh_python):
    run = fresh_python("import sys; print(sys.argv[1:]); raise ValueError('boom')", ["x"], timeout=60)
    expect("returncode", run.returncode)
    expect("stdout", run.stdout.strip())
    expect("stderr_last", run.stderr.strip().splitlines()[-1])
'''

GRADER_TIMEOUT = r'''
import subprocess
import pytest

@pytest.mark.question("q")
def test_timeout(expect, fresh_python):
    try:
        fresh_python("import time; time.sleep(30)", timeout=1)
        expect("timed_out", False)
    except subprocess.TimeoutExpired:
        expect("timed_out", True)
'''


def values(job, test):
    out = read_job_output(str(job / "out"), MB, 64 * MB)
    return {r.name: (r.value.text if r.value.text is not None else r.value.array.item()) for r in out.tests[f"test_g.py::{test}"].values}


@pytest.mark.parametrize("box", [
    SubprocessSandbox,
    pytest.param(BwrapSandbox, marks=pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bwrap")),
])
def test_fresh_python(make_job, box):
    job = make_job(CELLS, GRADER)
    box().run(job, Limits(job_timeout=120))
    first = values(job, "test_first_call_uses_the_spare")
    assert first == {"returncode": 3, "stderr": "to stderr", "argv": "-c a 2", "cwd_is_tmp": True,
                     "student_state_seen": False, "module_value": 42, "env": "yes", "fresh_pid": True}
    later = values(job, "test_later_calls_start_a_real_interpreter")
    assert later == {"returncode": 1, "stdout": "['x']", "stderr_last": "ValueError: boom"}


def test_a_spare_past_its_timeout_is_killed(make_job):
    job = make_job(["x = 1"], GRADER_TIMEOUT)
    SubprocessSandbox().run(job, Limits(job_timeout=60))
    assert values(job, "test_timeout") == {"timed_out": True}


def test_a_notebook_that_kills_the_spare_still_gets_a_fresh_interpreter(make_job):
    # Kill every other process of ours (the spare among them): the grader falls back.
    killer = ("import os, signal\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
              "        try:\n            os.kill(int(p), signal.SIGKILL) if open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1] == str(os.getpid()) else None\n"
              "        except OSError:\n            pass\n")
    job = make_job([killer], GRADER_TIMEOUT.replace("time.sleep(30)", "pass"))
    SubprocessSandbox().run(job, Limits(job_timeout=60))
    assert values(job, "test_timeout") == {"timed_out": False}


@pytest.mark.slow
def test_the_spare_runs_tensorflow_without_importing_it_again(make_job):
    grader = r'''
import time
import pytest

SCRIPT = """
import sys, time
start = time.monotonic()
import tensorflow as tf, keras
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
with tf.GradientTape() as tape:
    y = tf.reduce_sum(model(tf.ones((4, 3))))
grads = tape.gradient(y, model.trainable_variables)
print(len(grads), round(time.monotonic() - start, 3))
"""

@pytest.mark.question("q")
def test_tf(expect, fresh_python):
    run = fresh_python(SCRIPT, timeout=120)
    n, seconds = run.stdout.split()
    expect("n_grads", int(n))
    expect("fast", float(seconds) < 3.0)
    expect("stderr", run.stderr)
'''
    job = make_job(["x = 1"], grader, tensorflow=True)
    SubprocessSandbox().run(job, Limits(job_timeout=200))
    assert values(job, "test_tf") == {"n_grads": 2, "fast": True, "stderr": ""}
