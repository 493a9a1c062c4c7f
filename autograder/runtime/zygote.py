"""A warm worker: import TensorFlow once, then fork one fresh child per job.

Runs inside one sandbox per worker (``python -m gradetape_runtime.zygote SPOOL``). The
trusted side writes a job under ``SPOOL/<job id>/`` and sends
``run <job id> <cpu s> <storage MB> <output bytes>`` on stdin; the zygote answers
``started <job id>`` at once, forks a child and answers ``done <job id> <status>`` when the
child has ended.

Under bubblewrap (``GRADETAPE_CONFINE=1``) every child is born into a sandbox of its own
(:mod:`.confine`): new user, mount, pid, IPC, network and UTS namespaces, its own tmpfs for
everything writable, no capabilities, no descriptor of the zygote. Jobs share nothing with
each other or with the zygote but the zygote's memory image from before any job ran. The
zygote is not dumpable, and no job can see it, signal it or reach its control pipes.

Without bubblewrap (weak isolation) the zygote shares the host's processes and ``/tmp``: it
then kills only its own descendants (it is their child subreaper) and gives each job a
private home and temp folder inside the job directory.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import resource
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
    # Everything imported so far is permanent: a job's garbage collections (pytest runs five
    # at the end) then skip TensorFlow's heap, and never touch, so never copy, its pages.
    gc.collect()
    gc.freeze()


def _confined() -> bool:
    """Whether this zygote runs in a bubblewrap sandbox whose jobs get namespaces of their own.

    Otherwise (weak isolation) it shares the host's processes and ``/tmp``: it may then only
    clean up its own descendants and the job's own folder.
    """
    return os.environ.get("GRADETAPE_CONFINE") == "1"


def _run_job(job_dir: str, home: str, tmp: str, cpu_seconds: int) -> None:
    """Become a fresh job process and run the job; never returns."""
    status = 1
    try:
        os.setsid()
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


def _quiet_std_fds() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _child(job_dir: str, cpu_seconds: int, storage_mb: int, output_bytes: int) -> None:
    """In the forked child: run the job in a sandbox of its own (or, weak, a private folder)."""
    status = 71
    report = 3
    try:
        os.dup2(2, report)  # the worker's stderr, for a sandbox that cannot be built
        _quiet_std_fds()
        os.closerange(report + 1, 65536)  # nothing of the zygote's: not its control pipes
        if not _confined():
            os.close(report)
            home = os.path.join(job_dir, "home")  # never the host's /tmp
            _run_job(job_dir, home, home, cpu_seconds)
        from .confine import JOB_ROOT, CopyLimits, run_confined

        status = run_confined(
            job_dir,
            storage_mb,
            CopyLimits(max_bytes=output_bytes),
            lambda: _run_job(JOB_ROOT, "/tmp/home", "/tmp", cpu_seconds),
        )
        status = status if 0 <= status < 256 else 128 + min(-status, 127)
    except BaseException as exc:  # noqa: BLE001 - a sandbox that cannot be built runs nothing
        try:
            os.write(report, f"gradetape zygote: job sandbox failed: {exc}\n".encode()[:500])
        except OSError:
            pass
    finally:
        os._exit(status)


def serve(spool: str) -> None:
    """Answer ``run`` requests on stdin until it closes."""
    _non_dumpable()
    confined = _confined()
    if not confined:
        _subreaper()
    _warm_imports()
    control = os.fdopen(os.dup(1), "w", buffering=1)
    print("ready", file=control)
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 5 or parts[0] != "run" or not _JOB_ID.match(parts[1]):
            print("error bad request", file=control)
            continue
        job_id = parts[1]
        cpu, storage_mb, output_bytes = (int(p) for p in parts[2:])
        print(f"started {job_id}", file=control)
        pid = os.fork()
        if pid == 0:
            _child(os.path.join(spool, job_id), cpu, storage_mb, output_bytes)
        _, wait_status = os.waitpid(pid, 0)
        if not confined:
            # Without namespaces: every process the job left behind among this zygote's
            # descendants (it is their child subreaper).
            reap_strays(deadline_s=10.0)
        print(f"done {job_id} {os.waitstatus_to_exitcode(wait_status)}", file=control)


if __name__ == "__main__":
    serve(sys.argv[1])
