"""Warm workers: one outer sandbox per worker holding a zygote that has imported TensorFlow.

Each job is forked from the zygote and born into a sandbox of its own (new user, mount, pid,
IPC, network and UTS namespaces, its own tmpfs; see ``autograder/runtime/confine.py``), so
jobs of one worker share nothing but the zygote's memory image from before any job ran.
``warm = false`` (or ``--cold``) starts a brand-new outer sandbox for every job. A batch's
workers are held by :class:`~autograder.run.sandbox.pool.WarmPool`.

The control channel is the zygote's stdin and stdout, held only by this process and the
zygote; no job can see the zygote or its descriptors. The zygote acknowledges every request
at once (``started``): a worker that does not (stopped, hung, dead) is replaced within
:data:`ACK_TIMEOUT` seconds and the job runs again on the new one, at no cost to the student.
Workers are started from one long-lived launcher thread with bubblewrap's
``--die-with-parent``, so they die with the grading process, and stopping a worker kills the
sandbox's pid 1, which takes every process inside with it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.run.sandbox.base import (
    RUNTIME_DIR,
    RUNTIME_NAME,
    SandboxRun,
    base_env,
    limit_resources,
)
from autograder.run.sandbox.bwrap import outer_command, sandbox_ids
from autograder.run.sandbox.cgroup import PidsCgroup
from autograder.settings import Limits

STARTUP_TIMEOUT = 180.0
ACK_TIMEOUT = 15.0
STDERR_TAIL = 4000
log = logging.getLogger(__name__)


class _Launcher:
    """One thread that lives as long as the process and starts every worker.

    bubblewrap's ``--die-with-parent`` fires when the *thread* that started it ends; a
    thread that never ends makes it fire exactly when the grading process dies.
    """

    _instance: _Launcher | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Callable[[], Any], queue.Queue[Any]]] = queue.Queue()
        threading.Thread(target=self._loop, name="gradetape-launcher", daemon=True).start()

    @classmethod
    def get(cls) -> _Launcher:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _loop(self) -> None:
        while True:
            call, answer = self._requests.get()
            try:
                answer.put((True, call()))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                answer.put((False, exc))

    def run(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` on the launcher thread and return its result (or raise its error)."""
        answer: queue.Queue[Any] = queue.Queue()
        self._requests.put((call, answer))
        ok, value = answer.get()
        if not ok:
            raise value
        return value


class _Tail(threading.Thread):
    """Drains a pipe, keeping only its last bytes (a job can never fill a disk through it)."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="gradetape-stderr", daemon=True)
        self.fd = fd
        self.data = b""

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                self.data = (self.data + chunk)[-STDERR_TAIL:]
        except OSError:
            pass
        finally:
            os.close(self.fd)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _chown_tree(root: Path, ids: tuple[int, int]) -> None:
    for folder, dirs, files in os.walk(root):
        os.chown(folder, *ids, follow_symlinks=False)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), *ids, follow_symlinks=False)


class WarmWorker:
    """One outer sandbox with a zygote; runs one job at a time.

    Args:
        limits: Limits of the outer sandbox (memory, file size, processes).
        use_bwrap: Whether the outer sandbox is bubblewrap (else a plain process).
        isolation: The name stamped on its runs (default ``bwrap+fork`` or
            ``subprocess+fork``; a cold sandbox's one-job worker says ``bwrap``).
    """

    def __init__(self, limits: Limits, use_bwrap: bool, isolation: str | None = None) -> None:
        self.limits = limits
        self.use_bwrap = use_bwrap
        self.spool = Path(tempfile.mkdtemp(prefix="gradetape-spool-"))
        self.ids = sandbox_ids() if use_bwrap else None
        if self.ids is not None:
            os.chown(self.spool, *self.ids)
        self.stage: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.init_pid: int | None = None
        self.isolation = isolation or ("bwrap+fork" if use_bwrap else "subprocess+fork")
        self.group: PidsCgroup | None = None
        self._tail: _Tail | None = None
        self.stalled = False

    def _command(self, info_fd: int) -> tuple[list[str], dict[str, str] | None]:
        if self.use_bwrap:
            if os.geteuid() == 0 and self.stage is None:
                # In /tmp itself, not TMPDIR: the sandbox uid must be able to reach it.
                self.stage = Path(tempfile.mkdtemp(prefix="gradetape-stage-", dir="/tmp"))
                os.chmod(self.stage, 0o755)
            return outer_command(self.spool, self.stage, info_fd), {}
        lib = self.spool / ".lib"
        lib.mkdir(exist_ok=True)
        if not (lib / RUNTIME_NAME).exists():
            (lib / RUNTIME_NAME).symlink_to(RUNTIME_DIR, target_is_directory=True)
        env = base_env() | {"PYTHONPATH": str(lib), "HOME": str(self.spool)}
        return [sys.executable, "-m", f"{RUNTIME_NAME}.zygote", str(self.spool)], env

    def start(self) -> None:
        """Start the sandbox and wait until the zygote has imported TensorFlow."""
        if self.group is None:
            self.group = PidsCgroup(self.limits.max_processes)
        info_r, info_w = os.pipe()
        err_r, err_w = os.pipe()
        command, env = self._command(info_w)
        group = self.group

        def launch() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err_w,
                pass_fds=(info_w,),
                start_new_session=True,
                close_fds=True,
                preexec_fn=lambda: limit_resources(self.limits, False, cpu=False, group=group),
            )

        try:
            self.proc = _Launcher.get().run(launch)
        finally:
            os.close(info_w)
            os.close(err_w)
        self._tail = _Tail(err_r)
        self._tail.start()
        line = self._readline(STARTUP_TIMEOUT)
        self.init_pid = _read_info(info_r) if self.use_bwrap else None
        os.close(info_r)
        if line != "ready":
            tail = self.stderr_tail()
            self.stop()
            raise RuntimeError(f"warm worker did not start (said {line!r}; stderr: {tail[-500:]})")

    def stderr_tail(self) -> str:
        """The last bytes the worker's sandbox wrote to stderr (for instructors)."""
        return self._tail.text() if self._tail is not None else ""

    def _zygote_pid(self) -> int | None:
        """The zygote's host pid: the child of the sandbox's pid 1 (or the process itself)."""
        if self.init_pid is None:
            return self.proc.pid if self.proc is not None else None
        try:
            path = f"/proc/{self.init_pid}/task/{self.init_pid}/children"
            with open(path) as fh:
                return int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _stalled(self) -> bool:
        """Whether the zygote is stopped or gone (it would never answer)."""
        pid = self._zygote_pid()
        if pid is None:
            return True
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state in {"T", "t", "Z", "X"}

    def _readline(self, timeout: float) -> str | None:
        """One line from the zygote; ``None`` on timeout, EOF or a stopped zygote."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not select.select([fd], [], [], min(left, 1.0))[0]:
                if self._stalled():
                    self.stalled = True
                    return None
                continue
            chunk = os.read(fd, 1)
            if not chunk:
                return None
            data += chunk
            if len(data) > 200:
                return None
        return data.decode(errors="replace").strip()

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Move the job into the spool, run it, move it back.

        A worker that does not acknowledge the job (stopped, hung, dead) is replaced and the
        job runs again, once.
        """
        start = time.monotonic()
        job_id = uuid.uuid4().hex[:16]
        spooled = self.spool / job_id
        os.rename(job_dir, spooled)
        try:
            if self.ids is not None:
                _chown_tree(spooled, self.ids)
            for _attempt in range(2):
                outcome = self._run_once(job_id, limits)
                if outcome is not None:
                    code, timed_out = outcome
                    return SandboxRun(self.isolation, code, timed_out, time.monotonic() - start, "")
                _reset_out(spooled / "out")
            return SandboxRun(
                self.isolation, None, False, time.monotonic() - start, self.stderr_tail()
            )
        finally:
            try:
                os.rename(spooled, job_dir)
            except OSError as exc:  # weak isolation: the job removed its own folder
                log.warning("job folder %s is gone (%s); its output is missing", spooled, exc)

    def _run_once(self, job_id: str, limits: Limits) -> tuple[int | None, bool] | None:
        """Run the job on this worker; ``None`` when the worker never took it."""
        try:
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            assert self.proc is not None and self.proc.stdin is not None
            cpu = int(limits.job_timeout * 2) + 10
            copy_bytes = (limits.max_total_mb + limits.handover_mb) << 20  # values + hand-over
            request = f"run {job_id} {cpu} {limits.storage_mb} {copy_bytes}\n"
            self.proc.stdin.write(request.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, RuntimeError) as exc:
            log.warning("warm worker unusable (%s); starting a new one", exc)
            self.stop()
            return None
        began = time.monotonic()
        if self._readline(ACK_TIMEOUT) != f"started {job_id}":
            log.warning("warm worker did not take a job within %g s; replacing it", ACK_TIMEOUT)
            self.stop()
            return None
        self.stalled = False
        answer = self._readline(max(1.0, limits.job_timeout - (time.monotonic() - began)))
        if answer is not None and answer.startswith(f"done {job_id} "):
            try:
                return int(answer.rsplit(" ", 1)[1]), False
            except ValueError:
                pass
        timed_out = answer is None and time.monotonic() - began >= limits.job_timeout - 1.0
        stalled = self.stalled
        self.stop()  # a hung or dead worker is replaced on the next job
        if stalled:
            log.warning("warm worker's zygote stopped during a job; running the job again")
            return None
        return None, timed_out

    def stop(self) -> None:
        """Kill the worker's sandbox: its pid 1 (and so every process inside), then bwrap."""
        if self.init_pid is not None:
            _kill(self.init_pid)
            self.init_pid = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
            self.proc = None

    def close(self) -> None:
        """Stop the worker and remove its spool, staging folder and cgroup."""
        self.stop()
        if self.group is not None:
            self.group.remove()
        shutil.rmtree(self.spool, ignore_errors=True)
        if self.stage is not None:
            try:
                self.stage.rmdir()
            except OSError:
                pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_info(fd: int) -> int | None:
    """Bubblewrap's ``child-pid`` (the sandbox's pid 1 on the host) from its info pipe."""
    data = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 4096)
        if not chunk or len(data) > 65536:
            break
        data += chunk
    try:
        pid = json.loads(data.decode()).get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


def _reset_out(out: Path) -> None:
    """Empty a job's output folder before it runs again on a new worker."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(exist_ok=True)
