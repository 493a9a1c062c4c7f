"""Similarity review: pairs of submissions whose solution code is suspiciously alike.

Uses copydetect's winnowing fingerprints (MOSS's algorithm) over each student's solution
cells, with the release's own code as boilerplate, and identifiers normalised, so renamed
variables and reordered functions still match. The result is a list for an instructor to
look at; it never changes a score.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

NOISE_T = 20  # k: shortest shared token run that counts
GUARANTEE_T = 25  # any shared run this long is always found


@dataclass(frozen=True)
class SimilarPair:
    """Two students whose solution code overlaps above the threshold.

    Attributes:
        student_a: First student id.
        student_b: Second student id.
        similarity_a: Share of A's code (tokens) also in B's.
        similarity_b: Share of B's code also in A's.
        code_a: A's code with shared parts marked ``[[...]]``.
        code_b: B's code with shared parts marked ``[[...]]``.
    """

    student_a: str
    student_b: str
    similarity_a: float
    similarity_b: float
    code_a: str
    code_b: str

    @property
    def similarity(self) -> float:
        """The larger of the two shares."""
        return max(self.similarity_a, self.similarity_b)


def _fingerprint(code: str, boilerplate: list[int]) -> object:
    from copydetect import CodeFingerprint

    return CodeFingerprint(
        "solution.py",
        NOISE_T,
        GUARANTEE_T - NOISE_T + 1,
        boilerplate=boilerplate,
        filter=True,
        language="python",
        fp=io.StringIO(code),
    )


def _mark(code: str, slices: object) -> str:
    from copydetect.utils import highlight_overlap

    if len(slices[0]) == 0:  # type: ignore[index]
        return code
    marked, _ = highlight_overlap(code, slices, "[[", "]]")
    return str(marked)


def similar_pairs(
    codes: Mapping[str, str], boilerplate: str = "", threshold: float = 0.6
) -> list[SimilarPair]:
    """Every pair whose shared share of code reaches ``threshold``, most similar first.

    Args:
        codes: Student id -> that student's solution code (cells joined).
        boilerplate: Code every student was given (the release's solution cells).
        threshold: Minimum share (0-1) of either student's code found in the other's.
    """
    from copydetect import compare_files

    base = _fingerprint(boilerplate, []).hashes if boilerplate.strip() else []  # type: ignore[attr-defined]
    prints = {s: _fingerprint(c, list(base)) for s, c in codes.items() if c.strip()}
    pairs: list[SimilarPair] = []
    for a, b in combinations(sorted(prints), 2):
        _, (sim_a, sim_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
        if max(sim_a, sim_b) >= threshold:
            pairs.append(
                SimilarPair(
                    a,
                    b,
                    float(sim_a),
                    float(sim_b),
                    _mark(prints[a].raw_code, slices_a),  # type: ignore[attr-defined]
                    _mark(prints[b].raw_code, slices_b),  # type: ignore[attr-defined]
                )
            )
    return sorted(pairs, key=lambda p: -p.similarity)
