"""Exercises: where an exercise's notebook, grader and known-wrong variants live."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.load.heldout import FAMILIES, check_names
from autograder.load.private_data import PrivateSource, resolve_private
from autograder.settings import CourseSettings, Limits

GRADER_FILE = "grader.toml"


@dataclass(frozen=True)
class StaticCheck:
    """A source check run on the trusted side (see ``docs/grader-contract.md``)."""

    test: str
    function: str
    forbid: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Variant:
    """A known-wrong solution kept beside a grader.

    Attributes:
        name: File stem.
        cells: Solution cell ``grade_id`` -> replacement source.
        loses: Tests that must fail for this variant.
        also_loses: Tests that may fail too.
        description: The misconception, for feedback and reports.
        hint: How to think about it.
        topic: The lecture topic (with its Chinese term).
    """

    name: str
    cells: dict[str, str]
    loses: tuple[str, ...]
    also_loses: tuple[str, ...] = ()
    description: str = ""
    hint: str = ""
    topic: str = ""


@dataclass(frozen=True)
class Alternative:
    """A correct solution in another style, kept beside a grader (``alternatives/<name>.toml``).

    The conformance battery requires full marks for it, and the answer key is refused when
    a tolerance is tighter than the honest spread between it and the reference (see
    :func:`autograder.judge.answer_key.check_spread`).

    Attributes:
        name: File stem.
        cells: Solution cell ``grade_id`` -> replacement source.
        description: What it does differently (float32 arithmetic, another operation order).
    """

    name: str
    cells: dict[str, str]
    description: str = ""


class AlternativeError(ValueError):
    """An alternative solution's file is malformed."""


@dataclass(frozen=True)
class Exercise:
    """One assignment: its nbgrader name, notebook, grader and settings."""

    name: str
    notebook: str
    grader_dir: Path
    source_path: Path
    release_path: Path
    limits: Limits
    static_checks: tuple[StaticCheck, ...] = ()
    datasets: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    private_data: dict[str, PrivateSource] = field(default_factory=dict)
    """The course's private evaluation files its datasets use (empty: public digits)."""

    @property
    def notebook_id(self) -> str:
        """Nbgrader's notebook id (file name without ``.ipynb``)."""
        return self.notebook.removesuffix(".ipynb")

    def grader_files(self) -> list[Path]:
        """The files copied into the sandbox: tests and support modules, not variants."""
        return sorted(
            p for p in self.grader_dir.iterdir() if p.is_file() and p.suffix in {".py", ".npy"}
        )

    def variants(self) -> list[Variant]:
        """The known-wrong variants, sorted by name."""
        folder = self.grader_dir / "variants"
        found = []
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            found.append(
                Variant(
                    name=path.stem,
                    cells={str(k): str(v) for k, v in data.get("cells", {}).items()},
                    loses=tuple(data.get("loses", ())),
                    also_loses=tuple(data.get("also_loses", ())),
                    description=str(data.get("description", "")),
                    hint=str(data.get("hint", "")),
                    topic=str(data.get("topic", "")),
                )
            )
        return found

    def alternatives(self) -> list[Alternative]:
        """The declared alternative (correct) solutions, sorted by name.

        Raises:
            AlternativeError: If a file names tests it loses (that is a variant), has no
                cells, or is not TOML.
        """
        folder = self.grader_dir / "alternatives"
        found = []
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise AlternativeError(f"{path}: not valid TOML ({exc})") from None
            if "loses" in data or "also_loses" in data:
                raise AlternativeError(
                    f"{path}: an alternative is a correct solution and loses no test; "
                    "a solution that must lose tests belongs in variants/"
                )
            cells = data.get("cells", {})
            if not isinstance(cells, dict) or not cells:
                raise AlternativeError(f"{path}: no [cells] table (grade_id -> source)")
            found.append(
                Alternative(
                    name=path.stem,
                    cells={str(k): str(v) for k, v in cells.items()},
                    description=str(data.get("description", "")),
                )
            )
        return found


def load_exercise(settings: CourseSettings, name: str) -> Exercise:
    """Load the exercise called ``name``.

    Raises:
        FileNotFoundError: If it has no grader folder, naming the exercises that exist.
    """
    grader_dir = settings.graders_dir / name
    config = grader_dir / GRADER_FILE
    if not config.is_file():
        known = ", ".join(exercise_names(settings)) or "none"
        raise FileNotFoundError(f"no exercise {name!r} (no {config}); exercises: {known}")
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    notebook = str(data.get("notebook", f"{name}.ipynb"))
    checks = tuple(
        StaticCheck(
            test=str(c["test"]),
            function=str(c["function"]),
            forbid=tuple(str(f) for f in c.get("forbid", ())),
            message=str(c.get("message", "")),
        )
        for c in data.get("static", [])
    )
    datasets = check_names(data.get("datasets", ()), str(config))
    return Exercise(
        name=name,
        notebook=notebook,
        grader_dir=grader_dir,
        source_path=settings.solutions_dir / name / notebook,
        release_path=settings.exercises_dir / name / notebook,
        limits=settings.limits.updated(data.get("limits", {}), config),
        static_checks=checks,
        datasets=datasets,
        meta={
            k: v for k, v in data.items() if k not in {"static", "limits", "notebook", "datasets"}
        },
        private_data=private_sources(settings, datasets),
    )


def private_sources(
    settings: CourseSettings, datasets: tuple[str, ...]
) -> dict[str, PrivateSource]:
    """The validated private files (``[heldout]``) of the families these datasets use.

    Raises:
        PrivateDataError: If a configured file is missing, misplaced or malformed.
    """
    forbidden = [
        settings.solutions_dir,
        settings.exercises_dir,
        settings.root / "autograder",
        settings.submitted_dir,
    ]
    return {
        key: resolve_private(settings.root, key, settings.heldout_files[key], forbidden)
        for key in sorted({FAMILIES[name] for name in datasets})
        if key in settings.heldout_files
    }


def exercise_names(settings: CourseSettings) -> list[str]:
    """Names of every exercise that has a grader, sorted."""
    if not settings.graders_dir.is_dir():
        return []
    return sorted(p.name for p in settings.graders_dir.iterdir() if (p / GRADER_FILE).is_file())
