"""``in/job.json``: the job spec the trusted side writes and the runtime reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .fields import Malformed, as_object, cell_index, optional, required, strings


@dataclass(frozen=True)
class JobCell:
    """One code cell to execute: its position in the notebook, its id and its source."""

    index: int
    cell_id: str
    source: str


@dataclass(frozen=True)
class JobSpec:
    """``in/job.json``: everything the runtime needs to know about one job.

    Attributes:
        notebook_seed: The seed of the notebook's run (derived; never the course seed).
        cells: The code cells to execute, in order.
        cell_timeout: Seconds one cell may run.
        test_timeout: Seconds one test may run (a ``timeout`` marker overrides it).
        exercise: The exercise's name ("" for a validation run).
        test_seeds: Test function id -> its derived seed.
        output_limit: Printed characters kept per cell.
        max_value_bytes: Largest array the runtime records.
        select: Run only these test ids (``None``: every test).
        fresh: A fresh job (runs only the tests marked ``fresh``).
        tensorflow: Import and seed TensorFlow before the first cell.
    """

    notebook_seed: int
    cells: tuple[JobCell, ...]
    cell_timeout: float
    test_timeout: float
    exercise: str = ""
    test_seeds: Mapping[str, int] = field(default_factory=dict)
    output_limit: int = 20_000
    max_value_bytes: int = 16 << 20
    select: tuple[str, ...] | None = None
    fresh: bool = False
    tensorflow: bool = True

    def to_json(self) -> str:
        """The text of ``job.json``."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cells"] = [
            {"index": c.index, "cell_id": c.cell_id, "source": c.source} for c in self.cells
        ]
        data["test_seeds"] = dict(sorted(self.test_seeds.items()))
        data["select"] = None if self.select is None else list(self.select)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        """Parse ``job.json``.

        Raises:
            Malformed: If it is not JSON, lacks a required field, has an unknown one or a
                field of the wrong type.
        """
        try:
            raw = as_object(json.loads(text), "job.json")
        except json.JSONDecodeError as exc:
            raise Malformed(f"job.json is not JSON ({exc})") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise Malformed(f"job.json has unknown fields {unknown}: build it with JobSpec")
        if "notebook_seed" not in raw:
            raise Malformed(
                "job.json has no notebook_seed: build jobs with autograder.run.jobs.write_job"
            )
        cells = []
        for item in required(raw, "cells", (list,)):
            cell = as_object(item, "a cell of job.json")
            cells.append(
                JobCell(
                    cell_index(cell),
                    optional(cell, "cell_id", (str,), ""),
                    required(cell, "source", (str,)),
                )
            )
        seeds = optional(raw, "test_seeds", (dict,), {})
        if not all(type(v) is int for v in seeds.values()):
            raise Malformed("'test_seeds' holds something other than integers")
        select = optional(raw, "select", (list, type(None)), None)
        default = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        return cls(
            notebook_seed=required(raw, "notebook_seed", (int,)),
            cells=tuple(cells),
            cell_timeout=float(required(raw, "cell_timeout", (int, float))),
            test_timeout=float(required(raw, "test_timeout", (int, float))),
            exercise=optional(raw, "exercise", (str,), default["exercise"]),
            test_seeds=dict(seeds),
            output_limit=optional(raw, "output_limit", (int,), default["output_limit"]),
            max_value_bytes=optional(raw, "max_value_bytes", (int,), default["max_value_bytes"]),
            select=None if select is None else strings(raw, "select"),
            fresh=optional(raw, "fresh", (bool,), default["fresh"]),
            tensorflow=optional(raw, "tensorflow", (bool,), default["tensorflow"]),
        )
