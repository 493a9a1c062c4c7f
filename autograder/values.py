"""The trusted side of the value channel: read what a sandbox job wrote, defensively.

Only JSON lines and ``.npy`` arrays are read, through file descriptors opened relative to
the job's output directory without following symbolic links. Arrays are loaded with
``allow_pickle=False`` after their header has been checked (numeric dtype, size limit).
Anything else the sandbox left behind is ignored. Nothing here raises on hostile input:
problems are collected as readable strings.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .runtime.channel import ALLOWED_KINDS, CELLS_FILE, TESTS_FILE, VALUES_DIR

_VALUE_FILE = re.compile(r"^v\d{5}\.npy$")
_MAX_JSONL_BYTES = 8 << 20
_MAX_RECORDS = 5000


@dataclass(frozen=True)
class Value:
    """One recorded value: a numeric array, a string, ``None``, or a conversion error.

    ``kind`` (``"tf.Tensor"``, ``"ndarray"`` ...) is the type the job reported: text for
    messages only, never for scoring. ``tensor`` is the grader's own check that the value
    was a genuine eager tensor (``expect(..., tensor=True)`` requires it).
    """

    kind: str
    array: np.ndarray | None = None
    text: str | None = None
    error: str = ""
    tensor: bool = False


@dataclass(frozen=True)
class Recorded:
    """A value recorded by ``expect`` with the tolerance the grader asked for."""

    name: str
    value: Value
    tolerance: dict[str, Any]


@dataclass(frozen=True)
class TestRecord:
    """What one hidden test reported from inside the sandbox."""

    __test__ = False  # not a pytest test class

    test: str
    question: str
    points: float
    timeout: float
    gpu: bool
    outcome: str
    message: str
    values: tuple[Recorded, ...]


@dataclass(frozen=True)
class CellRecord:
    """The outcome of one notebook cell."""

    index: int
    cell_id: str
    ok: bool
    error: str


@dataclass
class JobOutput:
    """Everything read back from one job."""

    tests: dict[str, TestRecord] = field(default_factory=dict)
    cells: list[CellRecord] = field(default_factory=list)
    started_cells: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)
    runtime_error: str = ""
    devices: list[str] = field(default_factory=list)
    tf32: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the runtime reached the end of the grader."""
        return "done" in self.events


class _Reader:
    """Reads files under one directory fd without following symlinks, within a byte budget."""

    def __init__(self, dir_fd: int, budget: int, problems: list[str]) -> None:
        self.dir_fd = dir_fd
        self.budget = budget
        self.problems = problems

    def open(self, name: str) -> int | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.problems.append(f"{name}: cannot be opened ({exc.strerror})")
            return None
        info = os.fstat(fd)
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
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            self.problems.append(f"{name}: over {limit} bytes; ignored")
            return None
        return data


def _jsonl(reader: _Reader, name: str) -> list[dict[str, Any]]:
    data = reader.read_bytes(name, _MAX_JSONL_BYTES)
    records: list[dict[str, Any]] = []
    if data is None:
        return records
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if len(records) >= _MAX_RECORDS:
            reader.problems.append(f"{name}: more than {_MAX_RECORDS} records; the rest ignored")
            break
        try:
            record = json.loads(line)
        except ValueError:
            reader.problems.append(f"{name}: line {number} is not JSON; ignored")
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _load_array(reader: _Reader, name: str, max_bytes: int) -> Value | str:
    """Load one ``.npy`` file, or return why it was refused."""
    if not _VALUE_FILE.match(name):
        return "bad value file name"
    fd = reader.open(name)
    if fd is None:
        return "value file missing or refused"
    with os.fdopen(fd, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                return f"unsupported .npy version {version}"
            if dtype.hasobject or dtype.kind not in ALLOWED_KINDS or dtype.fields:
                return f"dtype {dtype} is not allowed"
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count * dtype.itemsize > max_bytes:
                return f"array of {count * dtype.itemsize} bytes is over the limit"
            fh.seek(0)
            array = np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            return f"unreadable array ({type(exc).__name__})"
    if not isinstance(array, np.ndarray):
        return "not an array"
    return Value(kind="", array=array)


def _value(reader: _Reader | None, raw: Any, max_bytes: int) -> Value:
    if not isinstance(raw, dict):
        return Value(kind="?", error="malformed record")
    kind = str(raw.get("kind", "?"))[:40]
    tensor = raw.get("tensor") is True
    if raw.get("error"):
        return Value(kind=kind, error=str(raw["error"])[:500], tensor=tensor)
    if "str" in raw:
        return Value(kind=kind, text=str(raw["str"])[:10_000], tensor=tensor)
    if "file" in raw and reader is not None:
        loaded = _load_array(reader, str(raw["file"]), max_bytes)
        if isinstance(loaded, str):
            return Value(kind=kind, error=loaded, tensor=tensor)
        return Value(kind=kind, array=loaded.array, tensor=tensor)
    return Value(kind=kind, tensor=tensor)


def _float(raw: Any, default: float) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def read_job_output(out_dir: str, max_value_bytes: int, max_total_bytes: int) -> JobOutput:
    """Read a job's output directory. Never raises for anything the sandbox wrote.

    Args:
        out_dir: The job's ``out`` directory (written by the sandbox).
        max_value_bytes: Largest array accepted.
        max_total_bytes: Budget for all files read together.
    """
    output = JobOutput()
    try:
        dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        output.problems.append(f"no output directory ({exc.strerror})")
        return output
    try:
        reader = _Reader(dir_fd, max_total_bytes, output.problems)
        _read_cells(reader, output)
        err = reader.read_bytes("runtime_error.txt", 20_000)
        if err:
            output.runtime_error = err.decode("utf-8", errors="replace")
        values_reader = None
        try:
            vfd = os.open(VALUES_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            values_reader = _Reader(vfd, reader.budget, output.problems)
        except OSError:
            vfd = -1
        try:
            _read_tests(reader, values_reader, output, max_value_bytes)
        finally:
            if vfd >= 0:
                os.close(vfd)
    finally:
        os.close(dir_fd)
    return output


def _read_cells(reader: _Reader, output: JobOutput) -> None:
    for rec in _jsonl(reader, CELLS_FILE):
        event = str(rec.get("event", ""))
        if event == "start" and isinstance(rec.get("index"), int):
            output.started_cells.append(rec["index"])
        elif event == "end" and isinstance(rec.get("index"), int):
            output.cells.append(
                CellRecord(
                    index=rec["index"],
                    cell_id=str(rec.get("cell_id", ""))[:100],
                    ok=rec.get("ok") is True,
                    error=str(rec.get("error", ""))[:1000],
                )
            )
        elif event in {"ready", "grading", "done"}:
            output.events.append(event)
            if event == "ready" and isinstance(rec.get("devices"), list):
                output.devices = [str(d)[:100] for d in rec["devices"][:16]]
                output.tf32 = rec.get("tf32") is True


def _read_tests(
    reader: _Reader, values_reader: _Reader | None, output: JobOutput, max_bytes: int
) -> None:
    for rec in _jsonl(reader, TESTS_FILE):
        if "collect_error" in rec:
            output.collect_errors.append(str(rec.get("message", ""))[:3000])
            continue
        test = str(rec.get("test", ""))[:300]
        if not test or test in output.tests:
            continue
        raw_values = rec.get("values")
        values: list[Recorded] = []
        for raw in raw_values if isinstance(raw_values, list) else []:
            if not isinstance(raw, dict):
                continue
            tol = raw.get("tol")
            values.append(
                Recorded(
                    name=str(raw.get("name", ""))[:200],
                    value=_value(values_reader, raw, max_bytes),
                    tolerance=tol if isinstance(tol, dict) else {},
                )
            )
        output.tests[test] = TestRecord(
            test=test,
            question=str(rec.get("question", ""))[:200],
            points=_float(rec.get("points"), 0.0),
            timeout=_float(rec.get("timeout"), 0.0),
            gpu=rec.get("gpu") is True,
            outcome=str(rec.get("outcome", ""))[:20],
            message=str(rec.get("message", ""))[:1000],
            values=tuple(values),
        )
