"""Incremental regrades: a submission's result cached by the hashes of what produced it.

The digest covers the submission file, the release it is rebuilt on, the answer key's digest
(which covers the reference, the grader, the runtime, the limits and the seed) and the
trusted grading code: every module ``pipeline/submission.py`` imports, directly or not,
found by walking the imports rather than listed by hand. Cached results are JSON the trusted
side wrote itself.
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

from autograder.results import QuestionResult, Status, SubmissionResult, TestResult

CACHE_FORMAT = "1"
_PACKAGE = Path(__file__).resolve().parents[1]
_ROOT_MODULE = "pipeline/submission.py"
"""Where the trusted code that shapes a result starts: its import closure is hashed."""


def _module_file(package_dir: Path, parts: list[str]) -> Path | None:
    """The file of module ``parts`` (relative to the package root), or ``None``."""
    base = package_dir.joinpath(*parts) if parts else package_dir
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, package_dir: Path) -> set[Path]:
    """Files of this package that ``path`` imports, at module level or inside functions."""
    import ast

    here = list(path.relative_to(package_dir).parent.parts)
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        targets: list[list[str]] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else list(here)
            elif node.module and node.module.split(".")[0] == package_dir.name:
                base = []
            else:
                continue
            module = (node.module or "").split(".") if node.module else []
            if not node.level:
                module = module[1:]
            targets.append(base + module)
            targets.extend(base + module + [alias.name] for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package_dir.name:
                    targets.append(parts[1:])
        for parts in targets:
            for depth in range(1, len(parts) + 1):  # every package on the way runs too
                init = _module_file(package_dir, parts[: depth - 1] + [parts[depth - 1]])
                if init is not None:
                    found.add(init)
    return found


def trusted_code_files(package_dir: Path = _PACKAGE) -> list[Path]:
    """Every module of the package that grading imports, found by walking imports.

    Computed rather than listed, so a module that shapes a result or a message (and every
    module it imports, however lazily) cannot be forgotten. Hidden graders and the sandbox
    runtime are covered by the answer key's digest instead, but are included when imported.

    Args:
        package_dir: The ``autograder`` package folder.

    Returns:
        The files, sorted by path.
    """
    root = package_dir / _ROOT_MODULE
    todo = [root] + [d / "__init__.py" for d in root.parents if d.is_relative_to(package_dir)]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo.extend(_imports(path, package_dir) - seen)
    return sorted(seen)


def _code_hash() -> str:
    h = hashlib.sha256()
    for path in trusted_code_files():
        h.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
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
