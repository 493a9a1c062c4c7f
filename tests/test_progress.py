"""Progress of a grading batch: stages, an ETA that counts workers and not the key, plain logs."""

import io
import re

from autograder.progress import BarProgress, Eta, LineProgress, format_seconds, make_progress
from autograder.results import QuestionResult, Status, SubmissionResult


def result(student, score=1.0, duration=10.0, status=Status.GRADED, reason=""):
    return SubmissionResult(student, "01_tensors", "01_tensors", status, reason=reason,
                            questions=(QuestionResult("q1", score, 1.0),), duration_s=duration)


def simulate(total, workers, job_s):
    """Jobs of ``job_s`` seconds, ``workers`` at a time: (finish time, eta then) per job."""
    eta = Eta(total, workers, start=100.0)  # the grading phase starts at t=100 (after the key)
    seen = []
    for i in range(total):
        now = 100.0 + job_s * (i // workers + 1)
        eta.add(job_s)
        seen.append((now, eta.seconds(now)))
    return seen


def test_eta_counts_parallel_workers():
    # 10 submissions, 2 workers, 10 s each: the batch ends at t=150
    for now, eta in simulate(10, 2, 10.0):
        assert abs((now + eta) - 150.0) <= 10.0, (now, eta)
    # the old estimate (elapsed / done) after the first result: 10 s x 9 = 90 s, twice the truth
    assert simulate(10, 2, 10.0)[0][1] == 50.0


def test_eta_ignores_the_time_before_grading():
    """A minute of key building before the phase does not make the ETA longer."""
    eta = Eta(total=20, workers=4, start=160.0)  # the key took 160 s
    for _ in range(8):
        eta.add(10.0)
    assert eta.seconds(180.0) == 30.0  # 8 done in 20 s on 4 workers: 12 more take 30 s


def test_eta_edges():
    eta = Eta(total=3, workers=8, start=0.0)
    assert eta.seconds(1.0) is None  # nothing graded yet
    eta.add(4.0)
    assert eta.seconds(4.0) == 4.0  # two left, both run at once
    eta.add(4.0)
    eta.add(4.0)
    assert eta.seconds(4.0) == 0.0


def test_format_seconds():
    assert format_seconds(None) == "?" and format_seconds(65) == "1:05"
    assert format_seconds(3723) == "1:02:03"


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    progress = make_progress(8, stream)
    assert isinstance(progress, LineProgress)
    progress.stage("key")
    progress.stage("variants", 3)
    progress.stage("grading", 3, workers=1)  # the workers grading decides (a Dask cluster's)
    progress.result(result("ada"))
    progress.result(result("bob", score=0.0, status=Status.REJECTED))
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "gradetape: building the answer key ..."
    assert lines[1].startswith("  building the answer key: done in ")
    assert lines[2] == "gradetape: running the known-wrong variants (3) ..."
    assert lines[4] == "gradetape: grading submissions (3) ..."
    # one worker: the two left take 2 x 10 s (with the 8 workers asked for it would be 10 s)
    assert re.match(r"  \[   1/3\] ada +1\.0/1\.0 +graded .* eta 0:20$", lines[5]), lines[5]
    assert "[   2/3] bob" in lines[6] and "zero so far: 1" in lines[6] and lines[6].endswith("eta 0:00")
    assert re.match(r"  2 graded in [\d.]+ s \([\d.]+ s in all\)$", lines[7])


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
