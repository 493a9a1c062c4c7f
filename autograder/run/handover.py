"""The hand-over copy: files a grading job saved, copied safely for the fresh job.

A test in the grading job saves files into ``handover(name)`` (``out/handover/<name>/``);
:func:`copy_handover` copies them, as the trusted side, into the folder the fresh job reads
(``in/handover/<name>/``, see :mod:`autograder.run.fresh_process`). Job 1 is untrusted: the
copy takes regular files and folders only, never follows a symbolic link at any component,
checks every name and limits the number of entries and bytes (``handover_files``,
``handover_mb``); a hand-over that breaks a rule is refused whole with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.runtime.protocol import HANDOVER_DIR, HANDOVER_NAME
from autograder.runtime.protocol import HANDOVER_REPORT as REPORT_FILE
from autograder.settings import Limits

#: A file or folder name inside a hand-over: no leading dot or dash, no separators.
ENTRY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
#: Deepest folder nesting inside a hand-over.
MAX_DEPTH = 6
_READ_CHUNK = 1 << 20


class Refused(Exception):
    """A hand-over breaks a rule; the message says which, in words a student can act on."""


@dataclass(frozen=True)
class Handover:
    """What the trusted side did with one hand-over folder."""

    name: str
    files: int = 0
    bytes: int = 0
    refused: str = ""


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.max_entries = limits.handover_files
        self.max_bytes = limits.handover_mb << 20
        self.entries = 0
        self.bytes = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise Refused(
                f"more than {self.max_entries} files and folders were saved (save fewer files)"
            )

    def left(self) -> int:
        return self.max_bytes - self.bytes

    def add(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise Refused(
                f"the saved files hold more than {self.max_bytes >> 20} MB (save smaller files)"
            )


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def copy_handover(
    out_dir: Path, dest: Path, names: Iterable[str], limits: Limits
) -> dict[str, Handover]:
    """Copy ``out_dir/handover/<name>/`` into ``dest/<name>/`` for each name, safely.

    Nothing is followed: ``out_dir``, ``handover`` and every entry are opened with
    ``O_NOFOLLOW`` relative to their parent's descriptor. Only regular files and folders are
    taken; a symbolic link, device, FIFO or socket, a name outside :data:`ENTRY_NAME`, more
    than ``limits.handover_files`` entries, more than ``limits.handover_mb`` or folders
    deeper than :data:`MAX_DEPTH` refuse the whole hand-over (nothing of it is copied).
    A name that was never saved is left out of the report. ``dest/handover.json`` records
    the report for the fresh job. Never raises for anything the job left in ``out_dir``.

    Returns:
        Hand-over name -> what was copied or why it was refused.
    """
    dest.mkdir(parents=True, exist_ok=True)
    report: dict[str, Handover] = {}
    wanted = sorted({n for n in names if HANDOVER_NAME.match(n)})
    root = _open_dir(None, str(out_dir))
    try:
        handover = _open_dir(root, HANDOVER_DIR) if root is not None else None
        try:
            for name in wanted:
                if handover is not None:
                    entry = _copy_one(handover, name, dest / name, limits)
                    if entry is not None:
                        report[name] = entry
        finally:
            if handover is not None:
                os.close(handover)
    finally:
        if root is not None:
            os.close(root)
    data = {
        n: {"files": h.files, "bytes": h.bytes, "refused": h.refused} for n, h in report.items()
    }
    (dest / REPORT_FILE).write_text(json.dumps(data), encoding="utf-8")
    return report


def _open_dir(parent: int | None, name: str) -> int | None:
    """A folder's descriptor, or ``None`` when it is missing or not a real folder."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        return None


def _copy_one(handover: int, name: str, target: Path, limits: Limits) -> Handover | None:
    try:
        st = os.stat(name, dir_fd=handover, follow_symlinks=False)
    except OSError:
        return None  # never saved
    try:
        if not stat.S_ISDIR(st.st_mode):
            raise Refused(f"`{name}` is not a folder")
        fd = _open_dir(handover, name)
        if fd is None:
            raise Refused(f"`{name}` could not be opened as a folder")
        budget = _Budget(limits)
        try:
            target.mkdir()
            _copy_tree(fd, target, budget, name, 0)
        finally:
            os.close(fd)
    except Refused as exc:
        shutil.rmtree(target, ignore_errors=True)
        return Handover(name, refused=str(exc)[:300])
    except OSError as exc:  # a file vanished or could not be read: refuse, never crash
        shutil.rmtree(target, ignore_errors=True)
        return Handover(name, refused=f"the saved files could not be read ({exc.strerror})")
    return Handover(name, budget.entries, budget.bytes)


def _copy_tree(dir_fd: int, target: Path, budget: _Budget, where: str, depth: int) -> None:
    entries: list[str] = []
    with os.scandir(dir_fd) as it:
        for entry in it:
            budget.entry()
            entries.append(entry.name)
    for name in sorted(entries):
        shown = f"{where}/{name}" if ENTRY_NAME.match(name) else f"{where}/{name[:40]!r}"
        if not ENTRY_NAME.match(name):
            raise Refused(
                f"the file name {shown} is not allowed (use letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-')"
            )
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if depth + 1 > MAX_DEPTH:
                raise Refused(f"{shown} is nested more than {MAX_DEPTH} folders deep")
            sub = _open_dir(dir_fd, name)
            if sub is None:
                raise Refused(f"{shown} could not be opened as a folder")
            try:
                (target / name).mkdir()
                _copy_tree(sub, target / name, budget, shown, depth + 1)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(dir_fd, name, target / name, budget, shown)
        else:
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise Refused(f"{shown} is {kind}; save regular files only")


def _copy_file(dir_fd: int, name: str, target: Path, budget: _Budget, shown: str) -> None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise Refused(f"{shown} could not be opened ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat above
            raise Refused(f"{shown} is not a regular file; save regular files only")
        with open(target, "xb") as out:
            while True:
                chunk = os.read(fd, min(_READ_CHUNK, budget.left() + 1))
                if not chunk:
                    break
                budget.add(len(chunk))
                out.write(chunk)
    finally:
        os.close(fd)
    target.chmod(0o444)
