"""The bubblewrap sandbox: no network, private /tmp and home, read-only system, no privileges.

The job sees the system's ``/usr``, the Python installation and the virtual environment
(read-only), the runtime package at ``/opt/gradetape``, its own ``in/`` (read-only) and
``out/`` (writable) at ``/job``, and nothing else of this machine: not the repository, not
the solutions, not the answer keys, not other students' folders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from ..settings import Limits
from .base import RUNTIME_DIR, RUNTIME_NAME, SandboxRun, base_env, run_command

#: Small files under /etc that programs expect; the rest of /etc stays outside.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/alternatives",
    "/etc/ssl",
)
UNPRIVILEGED = 65534  # nobody/nogroup


class BwrapSandbox:
    """Runs each job in a fresh ``bwrap --unshare-all`` container."""

    name = "bwrap"

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or shutil.which("bwrap") or "bwrap"

    @staticmethod
    def problem() -> str | None:
        """Why bubblewrap cannot be used here, or ``None`` when it works."""
        return _probe(shutil.which("bwrap") or "")

    def python(self) -> list[str]:
        """The interpreter inside the sandbox."""
        return [sys.executable]

    def command(self, job_dir: Path, spool: Path | None = None) -> list[str]:
        """The full bwrap command line for one job (or, with ``spool``, a warm worker)."""
        args = [self.executable, "--unshare-all", "--die-with-parent", "--new-session"]
        if os.geteuid() == 0:
            # As root, drop to an unprivileged uid with no capabilities inside the sandbox.
            args += ["--unshare-user", "--uid", str(UNPRIVILEGED), "--gid", str(UNPRIVILEGED)]
            args += ["--cap-drop", "ALL"]
        for path in ("/usr", "/lib", "/lib64", "/bin", "/sbin"):
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                args += ["--ro-bind", path, path]
        for path in ETC_FILES:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/tmp/home"]
        # After the /tmp tmpfs, so a Python or venv that lives under /tmp stays visible.
        for path in sorted({sys.base_prefix, sys.prefix}):
            if not path.startswith("/usr/"):
                args += ["--ro-bind", path, path]
        for device in gpu_devices():  # GPU runners: the job sees the worker's GPUs
            args += ["--dev-bind", device, device]
        args += ["--ro-bind", str(RUNTIME_DIR), f"/opt/gradetape/{RUNTIME_NAME}"]
        if spool is None:
            args += ["--ro-bind", str(job_dir / "in"), "/job/in"]
            args += ["--bind", str(job_dir / "out"), "/job/out"]
        else:
            args += ["--bind", str(spool), "/spool"]
        args += ["--chdir", "/tmp/home", "--clearenv"]
        env = base_env() | {
            "HOME": "/tmp/home",
            "TMPDIR": "/tmp",
            "IPYTHONDIR": "/tmp/home/.ipython",
            "PYTHONPATH": "/opt/gradetape",
            "GRADETAPE_PIDNS": "1",
        }
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        return args + ["--", sys.executable, "-m", RUNTIME_NAME, "/job"]

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run the job under bubblewrap."""
        return run_command(
            self.command(job_dir), {}, limits, self.name, job_dir / "stderr.txt", False
        )


def gpu_devices() -> list[str]:
    """NVIDIA device nodes of this machine (empty on CPU-only workers)."""
    import glob

    return sorted(glob.glob("/dev/nvidia*"))


@cache
def _probe(executable: str) -> str | None:
    if not executable:
        return "bwrap is not installed"
    try:
        done = subprocess.run(
            [executable, "--unshare-all", "--ro-bind", "/", "/", "--", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not start ({exc})"
    if done.returncode != 0:
        return "bwrap cannot create namespaces here: " + done.stderr.decode(errors="replace")[-300:]
    return None
