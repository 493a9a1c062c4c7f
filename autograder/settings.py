"""Typed settings: sandbox limits and course configuration (``gradetape.toml``)."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

CONFIG_FILE = "gradetape.toml"
SEED_ENV = "GRADETAPE_SECRET_SEED"
ISOLATIONS = ("auto", "bwrap", "subprocess")

#: Top-level keys of ``gradetape.toml`` and the type each must have.
TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "seed": int,
    "workers": int,
    "isolation": str,
    "warm": bool,
    "misconceptions": bool,
    "scheduler": str,
}
#: Tables of ``gradetape.toml``; ``[grading]`` is read by :mod:`gradebook.policy`.
TABLES = ("limits", "heldout", "similarity", "grading")
#: Keys of the ``[grading]`` table: the fields of :class:`gradebook.policy.GradingPolicy`
#: (kept here so that checking a file needs no pandas; a test keeps the two in step).
GRADING_KEYS = (
    "late_penalty_per_day",
    "late_penalty_cap",
    "late_penalty_basis",
    "grace_minutes",
    "extensions",
    "drop_lowest",
    "never_drop",
    "weights",
    "default_weight",
    "cutoffs",
)


class SettingsError(ValueError):
    """``gradetape.toml`` (or a setting's environment variable) cannot be used as written."""


def check_keys(keys: Iterable[str], known: Iterable[str], table: str, path: Path) -> None:
    """Refuse keys a table does not have, naming the nearest valid key.

    Args:
        keys: The keys found.
        known: The keys the table accepts.
        table: The table's name (``""`` for the top level).
        path: The settings file, for the message.

    Raises:
        SettingsError: One line naming the first unknown key, its table, the nearest valid
            key (``difflib``) and every known key.
    """
    known = sorted(known)
    unknown = sorted(set(keys) - set(known))
    if not unknown:
        return
    where = f"[{table}]" if table else "the top level"
    near = difflib.get_close_matches(unknown[0], known, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else "; remove it or fix its spelling"
    raise SettingsError(f"{path}: {where} has unknown keys {unknown}; known: {known}{hint}")


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

    def updated(self, overrides: dict[str, Any], path: Path | str = "the limits") -> Limits:
        """Return a copy with the known keys of ``overrides`` applied.

        Args:
            overrides: Limit name to value (a ``[limits]`` table).
            path: Where the overrides come from, for messages.

        Raises:
            SettingsError: If ``overrides`` names a limit that does not exist or gives one
                a value that is not a positive number.
        """
        if not isinstance(overrides, dict):
            raise SettingsError(f"{path}: [limits] must be a table (cell_timeout = 60)")
        check_keys(overrides, (f.name for f in fields(self)), "limits", Path(path))
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SettingsError(
                    f"{path}: [limits] {name} must be a positive number, not {value!r}"
                )
        return replace(self, **overrides)


#: The ``[heldout]`` keys a course may configure, with the row width each expects.
HELDOUT_WIDTHS: dict[str, int] = {"digits": 64}
#: Similarity review default: code with fewer normalised tokens is never compared.
MIN_TOKENS = 40
#: Similarity review default: minimum share of either student's code found in the other's.
THRESHOLD = 0.6


@dataclass(frozen=True)
class SimilaritySettings:
    """The similarity review's ``[similarity]`` table (see :mod:`autograder.review.similarity`).

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
            SettingsError: Naming the bad key or value and what is expected.
        """
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: [similarity] must be a table (min_tokens = 40)")
        check_keys(table, (f.name for f in fields(cls)), "similarity", path)
        min_tokens = table.get("min_tokens", MIN_TOKENS)
        if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 0:
            raise SettingsError(f"{path}: [similarity] min_tokens must be a whole number >= 0")
        threshold = table.get("threshold", THRESHOLD)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise SettingsError(f"{path}: [similarity] threshold must be a number between 0 and 1")
        if not 0 < threshold <= 1:
            raise SettingsError(f"{path}: [similarity] threshold must be a number between 0 and 1")
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
            see :mod:`autograder.load.private_data`). Empty: held-out accuracy is measured on the
            public digits, whose labels a determined student can look up.
        similarity: ``[similarity]`` table: what the similarity review compares.
        grading: ``[grading]`` table, keys checked; :class:`gradebook.policy.GradingPolicy`
            reads the values.
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
    grading: dict[str, Any] = field(default_factory=dict)

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

    Every key the file documents is honoured (``warm = false`` turns warm workers off);
    an unknown or misspelled key is an error. The secret seed comes from
    ``GRADETAPE_SECRET_SEED`` when set, else the file, else a default meant for demos only.
    Overrides that are ``None`` are left out (a command-line option not given).

    Raises:
        SettingsError: One line naming the file, the table, the key and what is expected.
    """
    root = root.resolve()
    path = root / CONFIG_FILE
    data = read_config(path)
    check_keys(data, [*TOP_LEVEL, *TABLES], "", path)
    for key, kind in TOP_LEVEL.items():
        if key in data:
            _check_type(path, key, data[key], kind)
    if "isolation" in data and data["isolation"] not in ISOLATIONS:
        raise SettingsError(
            f"{path}: isolation = {data['isolation']!r} is not one of {', '.join(ISOLATIONS)}"
        )
    if "workers" in data and data["workers"] < 0:
        raise SettingsError(f"{path}: workers must be 0 (one per CPU core) or more")
    limits = Limits().updated(data.pop("limits", {}), path)
    heldout_files = _heldout_table(data.pop("heldout", {}), path)
    similarity = SimilaritySettings.from_table(data.pop("similarity", {}), path)
    grading = data.pop("grading", {})
    if not isinstance(grading, dict):
        raise SettingsError(f"{path}: [grading] must be a table (late_penalty_per_day = 0.1)")
    check_keys(grading, GRADING_KEYS, "grading", path)
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in TOP_LEVEL}
    if os.environ.get(SEED_ENV):
        try:
            kwargs["seed"] = int(os.environ[SEED_ENV])
        except ValueError:
            raise SettingsError(
                f"{SEED_ENV} must be a whole number (a high-entropy one, like 48 random digits)"
            ) from None
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    kwargs.setdefault("heldout_files", heldout_files)
    kwargs.setdefault("similarity", similarity)
    kwargs.setdefault("grading", grading)
    return CourseSettings(root=root, limits=limits, **kwargs)


def read_config(path: Path) -> dict[str, Any]:
    """The parsed ``gradetape.toml`` (empty when there is none).

    Raises:
        SettingsError: If it is not valid TOML (with the line) or cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"{path}: cannot be read ({exc}); fix the file or its permissions"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def _check_type(path: Path, key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    """Refuse a top-level value of the wrong type (``warm = "no"``, ``workers = true``)."""
    wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    if wrong:
        names = {bool: "true or false", int: "a whole number", str: "a string"}
        expected = names.get(kind, str(kind)) if isinstance(kind, type) else str(kind)
        raise SettingsError(f"{path}: {key} must be {expected}, not {value!r}")


def _heldout_table(table: Any, path: Path) -> dict[str, str]:
    """The ``[heldout]`` table: known keys, each a path string.

    Raises:
        SettingsError: Naming the bad entry and what is expected.
    """
    if not isinstance(table, dict):
        raise SettingsError(
            f'{path}: [heldout] must be a table of paths, like digits = "private/x.npz"'
        )
    if not table:
        return {}
    check_keys(table, HELDOUT_WIDTHS, "heldout", path)
    bad = sorted(k for k, v in table.items() if not isinstance(v, str) or not v.strip())
    if bad:
        raise SettingsError(f"{path}: [heldout] {bad[0]} must be a file path (a non-empty string)")
    return {str(k): str(v) for k, v in table.items()}
