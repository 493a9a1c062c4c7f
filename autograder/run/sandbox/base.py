"""The one-method sandbox seam and the record of a run.

A sandbox runs ``python -m gradetape_runtime JOB_DIR`` for one job directory and returns a
:class:`SandboxRun` whatever happened: finished, crashed, killed for time. It never raises
for anything the student's code did.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autograder.run.sandbox.cgroup import PidsCgroup
from autograder.settings import Limits

#: Where the in-sandbox runtime package lives in this checkout.
RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
RUNTIME_NAME = "gradetape_runtime"


@dataclass(frozen=True)
class SandboxRun:
    """How a sandboxed job ended.

    Attributes:
        isolation: Name of the sandbox that ran it (``"bwrap"``, ``"subprocess"``, ``"fake"``).
        exit_code: The process's exit status (negative: killed by that signal).
        timed_out: Whether the job hit its wall-time limit and was killed.
        duration_s: Wall time.
        stderr_tail: The last bytes the process wrote to stderr before the runtime silenced it
            (for instructors debugging a broken set-up; never shown to students).
    """

    isolation: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    stderr_tail: str = ""


class Sandbox(Protocol):
    """Runs one job directory in isolation."""

    name: str

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run the job in ``job_dir`` (``in/`` read-only, ``out/`` writable)."""
        ...


def limit_resources(
    limits: Limits, processes: bool, cpu: bool = True, group: PidsCgroup | None = None
) -> None:
    """Apply rlimits in the child before exec (``preexec_fn``); inherited by bwrap's child."""
    if group is not None:
        group.enter()
    mb = 1 << 20
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb, limits.max_file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cpu:
        seconds = int(limits.job_timeout * 2) + 10
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))


def run_command(
    command: list[str],
    env: dict[str, str],
    limits: Limits,
    isolation: str,
    stderr_path: Path,
    limit_processes: bool,
    cwd: Path | None = None,
) -> SandboxRun:
    """Start ``command`` in its own session, enforce the wall time, kill the whole group."""
    start = time.monotonic()
    group = PidsCgroup(limits.max_processes)
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
            preexec_fn=lambda: limit_resources(limits, limit_processes, group=group),
        )
        timed_out = False
        try:
            proc.wait(timeout=limits.job_timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc.pid)
            proc.wait()
            group.remove()
    tail = ""
    try:
        with open(stderr_path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(stderr_path) - 4000))
            tail = fh.read().decode("utf-8", errors="replace")
    except OSError:
        pass
    return SandboxRun(isolation, proc.returncode, timed_out, time.monotonic() - start, tail)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def base_env() -> dict[str, str]:
    """The environment every job starts with: nothing of the grader's own environment."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }
