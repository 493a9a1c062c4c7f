"""What of the grading machine's software an answer key depends on.

The reference run's values come from the interpreter and the numerical libraries as much as
from the solution: a key made with Python 3.11 is not a key for Python 3.13, and a key made
with ``tensorflow-cpu`` is not one for the GPU build or another TensorFlow release. Two
virtual environments of one checkout (``.venv`` and ``.venv-3.12``) share the key cache, so
the cache digest includes this fingerprint and each environment builds its own key.
"""

from __future__ import annotations

import platform
import sys
from functools import cache
from importlib import metadata

NUMERICAL_DISTRIBUTIONS = (
    "tensorflow",
    "tensorflow-cpu",
    "tf-nightly",
    "keras",
    "numpy",
    "ml-dtypes",
    "scikit-learn",
    "scipy",
)
"""Distributions whose version can change a recorded value (absent ones are noted absent)."""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


@cache
def environment_fingerprint() -> str:
    """The interpreter, machine and numerical library versions, as one stable string.

    Returns:
        For example ``cpython-3.12.1/x86_64/tensorflow=-/tensorflow-cpu=2.21.0/...``.
    """
    python = f"{sys.implementation.name}-{platform.python_version()}"
    versions = "/".join(f"{name}={_version(name)}" for name in NUMERICAL_DISTRIBUTIONS)
    return f"{python}/{platform.machine()}/{versions}"
