"""The trusted side of the value channel: read what a sandbox job wrote, defensively.

Only JSON lines and ``.npy`` arrays are read, through file descriptors opened relative to
the job's own directory without following symbolic links at any component (the job folder,
``out``, ``values`` and each file). JSON is parsed within :class:`~.readers.ReaderLimits`
(depth, integer size, line length, record count); arrays are loaded with
``allow_pickle=False`` after their header has been checked (numeric dtype, rank, element
count and bytes, computed without overflow, and the file's real size). Each record's
structure is checked by the protocol's parsers (:mod:`autograder.runtime.protocol`); a
record they reject is skipped with a problem. Error texts are cut to their first line.
Nothing here raises on hostile input: problems are collected as readable strings.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import numpy as np

from autograder.load.readers import (
    DEFAULT_LIMITS,
    ReaderLimits,
    Unreadable,
    check_array_header,
    error_line,
    loads,
    safe_tag,
    short_error,
)
from autograder.run.recorded import CellRecord, JobOutput, Recorded, TestRecord, Value
from autograder.runtime import protocol

__all__ = [
    "CellRecord",
    "JobOutput",
    "Recorded",
    "TestRecord",
    "Value",
    "read_job_dir",
    "read_job_output",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class _Reader:
    """Reads files under one directory fd without following symlinks, within a byte budget."""

    def __init__(self, dir_fd: int, budget: int, problems: list[str], limits: ReaderLimits) -> None:
        self.dir_fd = dir_fd
        self.budget = budget
        self.problems = problems
        self.limits = limits

    def open(self, name: str) -> int | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.problems.append(f"{name}: cannot be opened ({exc.strerror})")
            return None
        try:
            info = os.fstat(fd)
        except OSError:
            os.close(fd)
            self.problems.append(f"{name}: cannot be read; ignored")
            return None
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            self.problems.append(f"{name}: not a regular file; ignored")
            return None
        if info.st_size > self.budget:
            os.close(fd)
            self.problems.append(f"{name}: {info.st_size} bytes is over the size limit; ignored")
            return None
        self.budget -= info.st_size
        return fd

    def read_bytes(self, name: str, limit: int) -> bytes | None:
        fd = self.open(name)
        if fd is None:
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            self.problems.append(f"{name}: cannot be read ({exc.strerror})")
            return None
        if len(data) > limit:
            self.problems.append(f"{name}: over {limit} bytes; ignored")
            return None
        return data


def _jsonl(reader: _Reader, name: str) -> list[tuple[int, Any]]:
    """The JSON values of a ``.jsonl`` file with their line numbers, within the limits."""
    limits = reader.limits
    data = reader.read_bytes(name, limits.jsonl_bytes)
    records: list[tuple[int, Any]] = []
    if data is None:
        return records
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(records) >= limits.records:
            reader.problems.append(f"{name}: more than {limits.records} records; the rest ignored")
            break
        if len(line) > limits.line_bytes:
            reader.problems.append(f"{name}: line {number} is over {limits.line_bytes} bytes")
            continue
        try:
            record = loads(
                line.decode("utf-8", errors="replace"), limits.json_depth, limits.int_digits
            )
        except Unreadable as exc:
            reader.problems.append(f"{name}: line {number} ignored (not JSON we accept: {exc})")
            continue
        records.append((number, record))
    return records


def _load_array(reader: _Reader, name: str, max_bytes: int) -> Value | str:
    """Load one ``.npy`` file, or return why it was refused."""
    if not protocol.VALUE_FILE.match(name):
        return "bad value file name"
    fd = reader.open(name)
    if fd is None:
        return "value file missing or refused"
    try:
        with os.fdopen(fd, "rb") as fh:
            array = _read_npy(fh, max_bytes, reader.limits)
    except Unreadable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a hostile file is a refused value, never a crash
        return f"unreadable array ({type(exc).__name__})"
    if not isinstance(array, np.ndarray):
        return "not an array"
    return Value(kind="", array=array)


def _read_npy(fh: Any, max_bytes: int, limits: ReaderLimits) -> np.ndarray:
    """Check an open ``.npy`` file's header, then its size, then load it without pickle."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise Unreadable(f"unsupported .npy version {version}")
    if (
        dtype.hasobject
        or dtype.kind not in protocol.ALLOWED_KINDS
        or dtype.fields
        or dtype.subdtype
    ):
        raise Unreadable(f"dtype {dtype} is not allowed")
    size = check_array_header(shape, dtype.itemsize, max_bytes, limits)
    if os.fstat(fh.fileno()).st_size - fh.tell() != size:
        raise Unreadable("the array file's size does not match its header")
    fh.seek(0)
    return np.lib.format.read_array(fh, allow_pickle=False)


def _value(
    reader: _Reader | None, raw: protocol.EncodedValue, tensor: bool, max_bytes: int
) -> Value:
    kind = safe_tag(raw.kind)
    if raw.error:
        return Value(kind=kind, error=short_error(raw.error), tensor=tensor)
    if raw.text is not None:
        return Value(kind=kind, text=raw.text[: protocol.MAX_TEXT], tensor=tensor)
    if raw.file is not None and reader is not None:
        loaded = _load_array(reader, raw.file, max_bytes)
        if isinstance(loaded, str):
            reader.problems.append(f"{protocol.VALUES_DIR}/{raw.file[:40]}: {loaded}")
            return Value(kind=kind, error=loaded, tensor=tensor)
        return Value(kind=kind, array=loaded.array, tensor=tensor)
    return Value(kind=kind, tensor=tensor)


def read_job_dir(
    job_dir: str,
    max_value_bytes: int,
    max_total_bytes: int,
    limits: ReaderLimits = DEFAULT_LIMITS,
) -> JobOutput:
    """Read the output of the job in ``job_dir``. Never raises for anything the sandbox wrote.

    The job folder is opened without following a symbolic link, then ``out`` relative to
    it, so a job that deleted its ``out`` folder or swapped it (or the job folder) for a
    symlink gets no values and a problem saying so, never a read outside its own folder.

    Args:
        job_dir: The job's directory (holds ``in/`` and ``out/``).
        max_value_bytes: Largest array accepted.
        max_total_bytes: Budget for all files read together.
        limits: The readers' limits.
    """
    output = JobOutput()
    try:
        job_fd = os.open(job_dir, _DIR_FLAGS)
    except OSError as exc:
        output.problems.append(f"the job folder is missing or not a folder ({exc.strerror})")
        return output
    try:
        try:
            out_fd = os.open(protocol.OUT_DIR, _DIR_FLAGS, dir_fd=job_fd)
        except OSError as exc:
            output.problems.append(f"no output directory ({exc.strerror})")
            return output
        _read_out(out_fd, output, max_value_bytes, max_total_bytes, limits)
    finally:
        os.close(job_fd)
    return output


def read_job_output(
    out_dir: str,
    max_value_bytes: int,
    max_total_bytes: int,
    limits: ReaderLimits = DEFAULT_LIMITS,
) -> JobOutput:
    """Read an output directory (its last component is not followed if a symlink).

    Prefer :func:`read_job_dir` for a job the sandbox just ran; this reads copies the
    trusted side keeps (cached keys and variant runs). Never raises for its content.

    Args:
        out_dir: The ``out`` directory.
        max_value_bytes: Largest array accepted.
        max_total_bytes: Budget for all files read together.
        limits: The readers' limits.
    """
    output = JobOutput()
    try:
        dir_fd = os.open(out_dir, _DIR_FLAGS)
    except OSError as exc:
        output.problems.append(f"no output directory ({exc.strerror})")
        return output
    _read_out(dir_fd, output, max_value_bytes, max_total_bytes, limits)
    return output


def _read_out(
    dir_fd: int, output: JobOutput, max_value_bytes: int, max_total_bytes: int, limits: ReaderLimits
) -> None:
    """Read everything under an open ``out`` directory fd (closed here)."""
    try:
        reader = _Reader(dir_fd, max_total_bytes, output.problems, limits)
        _read_cells(reader, output)
        err = reader.read_bytes(protocol.RUNTIME_ERROR_FILE, 20_000)
        if err:
            output.runtime_error = err.decode("utf-8", errors="replace")
        values_reader = None
        try:
            vfd = os.open(protocol.VALUES_DIR, _DIR_FLAGS, dir_fd=dir_fd)
            values_reader = _Reader(vfd, reader.budget, output.problems, limits)
        except OSError:
            vfd = -1
        try:
            _read_tests(reader, values_reader, output, max_value_bytes)
        finally:
            if vfd >= 0:
                os.close(vfd)
    except Exception as exc:  # noqa: BLE001 - a reader bug must not stop a batch
        output.problems.append(f"the output could not be read ({type(exc).__name__})")
    finally:
        os.close(dir_fd)


def _read_cells(reader: _Reader, output: JobOutput) -> None:
    for number, raw in _jsonl(reader, protocol.CELLS_FILE):
        try:
            event = protocol.parse_cell_event(raw)
        except protocol.Malformed as exc:
            reader.problems.append(
                f"{protocol.CELLS_FILE}: line {number} ignored ({short_error(exc)})"
            )
            continue
        if isinstance(event, protocol.CellStarted):
            output.started_cells.append(event.index)
        elif isinstance(event, protocol.CellEnded):
            output.cells.append(
                CellRecord(
                    index=event.index,
                    cell_id=short_error(event.cell_id, 100),
                    ok=event.ok,
                    error=short_error(event.error),
                )
            )
        elif isinstance(event, protocol.Ready):
            output.events.append(event.EVENT)
            output.devices = [d[:100] for d in event.devices[:16]]
            output.tf32 = event.tf32
        else:
            output.events.append(event.event)


def _read_tests(
    reader: _Reader, values_reader: _Reader | None, output: JobOutput, max_bytes: int
) -> None:
    for number, raw in _jsonl(reader, protocol.TESTS_FILE):
        try:
            rec = protocol.parse_test_line(raw)
        except protocol.Malformed as exc:
            reader.problems.append(
                f"{protocol.TESTS_FILE}: line {number} ignored ({short_error(exc)})"
            )
            continue
        if isinstance(rec, protocol.CollectError):
            output.collect_errors.append(rec.message[:3000])  # instructor-only
            continue
        test = rec.test[:300]
        if test in output.tests:
            continue
        values = tuple(
            Recorded(
                name=v.name[:200],
                value=_value(values_reader, v.value, v.tensor, max_bytes),
                tolerance=dict(v.tolerance),
            )
            for v in rec.values
        )
        output.tests[test] = TestRecord(
            test=test,
            question=rec.question[:200],
            points=rec.points if np.isfinite(rec.points) else 0.0,
            timeout=rec.timeout if np.isfinite(rec.timeout) else 0.0,
            gpu=rec.gpu,
            outcome=rec.outcome[:20],
            message=error_line(rec.message),
            values=values,
        )
