"""Incremental regrades: a submission's result cached by the hashes of what produced it.

The digest covers the submission file, the release it is rebuilt on, the answer key's digest
(which covers the reference, the grader, the runtime, the limits and the seed) and the
trusted grading code. Cached results are JSON the trusted side wrote itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from .results import QuestionResult, Status, SubmissionResult, TestResult

CACHE_FORMAT = "1"
_TRUSTED_CODE = (
    "compare.py",
    "grading.py",
    "loader.py",
    "static.py",
    "values.py",
    "exercise.py",
    "readers.py",
    "fresh.py",
    "jobs.py",
)


def _code_hash() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in _TRUSTED_CODE:
        h.update((here / name).read_bytes())
    return h.hexdigest()


_CODE = _code_hash()


def result_digest(batch: str, submission: bytes, extra: str = "") -> str:
    """The cache key of one submission's result.

    Args:
        batch: Digest of what the whole batch depends on (answer key, release, variants).
        submission: The notebook's bytes.
        extra: Anything else the result depends on (student name, loader notice).
    """
    h = hashlib.sha256(f"gradetape-result/{CACHE_FORMAT}/{_CODE}/{batch}/{extra}".encode())
    h.update(hashlib.sha256(submission).digest())
    return h.hexdigest()[:32]


def to_json(result: SubmissionResult) -> dict[str, Any]:
    """A JSON-ready dict of a result."""
    data = dataclasses.asdict(result)
    data["status"] = result.status.value
    data["timestamp"] = result.timestamp.isoformat() if result.timestamp else None
    return data


def from_json(data: dict[str, Any]) -> SubmissionResult:
    """Rebuild a result written by :func:`to_json`."""
    return SubmissionResult(
        student=data["student"],
        assignment=data["assignment"],
        notebook=data["notebook"],
        status=Status(data["status"]),
        reason=data["reason"],
        questions=tuple(QuestionResult(**q) for q in data["questions"]),
        tests=tuple(TestResult(**t) for t in data["tests"]),
        notices=tuple(data["notices"]),
        flags=tuple(data["flags"]),
        isolation=data["isolation"],
        duration_s=data["duration_s"],
        timestamp=datetime.fromisoformat(data["timestamp"]) if data["timestamp"] else None,
        extra=dict(data.get("extra", {})),
    )


class ResultCache:
    """Results on disk under ``folder/<digest>.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, digest: str) -> SubmissionResult | None:
        """The cached result, or ``None``."""
        try:
            return from_json(json.loads((self.folder / f"{digest}.json").read_text()))
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a damaged entry is a miss, regraded and rewritten
            return None

    def put(self, digest: str, result: SubmissionResult) -> None:
        """Store a result atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(to_json(result), fh)
        os.replace(tmp, self.folder / f"{digest}.json")
