"""A one-job sandbox whose worker starts at once, so TensorFlow imports while the caller works.

``gradetape validate`` spends most of its own time in two sequential steps: the command's
imports (nbformat, nbgrader: seconds) and the sandbox worker's start (bubblewrap, then
TensorFlow's import in the zygote). :class:`EarlySandbox` starts the worker on a thread
before the command imports anything heavy, so the two overlap; the job then runs on the warm
worker exactly as a cold :class:`~autograder.run.sandbox.bwrap.BwrapSandbox` job would (the
same zygote, the same per-job sandbox). Closing it before any job (a blank or unreadable
notebook) stops the worker at once. Built by the factory (``SandboxSpec(early=True)``).

This module imports nothing heavy: it is imported before the command's other modules.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from autograder.run.sandbox.base import Capabilities, Sandbox, SandboxRun
from autograder.run.sandbox.bwrap import gpu_devices
from autograder.run.sandbox.warm import WarmWorker
from autograder.settings import Limits

log = logging.getLogger(__name__)


def _outer(limits: Limits) -> tuple[int, int, int]:
    """The limits the worker's outer sandbox applies; a job needing others gets a new worker."""
    return limits.memory_mb, limits.max_file_mb, limits.max_processes


class EarlySandbox(Sandbox):
    """One warm worker, started now on a thread, for one job later (see the module docstring).

    Args:
        limits: The limits the job will most likely have (the worker's outer sandbox uses
            its memory, file-size and process limits).
        use_bwrap: Whether the worker runs under bubblewrap.
        refusal: Why no sandbox may run here (``isolation = "bwrap"`` without a working
            bubblewrap): nothing starts, and a job raises ``RuntimeError`` with this reason,
            as the factory would have when the job's sandbox was chosen.
    """

    def __init__(self, limits: Limits, use_bwrap: bool, refusal: str | None = None) -> None:
        self.refusal = refusal
        self.worker = WarmWorker(limits, use_bwrap=use_bwrap)
        self.name = self.worker.isolation
        self.capabilities = Capabilities(
            isolation="bwrap" if use_bwrap else "process",
            warm=True,
            workers=1,
            gpu=bool(gpu_devices()),
        )
        self._closed = False
        self._thread = threading.Thread(target=self._start, name="gradetape-early", daemon=True)
        if refusal is None:
            self._thread.start()

    def _start(self) -> None:
        try:
            self.worker.start()
        except Exception as exc:  # noqa: BLE001 - run() starts the worker again if needed
            if not self._closed:
                log.warning("early sandbox did not start (%s); starting it for the job", exc)

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run the job on the early worker (or on a new one if ``limits`` need another).

        Raises:
            RuntimeError: If the sandbox was refused (see ``refusal``).
        """
        if self.refusal is not None:
            raise RuntimeError(self.refusal)
        if self._thread.is_alive():
            self._thread.join()
        if _outer(limits) != _outer(self.worker.limits):
            self.worker.close()
            self.worker = WarmWorker(limits, use_bwrap=self.worker.use_bwrap)
        return self.worker.run(job_dir, limits)

    def close(self) -> None:
        """Stop the worker (at once, even while it is still importing) and clean up."""
        self._closed = True
        while self._thread.is_alive():
            self.worker.stop()
            self._thread.join(0.2)
        self.worker.close()
