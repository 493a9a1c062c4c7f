"""Generate the mutants of an exercise's solution cells and sample them (pure, no I/O).

Only code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is mutated. A mutant's id
is ``<grade_id>:<operator>:<hash>``, the hash being of the whole mutated cell source, so an
id stays the same as long as the reference cell and the operator's output do.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from autograder.review.audit.operators import OPERATORS, Operator

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


@dataclass(frozen=True)
class Mutant:
    """One mutated solution cell.

    Attributes:
        id: Stable id, ``<grade_id>:<operator>:<10 hex digits of the mutated source>``.
        cell: The solution cell's nbgrader ``grade_id``.
        operator: Name of the operator (a key of :data:`OPERATORS`).
        description: What the operator changed, readable.
        line: The line of the cell the change starts on (1-based).
        original: The reference cell's source.
        source: The mutated cell's source.
    """

    id: str
    cell: str
    operator: str
    description: str
    line: int
    original: str
    source: str

    def diff(self) -> str:
        """A unified diff from the reference cell to the mutant."""
        lines = difflib.unified_diff(
            self.original.splitlines(),
            self.source.splitlines(),
            f"{self.cell} (reference)",
            f"{self.cell} (mutant)",
            n=1,
            lineterm="",
        )
        return "\n".join(lines)


def mutant_id(cell: str, operator: str, source: str) -> str:
    """The stable id of the mutant of ``cell`` by ``operator`` whose source is ``source``."""
    return f"{cell}:{operator}:{hashlib.sha256(source.encode()).hexdigest()[:10]}"


def solution_regions(source: str) -> list[tuple[int, int]]:
    """``(begin, end)`` line numbers (1-based) of each marker pair; mutate strictly between."""
    regions: list[tuple[int, int]] = []
    begin = 0
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if text.startswith(BEGIN):
            begin = number
        elif text.startswith(END) and begin:
            regions.append((begin, number))
            begin = 0
    return regions


class _Sites(cst.CSTVisitor):
    """Collects every (node, operator, replacement) inside the solution regions."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, regions: list[tuple[int, int]], operators: Mapping[str, Operator]) -> None:
        self.regions = regions
        self.operators = operators
        self.sites: list[tuple[cst.CSTNode, str, cst.CSTNode, str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        try:
            where = self.get_metadata(PositionProvider, node)
        except KeyError:
            return True
        inside = any(b < where.start.line and where.end.line < e for b, e in self.regions)
        if inside:
            for name, operator in self.operators.items():
                for new, description in operator(node):
                    self.sites.append((node, name, new, description, where.start.line))
        return True


def cell_mutants(
    cell: str, source: str, operators: Mapping[str, Operator] | None = None
) -> list[Mutant]:
    """Every distinct mutant of one solution cell, in source order.

    Mutants whose source equals the reference's or another's are left out (the operator
    listed first in :data:`OPERATORS` keeps it). A mutant that no longer compiles is kept:
    the audit counts it as trivially killed.
    """
    regions = solution_regions(source)
    if not regions:
        return []
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError:
        return []
    sites = _Sites(regions, operators if operators is not None else OPERATORS)
    wrapper.visit(sites)
    seen = {source}
    found: list[tuple[int, Mutant]] = []
    priority = {name: i for i, name in enumerate(sites.operators)}
    ordered = sorted(enumerate(sites.sites), key=lambda s: priority[s[1][1]])
    for position, (node, name, new, description, line) in ordered:
        try:
            mutated = wrapper.module.deep_replace(node, new)
            code = mutated.code if isinstance(mutated, cst.Module) else ""
        except (ValueError, TypeError, cst.CSTValidationError):
            continue
        if not code:
            continue
        if code in seen:
            continue
        seen.add(code)
        mutant = Mutant(mutant_id(cell, name, code), cell, name, description, line, source, code)
        found.append((position, mutant))
    return [m for _, m in sorted(found, key=lambda f: f[0])]


def all_mutants(cells: Mapping[str, str]) -> list[Mutant]:
    """The mutants of every solution cell (``grade_id`` -> source), cell by cell."""
    return [m for cell, source in cells.items() for m in cell_mutants(cell, source)]


def _hash(m: Mutant) -> str:
    return hashlib.sha256(m.id.encode()).hexdigest()


def _round_robin(queues: list[list[Mutant]]) -> list[Mutant]:
    out: list[Mutant] = []
    queues = [list(q) for q in queues]
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def sample(mutants: Iterable[Mutant], limit: int | None) -> list[Mutant]:
    """At most ``limit`` mutants, stratified over cells, then operators; deterministic.

    Cells take turns (in notebook order), and within a cell its operators take turns (in
    :data:`OPERATORS` order, the n-th cell starting at its n-th operator); within one
    (cell, operator) group mutants come in the order of their id's hash, so the sample
    depends only on the mutants, not on run order. The result keeps the original order.
    """
    items = list(mutants)
    if limit is None or len(items) <= limit:
        return items
    by_cell: dict[str, dict[str, list[Mutant]]] = {}
    for m in items:
        by_cell.setdefault(m.cell, {}).setdefault(m.operator, []).append(m)
    per_cell = []
    for turn, ops in enumerate(by_cell.values()):
        # Operators in OPERATORS order, each cell starting at a different one, so a small
        # sample does not take the same operator from every cell.
        groups = [sorted(ops[name], key=_hash) for name in OPERATORS if name in ops]
        shift = turn % len(groups)
        per_cell.append(_round_robin(groups[shift:] + groups[:shift]))
    chosen = {m.id for m in _round_robin(per_cell)[:limit]}
    return [m for m in items if m.id in chosen]
