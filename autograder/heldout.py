"""Held-out datasets: inputs go into the sandbox, labels stay on the trusted side.

A grader that measures accuracy declares the datasets it uses in ``grader.toml``
(``datasets = ["digits"]``). For every job the trusted side builds each dataset from the
batch's secret seed, writes its *inputs* (and any labelled training part) into the job's
``in/data/<name>/`` folder as ``.npy`` files, and keeps the evaluation labels. Inside the
sandbox ``heldout(name)`` loads the arrays; ``predictions(name, y_pred, dataset=...,
min_accuracy=...)`` records the predicted labels, which :mod:`autograder.compare` scores
against the labels kept here.

Everything is built from local data (``sklearn.datasets.load_digits``): nothing downloads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Bumped whenever a builder changes what it produces (part of every cache digest).
VERSION = 1

#: Labelled examples per class in ``digits_transfer``'s target set ("few labels").
TRANSFER_SHOTS = 20


@dataclass(frozen=True)
class HeldOut:
    """One dataset of a batch.

    Attributes:
        name: The name graders use.
        arrays: What the sandbox sees (``x_test`` and any labelled training arrays).
        labels: The labels of ``x_test``, in order: never written into a job.
    """

    name: str
    arrays: Mapping[str, np.ndarray]
    labels: np.ndarray


def _split_digits(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data,
        digits.target,
        test_size=0.25,
        random_state=seed % (2**32),
        stratify=digits.target,
    )
    return (
        x_train.astype(np.float64),
        x_test.astype(np.float64),
        y_train.astype(np.int64),
        y_test.astype(np.int64),
    )


def _digits(seed: int) -> HeldOut:
    """Digits split 75/25, stratified by the seed: labelled ``x_train``/``y_train``, ``x_test``."""
    x_train, x_test, y_train, y_test = _split_digits(seed)
    return HeldOut("digits", {"x_train": x_train, "y_train": y_train, "x_test": x_test}, y_test)


def _digits_transfer(seed: int) -> HeldOut:
    """Digits 0-4 to pretrain on, a few labelled 5-9 to transfer with, 5-9 to evaluate.

    From the same split as ``digits``: ``x_source``/``y_source`` are every training-part
    digit 0-4; ``x_target``/``y_target`` are ``TRANSFER_SHOTS`` training-part examples of each
    digit 5-9 (drawn with the seed); ``x_test`` is every test-part digit 5-9 (labels 5-9 kept).
    """
    x_train, x_test, y_train, y_test = _split_digits(seed)
    rng = np.random.default_rng(seed)
    source = y_train < 5
    shots = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(y_train == d), TRANSFER_SHOTS, replace=False)
                for d in range(5, 10)
            ]
        )
    )
    test = y_test >= 5
    arrays = {
        "x_source": x_train[source],
        "y_source": y_train[source],
        "x_target": x_train[shots],
        "y_target": y_train[shots],
        "x_test": x_test[test],
    }
    return HeldOut("digits_transfer", arrays, y_test[test])


BUILDERS: dict[str, Callable[[int], HeldOut]] = {
    "digits": _digits,
    "digits_transfer": _digits_transfer,
}


def check_names(names: Iterable[str], where: str) -> tuple[str, ...]:
    """Validate dataset names from a ``grader.toml``.

    Raises:
        ValueError: Naming the unknown dataset and the ones that exist.
    """
    names = tuple(str(n) for n in names)
    unknown = sorted(set(names) - set(BUILDERS))
    if unknown:
        raise ValueError(
            f"{where}: unknown datasets {unknown}; the platform provides {sorted(BUILDERS)}"
        )
    return names


@functools.lru_cache(maxsize=16)
def build(name: str, seed: int) -> HeldOut:
    """The dataset ``name`` of the batch with this seed (deterministic, cached per process)."""
    return BUILDERS[name](seed)


def labels_for(names: Iterable[str], seed: int) -> dict[str, np.ndarray]:
    """The held-back labels of each dataset, for the trusted comparison."""
    return {name: build(name, seed).labels for name in names}


def write_inputs(names: Iterable[str], seed: int, folder: Path) -> None:
    """Write each dataset's sandbox-visible arrays to ``folder/<name>/<array>.npy``."""
    for name in names:
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for key, array in build(name, seed).arrays.items():
            np.save(target / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
