"""The plain-subprocess sandbox (weak isolation) and the choice between sandboxes."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from autograder.run.sandbox.base import (
    RUNTIME_DIR,
    RUNTIME_NAME,
    Sandbox,
    SandboxRun,
    base_env,
    run_command,
)
from autograder.run.sandbox.bwrap import BwrapSandbox
from autograder.settings import Limits

log = logging.getLogger(__name__)

WEAK_ISOLATION = (
    "WARNING: bubblewrap (bwrap) is not available, so student code runs as a plain "
    "subprocess with resource limits only: it can read this machine's files and use the "
    "network. Install bubblewrap (apt-get install bubblewrap) for real isolation."
)


class SubprocessSandbox:
    """Runs the job as a plain child process with rlimits and a private temp/home.

    Weak isolation: the network and the file system are reachable. Use only where
    bubblewrap is unavailable, and say so.
    """

    name = "subprocess"

    def __init__(self) -> None:
        self._lib = Path(tempfile.mkdtemp(prefix="gradetape-lib-"))
        (self._lib / RUNTIME_NAME).symlink_to(RUNTIME_DIR, target_is_directory=True)

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run the job directly (see the class docstring for what is not isolated)."""
        home = job_dir / "home"
        home.mkdir(exist_ok=True)
        env = base_env() | {
            "HOME": str(home),
            "TMPDIR": str(home),
            "IPYTHONDIR": str(home / ".ipython"),
            "PYTHONPATH": str(self._lib),
        }
        command = [sys.executable, "-m", RUNTIME_NAME, str(job_dir)]
        return run_command(command, env, limits, self.name, job_dir / "stderr.txt", True, cwd=home)


def choose_sandbox(isolation: str = "auto") -> Sandbox:
    """Pick the sandbox for ``isolation`` (``auto``, ``bwrap`` or ``subprocess``).

    Raises:
        RuntimeError: If ``bwrap`` was asked for and does not work here.
        ValueError: For an unknown isolation name.
    """
    if isolation not in {"auto", "bwrap", "subprocess"}:
        raise ValueError(f"isolation must be auto, bwrap or subprocess; got {isolation!r}")
    if isolation in {"auto", "bwrap"}:
        problem = BwrapSandbox.problem()
        if problem is None:
            return BwrapSandbox()
        if isolation == "bwrap":
            raise RuntimeError(f"bubblewrap sandbox unavailable: {problem}")
        log.warning("%s (%s)", WEAK_ISOLATION, problem)
        print(WEAK_ISOLATION, file=sys.stderr)
    return SubprocessSandbox()


def make_sandbox(isolation: str, warm: bool, workers: int, limits: Limits) -> Sandbox:
    """The sandbox a batch uses: a pool of warm workers, or a fresh sandbox per job.

    Call ``close_sandbox`` on the result when the batch is done.
    """
    box = choose_sandbox(isolation)
    if not warm:
        return box
    from autograder.run.sandbox.warm import WarmPool

    return WarmPool(workers, limits, use_bwrap=box.name == "bwrap")


def close_sandbox(box: Sandbox) -> None:
    """Stop a sandbox's long-lived workers, if it has any."""
    close = getattr(box, "close", None)
    if callable(close):
        close()
