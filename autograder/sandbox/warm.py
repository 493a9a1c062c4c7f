"""Warm workers: one sandbox per worker holding a zygote that has imported TensorFlow.

Each job still runs in its own freshly forked process, inside a sandbox that holds no other
job at the same time; what the jobs of one worker share is listed in
``autograder/runtime/zygote.py``. Set ``warm = false`` in ``gradetape.toml`` (or
``--cold``) for a brand-new sandbox per job, at the cost of importing TensorFlow each time.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ..settings import Limits
from .base import RUNTIME_DIR, RUNTIME_NAME, SandboxRun, base_env, limit_resources
from .bwrap import BwrapSandbox
from .cgroup import PidsCgroup

STARTUP_TIMEOUT = 180.0
log = logging.getLogger(__name__)


class WarmWorker:
    """One sandbox with a zygote; runs one job at a time."""

    def __init__(self, limits: Limits, use_bwrap: bool) -> None:
        self.limits = limits
        self.use_bwrap = use_bwrap
        self.spool = Path(tempfile.mkdtemp(prefix="gradetape-spool-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.isolation = "bwrap+fork" if use_bwrap else "subprocess+fork"
        self.group: PidsCgroup | None = None

    def _command(self) -> tuple[list[str], dict[str, str]]:
        module = f"{RUNTIME_NAME}.zygote"
        if self.use_bwrap:
            box = BwrapSandbox()
            # No --die-with-parent: it fires when the *thread* that started bwrap ends. The
            # zygote exits by itself when its stdin closes (this process ended).
            args = box.command(Path("/nonexistent"), spool=self.spool)
            args.remove("--die-with-parent")
            return args[: args.index("--")] + ["--", *box.python(), "-m", module, "/spool"], {}
        lib = self.spool / ".lib"
        lib.mkdir()
        (lib / RUNTIME_NAME).symlink_to(RUNTIME_DIR, target_is_directory=True)
        env = base_env() | {"PYTHONPATH": str(lib), "HOME": str(self.spool)}
        import sys

        return [sys.executable, "-m", module, str(self.spool)], env

    def start(self) -> None:
        """Start the sandbox and wait until the zygote has imported TensorFlow."""
        command, env = self._command()
        if self.group is None:
            self.group = PidsCgroup(self.limits.max_processes)
        self.proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.spool.parent / f"{self.spool.name}.stderr", "wb"),
            start_new_session=True,
            close_fds=True,
            preexec_fn=lambda: limit_resources(self.limits, False, cpu=False, group=self.group),
        )
        line = self._readline(STARTUP_TIMEOUT)
        if line != "ready":
            self.stop()
            raise RuntimeError(f"warm worker did not start (said {line!r})")

    def _readline(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1)
            if not chunk:
                return None
            data += chunk
            if len(data) > 200:
                return None
        return data.decode(errors="replace").strip()

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Move the job into the spool, run it, move it back."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        job_id = uuid.uuid4().hex[:16]
        spooled = self.spool / job_id
        os.rename(job_dir, spooled)
        start = time.monotonic()
        timed_out, code = False, None
        try:
            cpu = int(limits.job_timeout * 2) + 10
            self.proc.stdin.write(f"run {job_id} {cpu}\n".encode())
            self.proc.stdin.flush()
            answer = self._readline(limits.job_timeout)
            if answer is None:
                timed_out = time.monotonic() - start >= limits.job_timeout - 0.5
                self.stop()  # a hung or dead worker is replaced on the next job
            elif answer.startswith(f"done {job_id} "):
                code = int(answer.rsplit(" ", 1)[1])
            else:
                self.stop()
        except (BrokenPipeError, OSError, ValueError):
            self.stop()
        finally:
            os.rename(spooled, job_dir)
        return SandboxRun(self.isolation, code, timed_out, time.monotonic() - start)

    def stop(self) -> None:
        """Kill the worker's sandbox."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        """Stop the worker and remove its spool and cgroup."""
        self.stop()
        if self.group is not None:
            self.group.remove()
        shutil.rmtree(self.spool, ignore_errors=True)


class WarmPool:
    """A pool of warm workers behind the one-method sandbox interface.

    Args:
        size: Number of workers (jobs that can run at once).
        limits: Limits applied to the whole worker sandbox (memory, file size).
        use_bwrap: Whether workers run under bubblewrap.
    """

    def __init__(self, size: int, limits: Limits, use_bwrap: bool) -> None:
        self.workers = [WarmWorker(limits, use_bwrap) for _ in range(max(1, size))]
        self.name = self.workers[0].isolation
        self._free: queue.Queue[WarmWorker] = queue.Queue()
        self._starters: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        """Start every worker (in parallel) when the first job arrives, not before.

        A batch whose results all come from the cache then never imports TensorFlow.
        """
        with self._lock:
            if self._starters:
                return
            self._starters = [threading.Thread(target=self._start, args=(w,)) for w in self.workers]
            for t in self._starters:
                t.start()

    def _start(self, worker: WarmWorker) -> None:
        try:
            worker.start()
        except Exception as exc:  # noqa: BLE001 - retried lazily on the first job
            log.warning("warm worker failed to start (%s); retrying on its first job", exc)
            worker.stop()
        self._free.put(worker)

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run a job on the next free worker."""
        self._ensure_started()
        worker = self._free.get()
        try:
            return worker.run(job_dir, limits)
        finally:
            self._free.put(worker)

    def close(self) -> None:
        """Stop every worker."""
        for t in self._starters:
            t.join()
        for w in self.workers:
            w.close()
