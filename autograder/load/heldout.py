"""Held-out datasets: inputs go into the sandbox, labels stay on the trusted side.

A grader that measures accuracy declares the datasets it uses in ``grader.toml``
(``datasets = ["digits"]``). For every job the trusted side builds each dataset from the
batch's secret seed, writes its *inputs* (and any labelled training part) into the job's
``in/data/<name>/`` folder as ``.npy`` files, and keeps the evaluation labels. Inside the
sandbox ``heldout(name)`` loads the arrays; ``predictions(name, y_pred, dataset=...,
min_accuracy=...)`` records the predicted labels, which :mod:`autograder.judge.compare` scores
against the labels kept here.

Where the evaluation inputs come from:

* **A private file** (``[heldout] digits = "private/digits_eval.npz"`` in ``gradetape.toml``,
  see :mod:`autograder.load.private_data`): ``x_test`` is every row of the instructor's file, in an
  order drawn from the seed; the labelled training part is the whole public ``load_digits``
  (none of its rows is evaluated). No public source holds the evaluation labels.
* **The public digits** (the demo, when no file is configured): the course's fixed public
  partition (:func:`public_digits`): the released notebooks explore only its training part
  (``course_digits()`` in their locked cells), and ``x_test`` is its evaluation part, in an
  order drawn from the seed. Those rows are still rows of the public ``load_digits``, so a
  student who loads it can look their labels up; the review flag
  (:mod:`autograder.judge.public_data`) is the defence there.

Everything is built from local data: nothing downloads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.load.private_data import PrivateSource, load_private

#: Bumped whenever a builder changes what it produces (part of every cache digest).
VERSION = 2

#: Labelled examples per class in ``digits_transfer``'s target set ("few labels").
TRANSFER_SHOTS = 20

#: The fixed split of the public digits the course is built on (``train_test_split``'s
#: ``random_state``; the notebooks' ``course_digits()`` uses the same). Not a secret.
PUBLIC_SPLIT_SEED = 0

#: The share of the public digits kept for evaluation (never shown with labels by a notebook).
PUBLIC_EVAL_SHARE = 0.25


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


@functools.lru_cache(maxsize=1)
def public_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's fixed partition of ``load_digits``: ``x_train, y_train, x_eval, y_eval``.

    The training part is what the released notebooks show (``course_digits()``); the
    evaluation part is the demo's held-out pool. Pixels are float64 in [0, 16], labels int64.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_eval, y_train, y_eval = train_test_split(
        digits.data,
        digits.target,
        test_size=PUBLIC_EVAL_SHARE,
        random_state=PUBLIC_SPLIT_SEED,
        stratify=digits.target,
    )
    return (
        x_train.astype(np.float64),
        y_train.astype(np.int64),
        x_eval.astype(np.float64),
        y_eval.astype(np.int64),
    )


def _parts(
    seed: int, private: PrivateSource | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labelled training part and evaluation part, each in an order drawn from ``seed``."""
    x_train, y_train, x_eval, y_eval = public_digits()
    if private is not None:
        x_train = np.concatenate([x_train, x_eval])  # no public row is evaluated: train on all
        y_train = np.concatenate([y_train, y_eval])
        x_eval, y_eval = load_private(private)
    rng = np.random.default_rng(seed)
    train, test = rng.permutation(len(y_train)), rng.permutation(len(y_eval))
    return x_train[train], y_train[train], x_eval[test], y_eval[test]


def _digits(seed: int, private: PrivateSource | None = None) -> HeldOut:
    """Labelled ``x_train``/``y_train`` and the evaluation inputs ``x_test``."""
    x_train, y_train, x_test, y_test = _parts(seed, private)
    return HeldOut("digits", {"x_train": x_train, "y_train": y_train, "x_test": x_test}, y_test)


def _digits_transfer(seed: int, private: PrivateSource | None = None) -> HeldOut:
    """Digits 0-4 to pretrain on, a few labelled 5-9 to transfer with, 5-9 to evaluate.

    From the same parts as ``digits``: ``x_source``/``y_source`` are every training-part
    digit 0-4; ``x_target``/``y_target`` are ``TRANSFER_SHOTS`` training-part examples of each
    digit 5-9 (drawn with the seed); ``x_test`` is every evaluation digit 5-9 (labels kept).
    """
    x_train, y_train, x_test, y_test = _parts(seed, private)
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


BUILDERS: dict[str, Callable[[int, PrivateSource | None], HeldOut]] = {
    "digits": _digits,
    "digits_transfer": _digits_transfer,
}

#: The ``[heldout]`` key of ``gradetape.toml`` whose private file each dataset evaluates on.
FAMILIES: dict[str, str] = {"digits": "digits", "digits_transfer": "digits"}

Private = Mapping[str, PrivateSource]
"""Private evaluation files by ``[heldout]`` key (``"digits"``); empty: the public demo."""


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
def _build(name: str, seed: int, private: PrivateSource | None) -> HeldOut:
    return BUILDERS[name](seed, private)


def build(name: str, seed: int, private: Private | None = None) -> HeldOut:
    """The dataset ``name`` of the batch with this seed (deterministic, cached per process).

    Args:
        name: A dataset name (``BUILDERS``).
        seed: The batch seed.
        private: The course's private evaluation files (``Exercise.private_data``); the
            dataset evaluates on the one of its family when there is one.
    """
    return _build(name, seed, (private or {}).get(FAMILIES[name]))


def labels_for(
    names: Iterable[str], seed: int, private: Private | None = None
) -> dict[str, np.ndarray]:
    """The held-back labels of each dataset, for the trusted comparison."""
    return {name: build(name, seed, private).labels for name in names}


def write_inputs(
    names: Iterable[str], seed: int, folder: Path, private: Private | None = None
) -> None:
    """Write each dataset's sandbox-visible arrays to ``folder/<name>/<array>.npy``."""
    for name in names:
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for key, array in build(name, seed, private).arrays.items():
            np.save(target / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
