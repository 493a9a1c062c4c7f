"""An instructor's private evaluation file: held-out inputs no public dataset can label.

``gradetape.toml`` names it per dataset family, relative to the course root::

    [heldout]
    digits = "private/digits_eval.npz"

The file is a NumPy ``.npz`` holding exactly two arrays:

* ``x``: shape ``(n, 64)``, integer or float pixels in ``[0, 16]`` (like
  ``load_digits().data``: 8x8 images, row by row);
* ``y``: shape ``(n,)``, integer labels ``0``-``9``, every digit at least
  ``MIN_PER_DIGIT`` times.

It stays on the trusted side: only its inputs (``x``, in an order drawn from the seed) are
written into a job; ``y`` is what the predictions are scored against. It must not live where
nbgrader releases files or where hidden graders are copied from (``solutions/``,
``exercises/``, ``autograder/``), nor among the submissions.
"""

from __future__ import annotations

import functools
import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.settings import HELDOUT_WIDTHS

#: The ``[heldout]`` keys a course may configure, with the row width each expects.
WIDTHS = HELDOUT_WIDTHS

#: Largest accepted file on disk, and largest array once decompressed.
MAX_FILE_BYTES = 64 << 20
MAX_ARRAY_BYTES = 128 << 20
#: Rows accepted (a job writes every row into the sandbox and predicts them all).
MAX_ROWS = 50_000
#: Each digit must be evaluated at least this often (``digits_transfer`` keeps 5-9 only).
MIN_PER_DIGIT = 5
#: Pixel range of the digits (``load_digits``: 4-bit grey levels).
PIXEL_MAX = 16.0


class PrivateDataError(ValueError):
    """The configured private file is missing, misplaced or malformed."""


@dataclass(frozen=True)
class PrivateSource:
    """A validated private evaluation file.

    Attributes:
        key: The ``[heldout]`` key (``"digits"``).
        path: The file, resolved.
        digest: SHA-256 of its bytes (part of every answer key's digest).
    """

    key: str
    path: Path
    digest: str


def _fail(key: str, path: Path, problem: str) -> PrivateDataError:
    return PrivateDataError(
        f"private held-out file for [heldout] {key} ({path}): {problem}. Fix the file (an .npz "
        f"with arrays x (n, {WIDTHS.get(key, 64)}) of pixels in [0, {PIXEL_MAX:g}] and y (n,) of "
        f"integer labels 0-9) or remove `{key}` from the [heldout] table of gradetape.toml."
    )


def resolve_private(
    root: Path, key: str, configured: str, forbidden: Sequence[Path]
) -> PrivateSource:
    """Find, place-check and fully validate a configured private file.

    Args:
        root: The course root; a relative ``configured`` path is taken from there.
        key: The ``[heldout]`` key.
        configured: The path as written in ``gradetape.toml``.
        forbidden: Folders the file must not be in (released, copied into jobs, submitted).

    Raises:
        PrivateDataError: Saying what is wrong with the file and what to do.
    """
    path = (root / configured).resolve()
    if key not in WIDTHS:
        raise _fail(key, path, f"unknown key; the platform knows {sorted(WIDTHS)}")
    for folder in forbidden:
        if path.is_relative_to(folder.resolve()):
            raise _fail(
                key,
                path,
                f"it is inside {folder}, which is released to students or copied into grading "
                "jobs; keep it elsewhere (for example private/ at the course root)",
            )
    if not path.is_file():
        raise _fail(key, path, "no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _fail(key, path, f"{size} bytes, more than the {MAX_FILE_BYTES} accepted")
    source = PrivateSource(key, path, hashlib.sha256(path.read_bytes()).hexdigest())
    load_private(source)
    return source


@functools.lru_cache(maxsize=4)
def load_private(source: PrivateSource) -> tuple[np.ndarray, np.ndarray]:
    """The validated ``(x, y)`` of a private file: float64 pixels and int64 labels.

    Raises:
        PrivateDataError: If the file changed since it was resolved or is malformed.
    """
    key, path = source.key, source.path
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _fail(key, path, f"cannot be read ({error.strerror})") from None
    if hashlib.sha256(data).hexdigest() != source.digest:
        raise _fail(key, path, "it changed while grading; grade again")
    x, y = _read_npz(key, path)
    _check(key, path, x, y)
    return x.astype(np.float64), y.astype(np.int64)


def _read_npz(key: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info.file_size for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError):
        raise _fail(key, path, "not an .npz file (save it with numpy.savez)") from None
    if sorted(members) != ["x.npy", "y.npy"]:
        names = sorted(m.removesuffix(".npy") for m in members)
        raise _fail(key, path, f"it holds the arrays {names}; exactly x and y are expected")
    big = {m: s for m, s in members.items() if s > MAX_ARRAY_BYTES}
    if big:
        raise _fail(key, path, f"arrays larger than {MAX_ARRAY_BYTES} bytes: {sorted(big)}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return np.asarray(npz["x"]), np.asarray(npz["y"])
    except Exception as error:  # noqa: BLE001 - any unreadable array is the same problem
        raise _fail(key, path, f"an array cannot be read ({type(error).__name__})") from None


def _check(key: str, path: Path, x: np.ndarray, y: np.ndarray) -> None:
    width = WIDTHS[key]
    if x.ndim != 2 or x.shape[1] != width:
        raise _fail(key, path, f"x has shape {x.shape}; expected (n, {width})")
    if x.dtype.kind not in "iuf":
        raise _fail(key, path, f"x has dtype {x.dtype}; expected integers or floats")
    if y.shape != (x.shape[0],):
        raise _fail(key, path, f"y has shape {y.shape}; expected ({x.shape[0]},), one per row")
    if y.dtype.kind not in "iu":
        raise _fail(key, path, f"y has dtype {y.dtype}; expected integers")
    if not 0 < x.shape[0] <= MAX_ROWS:
        raise _fail(key, path, f"{x.shape[0]} rows; between 1 and {MAX_ROWS} are accepted")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > PIXEL_MAX:
        raise _fail(key, path, f"x has values outside [0, {PIXEL_MAX:g}] (or NaN/inf)")
    if y.min() < 0 or y.max() > 9:
        raise _fail(key, path, f"y has labels from {y.min()} to {y.max()}; expected 0-9")
    counts = np.bincount(y.astype(np.int64), minlength=10)
    if counts.min() < MIN_PER_DIGIT:
        rare = [d for d in range(10) if counts[d] < MIN_PER_DIGIT]
        raise _fail(key, path, f"digits {rare} have fewer than {MIN_PER_DIGIT} rows each")
