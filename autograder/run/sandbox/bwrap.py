"""The bubblewrap sandbox: a worker's outer sandbox, in which each job gets one of its own.

The outer sandbox (one per warm worker, or one per job with ``--cold``) is started as an
unprivileged host uid (:data:`SANDBOX_UID` when grading runs as root, else the grader's own
uid), never as root: bubblewrap then runs unprivileged, with no capability outside its own
user namespace. Its root is read-only; it sees the system's ``/usr``, a few files of
``/etc``, the Python installation and the virtual environment (read-only), the runtime
package at ``/opt/gradetape``, and the worker's spool at ``/spool``; not the repository,
the solutions, the answer keys or the gradebook. The zygote inside forks one job at a time
and gives each its own namespaces (see ``autograder/runtime/confine.py``), which cover the
spool with an empty folder and mount the job's own ``in/`` and writable tmpfs.

When grading runs as root and the Python installation lives where the sandbox uid cannot
reach it (``/root/.pyenv``), the launch happens in a private mount namespace that binds
those folders under a staging folder the sandbox uid can traverse; the host's mounts are
never changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from autograder.run.sandbox.base import (
    RUNTIME_DIR,
    RUNTIME_NAME,
    Capabilities,
    Sandbox,
    SandboxRun,
    base_env,
)
from autograder.settings import Limits

#: Where the worker's spool is mounted in its outer sandbox (each job covers it).
SPOOL = "/spool"

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
#: The host uid and gid sandboxes run as when grading runs as root (nobody/nogroup).
SANDBOX_UID = 65534
SANDBOX_GID = 65534
#: Space the zygote itself may write (jobs never see it: each has its own tmpfs).
ZYGOTE_TMP_BYTES = 16 << 20
_LAUNCH = (
    'set -e; stage="$1"; shift; mount -t tmpfs -o size=64k,mode=0755 gradetape-stage "$stage";'
    ' i=0; while [ "$1" != "--" ]; do mode="$1"; mkdir "$stage/$i";'
    ' mount --bind "$2" "$stage/$i"; if [ "$mode" = ro ]; then'
    ' mount -o remount,bind,ro "$stage/$i"; fi; i=$((i+1)); shift 2;'
    " done; shift; exec setpriv --reuid {uid} --regid {gid} --clear-groups --inh-caps=-all"
    ' -- "$@"'
)


def sandbox_ids() -> tuple[int, int] | None:
    """The host uid and gid to run sandboxes as, or ``None`` to keep the grader's own."""
    return (SANDBOX_UID, SANDBOX_GID) if os.geteuid() == 0 else None


def shared_paths() -> list[str]:
    """Host folders every sandbox sees read-only at the same path: Python, venv, runtime."""
    paths = sorted({sys.base_prefix, sys.prefix} - {"/usr"})
    return [p for p in paths if not p.startswith("/usr/")]


def outer_command(spool: Path, stage: Path | None, info_fd: int) -> list[str]:
    """The command line of one worker's outer sandbox, running the zygote on ``spool``.

    Args:
        spool: Host folder where the trusted side puts jobs (mounted at ``/spool``).
        stage: An empty host folder for the private-mount launch as root (``None``: plain).
        info_fd: Descriptor on which bubblewrap writes its JSON info (``child-pid``).
    """
    # (host folder, folder in the sandbox, writable); as root, each goes through the stage so
    # that the sandbox uid needs no access to the host path (a private TMPDIR, /root/.pyenv).
    binds = [(p, p, False) for p in shared_paths()]
    binds += [(str(RUNTIME_DIR), f"/opt/gradetape/{RUNTIME_NAME}", False)]
    binds += [(str(spool), SPOOL, True)]
    sources = [b[0] for b in binds]
    if stage is not None:
        sources = [str(stage / str(i)) for i in range(len(binds))]
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session"]
    args += ["--info-fd", str(info_fd)]
    for path in ("/usr", "/lib", "/lib64", "/bin", "/sbin"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(ZYGOTE_TMP_BYTES), "--tmpfs", "/tmp"]
    for source, (_, target, writable) in zip(sources, binds, strict=True):
        args += ["--bind" if writable else "--ro-bind", source, target]
    for device in gpu_devices():  # GPU runners: the job sees the worker's GPUs
        args += ["--dev-bind", device, device]
    args += ["--dir", "/job/in", "--dir", "/job/out"]
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--chdir", "/", "--clearenv"]
    env = base_env() | {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PYTHONPATH": "/opt/gradetape",
        "GRADETAPE_CONFINE": "1",
        "GRADETAPE_PIDNS": "1",
    }
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    args += ["--", sys.executable, "-m", f"{RUNTIME_NAME}.zygote", SPOOL]
    if stage is None:
        return args
    ids = sandbox_ids() or (os.getuid(), os.getgid())
    script = _LAUNCH.format(uid=ids[0], gid=ids[1])
    unshare = shutil.which("unshare") or "unshare"
    return [
        unshare,
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "gradetape-launch",
        str(stage),
        *[arg for source, _, writable in binds for arg in ("rw" if writable else "ro", source)],
        "--",
        *args,
    ]


class BwrapSandbox(Sandbox):
    """Cold: each job in a brand-new outer sandbox (TensorFlow imported for that job alone).

    Args:
        workers: How many jobs the caller runs at once (each starts its own sandbox).
    """

    name = "bwrap"

    def __init__(self, workers: int = 1) -> None:
        self.capabilities = Capabilities(
            isolation="bwrap", warm=False, workers=max(1, workers), gpu=bool(gpu_devices())
        )

    @staticmethod
    def problem() -> str | None:
        """Why bubblewrap cannot be used here, or ``None`` when it works."""
        return _probe(shutil.which("bwrap") or "")

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Run the job in a one-job worker: the same per-job sandbox as a warm worker's."""
        from autograder.run.sandbox.warm import WarmWorker

        worker = WarmWorker(limits, use_bwrap=True, isolation=self.name)
        try:
            return worker.run(job_dir, limits)
        finally:
            worker.close()


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
