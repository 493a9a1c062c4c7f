"""Typed settings: sandbox limits and course configuration (``gradetape.toml``)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .similarity import MIN_TOKENS, THRESHOLD

CONFIG_FILE = "gradetape.toml"
SEED_ENV = "GRADETAPE_SECRET_SEED"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox job.

    Attributes:
        cell_timeout: Seconds one notebook cell may run.
        test_timeout: Seconds one hidden test may run (a ``timeout`` marker overrides it).
        job_timeout: Seconds the whole job may run, TensorFlow import included.
        memory_mb: Address-space limit of the job's processes.
        max_processes: Processes the sandboxed job may have at once.
        max_file_mb: Largest file the job may write.
        output_chars: Printed characters kept per cell (the rest is dropped).
        max_value_mb: Largest single recorded value.
        max_total_mb: Largest total size of everything the job may hand back.
        storage_mb: Size of the job's one tmpfs, which holds every place it may write
            (``/tmp``, its home, ``/dev/shm`` and its output folder); counts against the job.
        handover_files: Most files (and folders) one hand-over to a fresh job may hold.
        handover_mb: Largest total size of one hand-over to a fresh job.
    """

    cell_timeout: float = 60.0
    test_timeout: float = 60.0
    job_timeout: float = 300.0
    memory_mb: int = 6144
    max_processes: int = 256
    max_file_mb: int = 256
    output_chars: int = 20_000
    max_value_mb: int = 16
    max_total_mb: int = 64
    storage_mb: int = 512
    handover_files: int = 200
    handover_mb: int = 64

    def updated(self, overrides: dict[str, Any]) -> Limits:
        """Return a copy with the known keys of ``overrides`` applied.

        Raises:
            ValueError: If ``overrides`` names a limit that does not exist.
        """
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown limit(s) {sorted(unknown)}; known limits: {sorted(known)}")
        return replace(self, **overrides)


@dataclass(frozen=True)
class SimilaritySettings:
    """The similarity review's ``[similarity]`` table (see :mod:`autograder.similarity`).

    Attributes:
        min_tokens: A student's code with fewer normalised tokens (comments, layout and
            cells identical to the release's left out) is never compared: short answers
            look alike because there is one way to write them.
        threshold: Minimum share (0-1) of either student's code found in the other's.
    """

    min_tokens: int = MIN_TOKENS
    threshold: float = THRESHOLD

    @classmethod
    def from_table(cls, table: Any, path: Path) -> SimilaritySettings:
        """Read the ``[similarity]`` table.

        Raises:
            ValueError: Naming the bad key or value and what is expected.
        """
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [similarity] must be a table (min_tokens = 40)")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(
                f"{path}: [similarity] has unknown keys {unknown}; known: {sorted(known)}"
            )
        min_tokens = table.get("min_tokens", MIN_TOKENS)
        if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 0:
            raise ValueError(f"{path}: [similarity] min_tokens must be a whole number >= 0")
        threshold = table.get("threshold", THRESHOLD)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"{path}: [similarity] threshold must be a number between 0 and 1")
        if not 0 < threshold <= 1:
            raise ValueError(f"{path}: [similarity] threshold must be a number between 0 and 1")
        return cls(min_tokens, float(threshold))


@dataclass(frozen=True)
class CourseSettings:
    """Where the course lives and how it is graded.

    Attributes:
        root: The course root (the repository).
        seed: The batch's secret seed. Real courses set ``GRADETAPE_SECRET_SEED``.
        limits: Default sandbox limits.
        workers: Sandbox jobs run at once (0: one per CPU core).
        isolation: ``"auto"`` (bubblewrap when available), ``"bwrap"`` or ``"subprocess"``.
        warm: Warm workers (one sandbox per worker, TensorFlow imported once, a fresh fork
            per job); ``False`` starts a brand-new sandbox for every job.
        misconceptions: Run the known-wrong variants each batch to name students' mistakes.
        scheduler: A Dask scheduler address; jobs then run on the cluster's workers.
        db_url: The gradebook database (nbgrader's); defaults to ``gradebook.db`` in root.
        submitted: Directory laid out as ``<student>/<assignment>/*.ipynb``.
        cache_dir: Trusted cache of answer keys and results (never mounted in a sandbox).
        heldout_files: ``[heldout]`` table: an instructor's private evaluation file per
            dataset family (``{"digits": "private/digits_eval.npz"}``, relative to ``root``;
            see :mod:`autograder.private_data`). Empty: held-out accuracy is measured on the
            public digits, whose labels a determined student can look up.
        similarity: ``[similarity]`` table: what the similarity review compares.
    """

    root: Path
    seed: int = 20261123
    limits: Limits = field(default_factory=Limits)
    workers: int = 0
    isolation: str = "auto"
    warm: bool = True
    misconceptions: bool = True
    scheduler: str | None = None
    db_url: str = ""
    submitted: Path | None = None
    cache_dir: Path | None = None
    heldout_files: dict[str, str] = field(default_factory=dict)
    similarity: SimilaritySettings = field(default_factory=SimilaritySettings)

    @property
    def solutions_dir(self) -> Path:
        """Nbgrader's source directory."""
        return self.root / "solutions"

    @property
    def exercises_dir(self) -> Path:
        """Nbgrader's release directory."""
        return self.root / "exercises"

    @property
    def graders_dir(self) -> Path:
        """Hidden graders, one folder per exercise."""
        return self.root / "autograder" / "graders"

    @property
    def submitted_dir(self) -> Path:
        """Submissions, nbgrader's layout."""
        return self.submitted or self.root / "submitted"

    @property
    def cache(self) -> Path:
        """Trusted cache directory."""
        return self.cache_dir or self.root / ".gradetape" / "cache"

    @property
    def database(self) -> str:
        """The gradebook's SQLAlchemy URL."""
        return (
            self.db_url or os.environ.get("GRADETAPE_DB") or f"sqlite:///{self.root}/gradebook.db"
        )

    @property
    def worker_count(self) -> int:
        """Jobs to run at once."""
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


def load_settings(root: Path, **overrides: Any) -> CourseSettings:
    """Read ``gradetape.toml`` in ``root`` (optional) and apply keyword overrides.

    The secret seed comes from ``GRADETAPE_SECRET_SEED`` when set, else the file, else a
    default meant for demos only.
    """
    root = root.resolve()
    data: dict[str, Any] = {}
    path = root / CONFIG_FILE
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    limits = Limits().updated(data.pop("limits", {}))
    heldout_files = _heldout_table(data.pop("heldout", {}), path)
    similarity = SimilaritySettings.from_table(data.pop("similarity", {}), path)
    kwargs: dict[str, Any] = {
        k: v for k, v in data.items() if k in {"seed", "workers", "isolation"}
    }
    if os.environ.get(SEED_ENV):
        kwargs["seed"] = int(os.environ[SEED_ENV])
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    kwargs.setdefault("heldout_files", heldout_files)
    kwargs.setdefault("similarity", similarity)
    return CourseSettings(root=root, limits=limits, **kwargs)


def _heldout_table(table: Any, path: Path) -> dict[str, str]:
    """The ``[heldout]`` table: known keys, each a path string.

    Raises:
        ValueError: Naming the bad entry and what is expected.
    """
    from .private_data import WIDTHS

    if not isinstance(table, dict):
        raise ValueError(
            f'{path}: [heldout] must be a table of paths, like digits = "private/x.npz"'
        )
    unknown = sorted(set(table) - set(WIDTHS))
    if unknown:
        raise ValueError(f"{path}: [heldout] has unknown keys {unknown}; known: {sorted(WIDTHS)}")
    bad = sorted(k for k, v in table.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise ValueError(f"{path}: [heldout] {bad[0]} must be a file path (a non-empty string)")
    return {str(k): str(v) for k, v in table.items()}
