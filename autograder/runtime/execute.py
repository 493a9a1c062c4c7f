"""Execute a notebook's code cells in order with IPython, recording each cell's outcome."""

from __future__ import annotations

import io
import signal
from collections.abc import Sequence
from typing import Any

from .channel import Channel
from .protocol import CellEnded, CellStarted, JobCell


class CellTimeLimit(Exception):
    """Raised inside a cell that ran past its time limit."""


class CappedWriter(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and drops the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:  # noqa: D102
        return True

    def write(self, text: str) -> int:  # noqa: D102
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def getvalue(self) -> str:
        """Return what was kept."""
        return "".join(self.parts)


def public_name(error: BaseException) -> str:
    """The exception's first public class name, for students.

    Python 3.13 raises ``_IncompleteInputError`` for an unfinished statement; it reads
    ``SyntaxError``.
    """
    for cls in type(error).__mro__:
        if not cls.__name__.startswith("_"):
            return cls.__name__
    return type(error).__name__


def _strays(me: int, parent: int, own_namespace: bool, keep: frozenset[int]) -> list[int]:
    import os

    found = []
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if pid in (1, me, parent) or pid in keep:
            continue
        if not own_namespace:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid != me:
                continue
        found.append(pid)
    return found


def reap_strays(deadline_s: float = 5.0, keep: frozenset[int] = frozenset()) -> None:
    """Kill processes a cell left behind, so the tests get the job's process budget.

    Inside a sandbox's own pid namespace (``GRADETAPE_PIDNS=1``) that is every process but
    init, this one, its parent (the warm worker) and ``keep`` (the runtime's spare
    interpreter); elsewhere only this one's children but ``keep``. Waits until they are gone
    (zombies count against the process limit too).
    """
    import os
    import time

    me, parent = os.getpid(), os.getppid()
    own_namespace = os.environ.get("GRADETAPE_PIDNS") == "1"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        strays = _strays(me, parent, own_namespace, keep)
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        time.sleep(0.01)


def run_cells(
    cells: Sequence[JobCell],
    channel: Channel,
    cell_timeout: float,
    output_limit: int,
    keep: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """Run every cell; a failing cell is recorded and later cells still run.

    Args:
        cells: The job's cells in execution order.
        channel: Where ``cells.jsonl`` records go.
        cell_timeout: Seconds each cell may run.
        output_limit: Characters of printed output kept per cell.
        keep: Processes the stray-reaper after each cell must spare (the spare interpreter).

    Returns:
        The notebook's global namespace after the last cell.
    """
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    for cell in cells:
        index, cell_id = cell.index, cell.cell_id
        channel.send(CellStarted(index, cell_id))
        out = CappedWriter(output_limit)
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out

        def on_alarm(signum: int, frame: Any) -> None:
            raise CellTimeLimit(f"the cell ran past its time limit of {cell_timeout:g} s")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        try:
            result = shell.run_cell(cell.source, store_history=True)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends end the cell only
            error = exc
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
            reap_strays(deadline_s=30.0, keep=keep)
        channel.send(
            CellEnded(
                index,
                cell_id,
                ok=error is None,
                error=""
                if error is None
                else f"{public_name(error)}: {error}".split("\n")[0][:200],
                output=out.getvalue()[:2000],
            )
        )
    return shell.user_ns
