"""Progress of ``gradetape grade``: stages, then per-submission progress with an honest ETA.

Grading a class has two phases. Before any student is graded the answer key is built (the
reference solution through the hidden grader) and the known-wrong variants are run; on a
fresh course that takes a minute and says nothing about how fast students will go. Then
submissions are graded ``workers`` at a time. :class:`Eta` estimates only from the second
phase, and counts the parallel workers: one job of ``d`` seconds on each of ``w`` workers
finishes ``w`` submissions every ``d`` seconds (dividing the elapsed time by the submissions
done, key included, overestimated ninefold).

On a terminal the progress is a live bar (rich); elsewhere (CI logs, a pipe) it is plain
lines, one per stage and one per graded submission, so logs stay readable and greppable.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from autograder.results import SubmissionResult

#: Stage names :func:`autograder.pipeline.batch.grade_assignment` reports, and how they read.
STAGES = {
    "load": "loading the exercise and starting the sandboxes",
    "connect": "connecting to the Dask scheduler",
    "key": "building the answer key",
    "variants": "running the known-wrong variants",
    "grading": "grading submissions",
}


@dataclass
class Eta:
    """Remaining time of the grading phase, from that phase's own pace.

    Attributes:
        total: Submissions to grade.
        workers: Sandboxes grading at once.
        start: When the grading phase began (``time.monotonic()``).
        finished: When each graded submission came back (``time.monotonic()``).
        durations: The wall time of each graded submission's own job.
    """

    total: int
    workers: int
    start: float = field(default_factory=time.monotonic)
    finished: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Submissions graded so far."""
        return len(self.finished)

    def add(self, duration_s: float, now: float) -> None:
        """Count one submission, graded in ``duration_s`` and back at ``now``.

        No job of this phase took longer than the phase so far: a result from the cache
        carries the duration of the run that made it, and counts only what it cost now.
        """
        self.finished.append(now)
        self.durations.append(min(max(0.0, duration_s), max(0.0, now - self.start)))

    def seconds(self) -> float | None:
        """Estimated seconds until the last submission is graded (``None``: no data yet).

        Only the grading phase counts (the answer key and the variants came before it).
        Until more submissions than workers are back, the estimate is the recent mean job
        time times the rounds of ``workers`` jobs still to run. After that it is the recent
        pace: the time the last ``workers`` (or twice that) completions took, one or two whole
        rounds of every worker, which already reflects the parallel workers and forgets the
        first, slower jobs of workers that were still warming up.
        """
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        if self.done == 0:
            return None
        workers = max(1, self.workers)
        if self.done <= workers:
            recent = self.durations[-workers:]
            rounds = math.ceil(remaining / min(workers, remaining))
            return sum(recent) / len(recent) * rounds
        # the last one or two whole rounds: with w workers, w completions take one job's time
        span = 2 * workers if self.done > 2 * workers else workers
        per_submission = (self.finished[-1] - self.finished[-1 - span]) / span
        return per_submission * remaining


def format_seconds(seconds: float | None) -> str:
    """``"1:05"`` or ``"1:02:03"``; ``"?"`` when unknown."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class LineProgress:
    """Plain progress lines on a stream (not a terminal): one per stage and per submission."""

    def __init__(self, stream: TextIO, workers: int) -> None:
        self.stream = stream
        self.workers = workers
        self.begun = time.monotonic()
        self.stage_name = ""
        self.stage_start = self.begun
        self.eta: Eta | None = None
        self.zero = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _end_stage(self) -> None:
        if self.stage_name and self.stage_name != "grading":
            took = time.monotonic() - self.stage_start
            self._print(f"  {STAGES.get(self.stage_name, self.stage_name)}: done in {took:.1f} s")

    def stage(self, name: str, total: int | None = None, workers: int | None = None) -> None:
        """A new stage begins (``total``: its items, when known; ``workers``: jobs at once)."""
        self._end_stage()
        self.workers = workers or self.workers
        self.stage_name, self.stage_start = name, time.monotonic()
        count = f" ({total})" if total is not None else ""
        self._print(f"gradetape: {STAGES.get(name, name)}{count} ...")
        if name == "grading":
            self.eta = Eta(total or 0, self.workers, time.monotonic())

    def result(self, result: SubmissionResult) -> None:
        """Report one graded submission."""
        if self.eta is None:
            self.eta = Eta(0, self.workers, time.monotonic())
        now = time.monotonic()
        self.eta.add(result.duration_s, now)
        self.zero += result.score == 0
        total = self.eta.total or self.eta.done
        self._print(
            f"  [{self.eta.done:4d}/{total}] {result.student:<32} "
            f"{result.score:6.1f}/{result.max_score:<6.1f} {result.status.value:<9} "
            f"zero so far: {self.zero}  {now - self.stage_start:6.1f} s  "
            f"eta {format_seconds(self.eta.seconds())}"
        )

    def finish(self) -> None:
        """Print the summary line."""
        self._end_stage()
        done = self.eta.done if self.eta else 0
        graded_in = time.monotonic() - (self.stage_start if self.eta else self.begun)
        total = time.monotonic() - self.begun
        self._print(f"  {done} graded in {graded_in:.1f} s ({total:.1f} s in all)")

    def close(self) -> None:
        """Nothing to tear down."""


class BarProgress:
    """A live progress bar on a terminal (rich): a spinner per stage, then a bar with an ETA.

    Submissions that score zero or were rejected are printed above the bar as they come.
    """

    def __init__(self, console: Any, workers: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.workers = workers
        self.begun = time.monotonic()
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta {task.fields[eta]}"),
            console=console,
            transient=False,
        )
        self.bar.start()
        self.task: Any = None
        self.stage_name = ""
        self.eta: Eta | None = None
        self.zero = 0

    def _end_stage(self) -> None:
        if self.task is not None and self.stage_name != "grading":
            task = self.bar.tasks[self.task]
            self.bar.update(self.task, total=task.total or 1, completed=task.total or 1, eta="-")
            self.bar.stop_task(self.task)

    def stage(self, name: str, total: int | None = None, workers: int | None = None) -> None:
        """A new stage begins (``total``: its items, when known; ``workers``: jobs at once)."""
        self._end_stage()
        self.workers = workers or self.workers
        self.stage_name = name
        if name == "grading":
            self.eta = Eta(total or 0, self.workers, time.monotonic())
        self.task = self.bar.add_task(STAGES.get(name, name), total=total, eta="?")

    def result(self, result: SubmissionResult) -> None:
        """Advance the bar by one graded submission."""
        if self.eta is None:
            self.stage("grading")
        assert self.eta is not None
        self.eta.add(result.duration_s, time.monotonic())
        if result.score == 0:
            self.zero += 1
            why = f": {result.reason[:80]}" if result.reason else ""
            self.bar.console.print(
                f"  {result.student}: 0/{result.max_score:g} {result.status}{why}"
            )
        eta = format_seconds(self.eta.seconds())
        self.bar.update(self.task, advance=1, eta=eta)

    def finish(self) -> None:
        """Stop the bar and print the summary line."""
        self._end_stage()
        self.bar.stop()
        done = self.eta.done if self.eta else 0
        total = time.monotonic() - self.begun
        summary = f"  {done} graded ({self.zero} zero) in {total:.1f} s"
        self.bar.console.print(summary, markup=False, highlight=False)

    def close(self) -> None:
        """Stop the live display (also after an error)."""
        self.bar.stop()


def make_progress(workers: int, stream: TextIO | None = None) -> LineProgress | BarProgress:
    """A bar when ``stream`` (default stderr) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    if stream.isatty():
        from rich.console import Console

        console = Console(file=stream)
        if console.is_terminal and not console.is_dumb_terminal:
            return BarProgress(console, workers)
    return LineProgress(stream, workers)
