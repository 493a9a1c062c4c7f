"""A pool of warm workers (see :mod:`autograder.run.sandbox.warm`) behind the sandbox seam."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from autograder.run.sandbox.base import Capabilities, Sandbox, SandboxRun
from autograder.run.sandbox.bwrap import gpu_devices
from autograder.run.sandbox.warm import WarmWorker
from autograder.settings import Limits

log = logging.getLogger(__name__)


class WarmPool(Sandbox):
    """Warm workers, each running one job at a time; started when the first job arrives.

    Args:
        size: Number of workers (jobs that can run at once).
        limits: Limits applied to the whole worker sandbox (memory, file size).
        use_bwrap: Whether workers run under bubblewrap.
    """

    def __init__(self, size: int, limits: Limits, use_bwrap: bool) -> None:
        self.workers = [WarmWorker(limits, use_bwrap) for _ in range(max(1, size))]
        self.name = self.workers[0].isolation
        self.capabilities = Capabilities(
            isolation="bwrap" if use_bwrap else "process",
            warm=True,
            workers=len(self.workers),
            gpu=bool(gpu_devices()),
        )
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
        """Stop every worker and remove its spool."""
        for t in self._starters:
            t.join()
        for w in self.workers:
            w.close()
