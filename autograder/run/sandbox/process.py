"""The plain-subprocess sandbox: weak isolation, for machines without bubblewrap."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from autograder.run.sandbox.base import (
    RUNTIME_DIR,
    RUNTIME_NAME,
    Capabilities,
    Sandbox,
    SandboxRun,
    base_env,
    run_command,
)
from autograder.run.sandbox.bwrap import gpu_devices
from autograder.settings import Limits


class SubprocessSandbox(Sandbox):
    """Runs each job as a plain child process with rlimits and a private temp/home.

    Weak isolation: the network and the file system are reachable. Use only where
    bubblewrap is unavailable, and say so (the factory does).

    Args:
        workers: How many jobs the caller runs at once (each is its own process).
    """

    name = "subprocess"

    def __init__(self, workers: int = 1) -> None:
        self.capabilities = Capabilities(
            isolation="process", warm=False, workers=max(1, workers), gpu=bool(gpu_devices())
        )
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

    def close(self) -> None:
        """Remove the folder that puts the runtime package on the job's path."""
        shutil.rmtree(self._lib, ignore_errors=True)
