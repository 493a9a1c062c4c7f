"""A pids cgroup per sandbox, so a fork bomb is stopped at ``max_processes``.

``RLIMIT_NPROC`` cannot do this when grading runs as root: bubblewrap maps the sandbox's
unprivileged uid back to root, whose processes the limit does not count. A cgroup's
``pids.max`` counts every process in the sandbox whatever its uid. Both cgroup v1 (the
``pids`` hierarchy) and v2 (a ``pids.max`` file) are supported; where neither can be
written (no root, a read-only /sys/fs/cgroup), grading goes on without it and says so.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)
CANDIDATES = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
_warned = False


class PidsCgroup:
    """A fresh cgroup limited to ``limit`` processes; ``enter()`` runs in the child."""

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        for base in CANDIDATES:
            if not (base / "cgroup.procs").exists():
                continue
            path = base / f"gradetape-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(limit))
            except OSError:
                try:
                    path.rmdir()
                except OSError:
                    pass
                continue
            self.path = path
            break
        if self.path is None:
            _warn_once()

    def enter(self) -> None:
        """Move the calling process into the cgroup (call from ``preexec_fn``)."""
        if self.path is not None:
            try:
                (self.path / "cgroup.procs").write_text("0")
            except OSError:
                pass

    def remove(self) -> None:
        """Delete the cgroup once its processes are gone."""
        if self.path is None:
            return
        for _ in range(50):  # the kernel may take a moment to reap the last processes
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "no writable pids cgroup: a fork bomb in a submission is limited only by its time "
            "limit (run grading as root with cgroups mounted to stop it at max_processes)"
        )
