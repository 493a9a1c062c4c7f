"""A warm worker: import TensorFlow once, then fork one fresh child per job.

Runs inside one sandbox per worker (``python -m gradetape_runtime.zygote SPOOL``). The
trusted side writes a job under ``SPOOL/<job id>/`` and sends ``run <job id> <cpu s>`` on
stdin; the zygote forks a child that runs the job exactly as a fresh process would, waits
for it, then kills every process the job left behind, empties ``/tmp`` and answers
``done <job id> <status>`` on stdout. Without bubblewrap (weak isolation) the zygote shares
the host's processes and ``/tmp``: it then kills only its own descendants (it is their child
subreaper) and gives each job a private home and temp folder inside the job directory.

What this shares between the jobs of one worker (run one after another, never at once):
the sandbox's namespaces and the zygote's memory image from before any job ran. The zygote
is made non-dumpable so a job cannot ptrace it or read its memory, no job's process
survives into the next, and no job's file in ``/tmp`` either.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import shutil
import sys

from .execute import reap_strays

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _non_dumpable() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _warm_imports() -> None:
    """Import what every job needs, creating no tensor (forking after that is safe)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import _pytest.python  # noqa: F401
    import IPython.core.interactiveshell  # noqa: F401
    import keras  # noqa: F401
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import tensorflow  # noqa: F401

    try:
        import sklearn.datasets  # noqa: F401
    except ImportError:
        pass


def _empty(directory: str) -> None:
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _contained() -> bool:
    """Whether this zygote runs in a sandbox of its own (bubblewrap: own pid namespace, /tmp).

    Otherwise (weak isolation) it shares the host's processes and ``/tmp``: it may then only
    clean up its own descendants and the job's own folder.
    """
    return os.environ.get("GRADETAPE_PIDNS") == "1"


def _child(job_dir: str, cpu_seconds: int) -> None:
    """In the forked child: become a fresh job process, run the job, never return."""
    status = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        if _contained():
            home, tmp = "/tmp/home", "/tmp"
        else:  # never the host's /tmp: a private folder inside the job, removed with it
            home = tmp = os.path.join(job_dir, "home")
        os.makedirs(home, exist_ok=True)
        os.chdir(home)
        os.environ.update({"HOME": home, "TMPDIR": tmp, "IPYTHONDIR": home + "/.ipython"})
        import tempfile

        tempfile.tempdir = None
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        from .__main__ import main, record_failure

        try:
            status = main(job_dir)
        except BaseException:  # noqa: BLE001 - the trusted side reads the reason
            record_failure(job_dir)
    finally:
        os._exit(status)


def serve(spool: str) -> None:
    """Answer ``run`` requests on stdin until it closes."""
    _non_dumpable()
    contained = _contained()
    if not contained:
        _subreaper()
    _warm_imports()
    control = os.fdopen(os.dup(1), "w", buffering=1)
    print("ready", file=control)
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 3 or parts[0] != "run" or not _JOB_ID.match(parts[1]):
            print("error bad request", file=control)
            continue
        job_dir = os.path.join(spool, parts[1])
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(job_dir, int(parts[2]))
        _, wait_status = os.waitpid(pid, 0)
        # Every process the job left behind: the whole sandbox but init and this zygote, or
        # without bubblewrap this zygote's descendants (it is their child subreaper).
        reap_strays(deadline_s=10.0)
        if contained:
            _empty("/tmp")
        print(f"done {parts[1]} {os.waitstatus_to_exitcode(wait_status)}", file=control)


if __name__ == "__main__":
    serve(sys.argv[1])
