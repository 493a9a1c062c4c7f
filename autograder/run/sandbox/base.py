"""The sandbox seam: one interface every kind implements, its declared data, a run's record.

A sandbox runs ``python -m gradetape_runtime JOB_DIR`` for one job directory and returns a
:class:`SandboxRun` whatever happened: finished, crashed, killed for time. It never raises
for anything the student's code did. Every kind (cold bubblewrap, plain subprocess, warm
pool, early one-job worker, Dask cluster) is built by
:func:`autograder.run.sandbox.factory.make_sandbox`, declares what it can do as
:class:`Capabilities`, and is closed with :meth:`Sandbox.close` or a ``with`` block.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

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


#: How a sandbox keeps a job from the machine: bubblewrap namespaces, a plain subprocess
#: (weak: rlimits only), or ``auto`` on a cluster, where each worker picks for itself.
Isolation = Literal["bwrap", "process", "auto"]


@dataclass(frozen=True)
class Capabilities:
    """What a sandbox offers, declared when it is built (never probed from outside).

    Attributes:
        isolation: ``"bwrap"`` (namespaces: no network, no host files), ``"process"`` (a
            plain subprocess with resource limits only), ``"auto"`` (remote workers choose).
        warm: Whether jobs fork from a zygote that has already imported TensorFlow.
        workers: How many jobs it runs at once.
        gpu: Whether a job can reach a GPU (local device nodes, or GPU workers on a cluster).
        remote: Whether jobs run on other machines (a Dask cluster).
    """

    isolation: Isolation
    warm: bool
    workers: int
    gpu: bool
    remote: bool = False


@dataclass(frozen=True)
class Needs:
    """What a batch's jobs require of whatever runs them (see :meth:`Sandbox.routed`).

    Attributes:
        gpu: The grader has ``gpu`` tests: the jobs prefer a GPU worker.
    """

    gpu: bool = False


class Sandbox(ABC):
    """Runs one job directory at a time in isolation; owns whatever it started until closed.

    Attributes:
        name: Shown to instructors and stamped on each run (``"bwrap"``, ``"bwrap+fork"``,
            ``"subprocess"``, ``"subprocess+fork"``, ``"dask"``).
        capabilities: What it offers (isolation, warm, workers, GPU, remote).
    """

    name: str
    capabilities: Capabilities

    @abstractmethod
    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run the job in ``job_dir`` (``in/`` read-only, ``out/`` writable).

        Never raises for what the job did; raises only when the sandbox itself is broken.
        """

    def close(self) -> None:  # noqa: B027 - a sandbox that holds nothing has nothing to do
        """Stop its workers and remove what it created; nothing for a stateless sandbox."""

    def routed(self, needs: Needs) -> Sandbox:
        """The sandbox for jobs with ``needs``; it shares this one's workers.

        A local sandbox runs every job on this machine and is its own answer; a cluster
        sends jobs that need a GPU to GPU workers. Close the sandbox the factory built, not
        the routed one.
        """
        del needs
        return self

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


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
