"""Similarity review: pairs of submissions whose solution code is suspiciously alike.

Uses copydetect's winnowing fingerprints (MOSS's algorithm) over each student's solution
cells, with the release's own code as boilerplate, and identifiers normalised, so renamed
variables and reordered functions still match. The result is a list for an instructor to
look at; it never changes a score.

Two kinds of code are left out before any pair is compared, because they cannot tell a copy
from the obvious answer: a solution cell identical to the release's (token for token,
comments and layout ignored), and a student's code that, once those cells are gone, has
fewer than ``min_tokens`` normalised tokens (:func:`token_count`; ``[similarity] min_tokens``
in ``gradetape.toml``, default :data:`MIN_TOKENS`). Two hand-typed one-line answers are
alike because the exercise leaves one way to write them, not because one was copied.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

from autograder.settings import MIN_TOKENS, THRESHOLD

NOISE_T = 20  # k: shortest shared token run that counts
GUARANTEE_T = 25  # any shared run this long is always found

_SKIP = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
_FALLBACK = re.compile(r"\w+|[^\w\s]")


def tokens(code: str) -> list[str]:
    """The code's normalised tokens: comments, blank lines and indentation left out.

    Code Python cannot tokenize (a syntax error) is split into words and punctuation, so
    the count stays meaningful for broken submissions.
    """
    try:
        return [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(code).readline)
            if t.type not in _SKIP
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _FALLBACK.findall(re.sub(r"#[^\n]*", "", code))


def token_count(code: str) -> int:
    """How many normalised tokens ``code`` has (see :func:`tokens`)."""
    return len(tokens(code))


def own_code(cells: Mapping[str, str], release: Mapping[str, str]) -> str:
    """A student's solution cells joined, without those identical to the release's.

    Args:
        cells: grade_id (or ``"extra-N"``) -> the student's source of that cell.
        release: grade_id -> the release's source of that cell.
    """
    kept = [
        code
        for gid, code in cells.items()
        if gid not in release or tokens(code) != tokens(release[gid])
    ]
    return "\n\n".join(kept)


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


def comparable(code: str, boilerplate: str = "", min_tokens: int = MIN_TOKENS) -> bool:
    """Whether ``code`` is worth comparing: long enough and not the release's own code."""
    mine = tokens(code)
    return len(mine) >= min_tokens and mine != tokens(boilerplate)


def similar_pairs(
    codes: Mapping[str, str],
    boilerplate: str = "",
    threshold: float = THRESHOLD,
    min_tokens: int = MIN_TOKENS,
) -> list[SimilarPair]:
    """Every pair whose shared share of code reaches ``threshold``, most similar first.

    Args:
        codes: Student id -> that student's solution code (cells joined; best without the
            cells identical to the release's, see :func:`own_code`).
        boilerplate: Code every student was given (the release's solution cells).
        threshold: Minimum share (0-1) of either student's code found in the other's.
        min_tokens: Code with fewer normalised tokens (see :func:`token_count`), or
            identical to ``boilerplate``, is left out of every pair.
    """
    from copydetect import compare_files

    base = _fingerprint(boilerplate, []).hashes if boilerplate.strip() else []  # type: ignore[attr-defined]
    prints = {
        s: _fingerprint(c, list(base))
        for s, c in codes.items()
        if c.strip() and comparable(c, boilerplate, min_tokens)
    }
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
