"""The pytest plugin the hidden graders run under: fixtures, markers and value recording.

Fixtures:
    student: the namespace the executed notebook built (attribute access; a missing name
        fails only that test, with a message naming it).
    rng: a NumPy ``Generator`` seeded with the test's derived seed (from ``job.json``'s
        ``test_seeds``; a parametrized case mixes in its parameter id).
    expect: ``expect(name, value, **tolerance)`` records a value for the trusted side.
    heldout: ``heldout(name)`` returns a held-out dataset's arrays (inputs; the labels of
        ``x_test`` stay on the trusted side).
    predictions: ``predictions(name, y_pred, dataset=..., min_accuracy=...)`` records
        predicted labels of a held-out dataset's ``x_test``; the trusted side scores them.
    handover: ``handover(name)`` returns a new folder ``out/handover/<name>/`` whose files
        the trusted side copies (regular files only, limited) into the fresh job.
    handed_over: ``handed_over(name)`` returns that copy, ``in/handover/<name>/``, in the
        fresh job (read-only); it raises when nothing (or nothing acceptable) was handed over.

Markers: ``points(n)``, ``question(id)``, ``timeout(seconds)``, ``gpu``, ``fresh(name)``.
A test marked ``fresh`` runs only in the fresh job: a second job the trusted side starts
after the grading job, with no notebook cell run, on the files handed over under ``name``.

Tests record values; they do not decide pass or fail. Whatever outcome pytest reports is
only used to explain a failure to the student.

Seeds: the job never holds the course seed. The trusted side derives one seed per test
function (:mod:`autograder.run.seeds`); a test without one fails with a grader-author error
rather than run under a seed anyone could guess.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import types
import zlib
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import numpy as np
import pytest

from .channel import Channel
from .protocol import HANDOVER_NAME, HANDOVER_REPORT, CollectError, RecordedValue, TestReport

#: Tolerance keywords ``expect`` accepts (the trusted side uses the reference's values).
TOLERANCE_KEYS = frozenset({"rtol", "atol", "check_dtype", "tensor", "exact"})


class MissingName(AttributeError):
    """Raised when a grader asks the student namespace for a name it does not define."""


class MissingSeed(LookupError):
    """Raised when a test has no derived seed in the job (a grader-author error)."""


class TestTimeLimit(Exception):
    """Raised inside a test that ran past its time limit."""

    __test__ = False


class HandoverMissing(LookupError):
    """Raised in the fresh job when the files a test reloads were not handed over."""


def _handover_name(name: str) -> str:
    if not isinstance(name, str) or not HANDOVER_NAME.match(name):
        raise ValueError(
            f"hand-over name {name!r} must match {HANDOVER_NAME.pattern} (grader error)"
        )
    return name


class StudentNamespace:
    """Read-only attribute view of the notebook's global namespace."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_ns", namespace)

    def __getattr__(self, name: str) -> Any:
        ns = object.__getattribute__(self, "_ns")
        if name in ns:
            return ns[name]
        raise MissingName(
            f"Your notebook does not define `{name}`. Define it in its solution cell "
            "(keep the name as given) and run the whole notebook before submitting."
        )

    def __contains__(self, name: str) -> bool:
        return name in object.__getattribute__(self, "_ns")


def seed_for(seed: int, test_key: str) -> int:
    """Mix a test id into a seed (used for the cases of a parametrized test function)."""
    return (zlib.crc32(test_key.encode()) ^ (seed * 2654435761)) & 0x7FFFFFFF


def derived_seed(test_seeds: Mapping[str, int], key: str) -> int:
    """The seed of the test ``key``, from the per-function seeds the trusted side derived.

    A plain test uses its function's seed; a parametrized case ``"f.py::test_x[3-a]"``
    mixes its parameter id into the seed of ``"f.py::test_x"`` with :func:`seed_for`.

    Raises:
        MissingSeed: If the function has no seed (the trusted side lists test functions
            statically, so a test built at run time has none).
    """
    function = key.split("[", 1)[0]
    if function not in test_seeds:
        raise MissingSeed(
            f"grader error: the job has no seed for {function!r}. Seeds are derived on the "
            "trusted side for the test functions it finds in the grader files (a module-level "
            "`def test_...` or a `def test_...` in a `class Test...`); define the test that "
            "way instead of creating it at run time."
        )
    seed = int(test_seeds[function])
    return seed_for(seed, key) if function != key else seed


def test_key(item: pytest.Item) -> str:
    """``"<file name>::<test name>"``: the id of a test independent of where it is mounted."""
    path, _, rest = item.nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1]}::{rest}"


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    if marker is None or not marker.args:
        return default
    return marker.args[0]


class GraderPlugin:
    """Collects the values each test records and writes them through the channel.

    Args:
        namespace: The notebook's globals.
        test_seeds: Test function id -> its derived seed (``job.json``'s ``test_seeds``).
        channel: Where records go.
        default_timeout: Seconds a test may run when it has no ``timeout`` marker.
        data_dir: The job's ``in/data`` folder of held-out dataset inputs.
        handover_out: The grading job's ``out/handover`` folder (``handover`` fixture).
        handover_in: The fresh job's ``in/handover`` folder (``handed_over`` fixture).
        fresh: Whether this is the fresh job (run only ``fresh`` tests) or the grading job
            (run every other test).
        tensor_types: The genuine eager tensor type(s), taken before the notebook ran.
    """

    def __init__(
        self,
        namespace: Mapping[str, Any],
        test_seeds: Mapping[str, int],
        channel: Channel,
        default_timeout: float,
        data_dir: str = "",
        handover_out: str = "",
        handover_in: str = "",
        fresh: bool = False,
        tensor_types: tuple[type, ...] = (),
    ) -> None:
        self.namespace = namespace
        self.data_dir = data_dir
        self.handover_out = handover_out
        self.handover_in = handover_in
        self.fresh = fresh
        self.tensor_types = tensor_types
        self.test_seeds = dict(test_seeds)
        self.channel = channel
        self.default_timeout = default_timeout
        self._values: dict[str, list[RecordedValue]] = {}
        self._reported: set[str] = set()

    # -- configuration -------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        """Register the grader markers."""
        for line in (
            "points(n): points the test is worth",
            "question(grade_id): the notebook question the test grades",
            "timeout(seconds): wall-time limit of the test",
            "gpu: the test prefers a GPU worker",
            "fresh(name): runs in the fresh job, on the files handed over under name",
        ):
            config.addinivalue_line("markers", line)

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep the ``fresh`` tests in the fresh job and every other test in the grading job."""
        keep = [i for i in items if (i.get_closest_marker("fresh") is not None) == self.fresh]
        if len(keep) != len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep

    # -- fixtures ------------------------------------------------------------------------
    @pytest.fixture
    def student(self) -> StudentNamespace:
        """The namespace the executed notebook built."""
        return StudentNamespace(self.namespace)

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        """A NumPy generator seeded with this test's derived seed."""
        return np.random.default_rng(derived_seed(self.test_seeds, test_key(request.node)))

    @pytest.fixture
    def expect(self, request: pytest.FixtureRequest) -> Any:
        """Return ``expect(name, value, **tolerance)``, which records a value."""
        key = test_key(request.node)
        records = self._values.setdefault(key, [])

        def expect(name: str, value: Any, **tolerance: Any) -> None:
            if "check_type" in tolerance:
                raise TypeError(
                    "expect(check_type=...) is gone (grader error): the type tag is reported by "
                    "the student's process and can be faked. Use tensor=True to require a "
                    "genuine tf.Tensor, or leave the type to dtype and shape."
                )
            unknown = set(tolerance) - TOLERANCE_KEYS
            if unknown:
                raise TypeError(f"expect() got unknown tolerance keys {sorted(unknown)}")
            # Exact type identity, not isinstance (a __class__ property fools isinstance).
            genuine = type(value) in self.tensor_types
            records.append(
                RecordedValue(str(name), self.channel.encode(value), tolerance, tensor=genuine)
            )

        return expect

    @pytest.fixture
    def heldout(self) -> Any:
        """Return ``heldout(name)``: the arrays of a dataset the grader declared."""

        def heldout(name: str) -> types.SimpleNamespace:
            folder = os.path.join(self.data_dir, os.path.basename(str(name)))
            if not os.path.isdir(folder):
                raise LookupError(
                    f"no held-out dataset {name!r} in this job: list it in grader.toml's "
                    "`datasets` (grader error)"
                )
            arrays = {
                entry.removesuffix(".npy"): np.load(os.path.join(folder, entry), allow_pickle=False)
                for entry in sorted(os.listdir(folder))
                if entry.endswith(".npy")
            }
            return types.SimpleNamespace(**arrays)

        return heldout

    @pytest.fixture
    def predictions(self, request: pytest.FixtureRequest) -> Any:
        """Return ``predictions(name, y_pred, dataset=..., min_accuracy=...)``.

        Records the predicted labels of ``heldout(dataset).x_test`` (one per row, in order).
        The trusted side passes the test when their accuracy against the labels it kept is
        at least ``min_accuracy`` (the reference run's threshold).
        """
        key = test_key(request.node)
        records = self._values.setdefault(key, [])

        def predictions(name: str, y_pred: Any, *, dataset: str, min_accuracy: float) -> None:
            if not 0.0 <= float(min_accuracy) <= 1.0:
                raise ValueError("min_accuracy must be between 0 and 1 (grader error)")
            tolerance = {"labels": str(dataset), "min_accuracy": float(min_accuracy)}
            records.append(RecordedValue(str(name), self.channel.encode(y_pred), tolerance))

        return predictions

    @pytest.fixture
    def handover(self) -> Any:
        """Return ``handover(name)``: a folder whose files the fresh job receives."""

        def handover(name: str) -> str:
            if self.fresh or not self.handover_out:
                raise RuntimeError(
                    "handover() is for the grading job, not a fresh test (grader error)"
                )
            folder = os.path.join(self.handover_out, _handover_name(name))
            os.makedirs(folder, exist_ok=True)
            return folder

        return handover

    @pytest.fixture
    def handed_over(self) -> Any:
        """Return ``handed_over(name)``: the read-only copy of a hand-over, in the fresh job."""

        def handed_over(name: str) -> str:
            if not self.fresh:
                raise RuntimeError("handed_over() is for tests marked fresh (grader error)")
            name = _handover_name(name)
            try:
                with open(os.path.join(self.handover_in, HANDOVER_REPORT), encoding="utf-8") as fh:
                    entry = json.load(fh).get(name)
            except (OSError, ValueError):
                entry = None
            if not isinstance(entry, dict):
                raise HandoverMissing(
                    "nothing was saved for this check: the test that saves its files failed "
                    "or did not get that far (see the other tests of this question)"
                )
            if entry.get("refused"):
                raise HandoverMissing(
                    f"the files saved for this check were not accepted: {entry['refused']}"
                )
            return os.path.join(self.handover_in, name)

        return handed_over

    @pytest.fixture(autouse=True)
    def _seed_frameworks(self, request: pytest.FixtureRequest) -> Iterator[None]:
        """Seed Python, NumPy and (when loaded) TensorFlow identically in every run."""
        import random

        derived = derived_seed(self.test_seeds, test_key(request.node))
        random.seed(derived)
        np.random.seed(derived)
        keras = sys.modules.get("keras")
        if keras is not None:
            keras.utils.set_random_seed(derived)
        yield

    # -- time limits ---------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Run the test under its wall-time limit."""
        limit = float(_marker_arg(item, "timeout", self.default_timeout))

        def on_alarm(signum: int, frame: Any) -> None:
            raise TestTimeLimit(f"this test ran longer than its limit of {limit:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    # -- reporting -----------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Write one record per test once its outcome is known."""
        report: pytest.TestReport = yield
        key = test_key(item)
        finished = call.when == "call" or (call.when == "setup" and report.failed)
        if finished and key not in self._reported:
            self._reported.add(key)
            message = ""
            if call.excinfo is not None:
                exc = call.excinfo.value
                text = str(exc) if isinstance(exc, MissingName) else f"{type(exc).__name__}: {exc}"
                message = text[:1000]
            self.channel.send(
                TestReport(
                    test=key,
                    question=str(_marker_arg(item, "question", "")),
                    points=float(_marker_arg(item, "points", 1)),
                    timeout=float(_marker_arg(item, "timeout", self.default_timeout)),
                    gpu=item.get_closest_marker("gpu") is not None,
                    outcome="passed" if call.excinfo is None else "failed",
                    message=message,
                    values=tuple(self._values.get(key, [])),
                )
            )
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Record grader files that could not be collected (a broken grader)."""
        if report.failed:
            self.channel.send(CollectError(report.nodeid, str(report.longrepr)[-2000:]))
