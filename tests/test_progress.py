"""Progress of a grading batch: stages, an ETA that counts workers and not the key, plain logs."""

import io
import re
from types import SimpleNamespace

import pytest

from autograder.cli import progress as progress_module
from autograder.cli.progress import BarProgress, Eta, LineProgress, format_seconds, make_progress
from autograder.results import QuestionResult, Status, SubmissionResult


def result(student, score=1.0, duration=10.0, status=Status.GRADED, reason=""):
    return SubmissionResult(student, "01_tensors", "01_tensors", status, reason=reason,
                            questions=(QuestionResult("q1", score, 1.0),), duration_s=duration)


def simulate(total, workers, job_s, first_s=None):
    """Jobs of ``job_s`` seconds (a worker's first: ``first_s``), ``workers`` at a time.

    The grading phase starts at t=100 (after the key). Returns (time, ETA then) per result.
    """
    eta = Eta(total, workers, start=100.0)
    free = [100.0] * workers  # when each worker is next free
    seen = []
    for i in range(total):
        w = min(range(workers), key=lambda k: free[k])
        took = first_s if (first_s is not None and i < workers) else job_s
        free[w] += took
        seen.append((free[w], took))
    out = []
    for now, took in sorted(seen):
        eta.add(took, now)
        out.append((now, eta.seconds()))
    return out, max(t for t, _ in seen)


def test_eta_counts_parallel_workers():
    # 10 submissions, 2 workers, 10 s each: the batch ends at t=150
    seen, end = simulate(10, 2, 10.0)
    assert end == 150.0
    for now, eta in seen:
        assert abs((now + eta) - end) <= 10.0, (now, eta)
    # the old estimate (elapsed / done) after the first result: 10 s x 9 = 90 s, twice the truth
    assert seen[0][1] == 50.0


def test_eta_ignores_the_time_before_grading_and_forgets_the_warm_up():
    """Workers' first jobs are slow (TensorFlow warming up); the ETA then follows the pace."""
    seen, end = simulate(20, 4, 2.0, first_s=30.0)
    assert seen[0][1] == 30.0 * 5  # at first only slow jobs are known: 19 left, 5 rounds of 4
    for now, eta in seen[5:]:  # once more than one round is back: within a job of the truth
        assert abs((now + eta) - end) <= 2.0, (now, eta, end)


def test_eta_with_more_workers_than_submissions():
    eta = Eta(total=3, workers=8, start=0.0)
    assert eta.seconds() is None  # nothing graded yet
    eta.add(4.0, 4.0)
    assert eta.seconds() == 4.0  # two left, both run at once
    eta.add(4.0, 4.1)
    eta.add(4.0, 4.2)
    assert eta.seconds() == 0.0


def test_cached_results_count_what_they_cost_now():
    eta = Eta(total=5, workers=2, start=10.0)
    eta.add(32.0, 10.4)  # a cache hit: the run that made it took 32 s, this one 0.4 s
    assert eta.seconds() == pytest.approx(0.4 * 2)


def test_format_seconds():
    assert format_seconds(None) == "?" and format_seconds(65) == "1:05"
    assert format_seconds(3723) == "1:02:03"


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: ``clock.now = 12.0``."""
    fake = SimpleNamespace(now=0.0)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


def test_plain_lines_when_not_a_terminal(clock):
    stream = io.StringIO()
    progress = make_progress(8, stream)
    assert isinstance(progress, LineProgress)
    progress.stage("key")
    clock.now = 60.0  # the key took a minute: not part of any ETA
    progress.stage("variants", 3)
    clock.now = 70.0
    progress.stage("grading", 3, workers=1)  # the workers grading decides (a Dask cluster's)
    clock.now = 80.0
    progress.result(result("ada"))
    clock.now = 80.5
    progress.result(result("bob", score=0.0, status=Status.REJECTED))
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "gradetape: building the answer key ..."
    assert lines[1] == "  building the answer key: done in 60.0 s"
    assert lines[2] == "gradetape: running the known-wrong variants (3) ..."
    assert lines[4] == "gradetape: grading submissions (3) ..."
    # one worker: the two left take 2 x 10 s (with the 8 workers asked for it would be 10 s)
    assert re.match(r"  \[   1/3\] ada +1\.0/1\.0 +graded .* eta 0:20$", lines[5]), lines[5]
    assert "[   2/3] bob" in lines[6] and "zero so far: 1" in lines[6] and lines[6].endswith("eta 0:00")
    assert lines[7] == "  2 graded in 10.5 s (80.5 s in all)"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal():
    stream = Terminal()
    progress = make_progress(2, stream)
    assert isinstance(progress, BarProgress)
    try:
        progress.stage("key")
        progress.stage("grading", 2)
        progress.result(result("ada"))
        progress.result(result("bob", score=0.0, status=Status.REJECTED, reason="no notebook"))
        progress.finish()
    finally:
        progress.close()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "building the answer key" in shown and "grading submissions" in shown
    assert "bob: 0/1 rejected: no notebook" in shown and "2/2" in shown
    assert "2 graded (1 zero)" in shown
