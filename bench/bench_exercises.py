"""Per-exercise grader time: the reference solution through its hidden grader.

For each exercise, runs the reference once in a brand-new sandbox (cold: TensorFlow imported
in the job) and once on a warm worker, and prints the wall time of each plus the time the
runtime spent in the notebook's cells and in the hidden tests (from its event timestamps).
Also times the known-wrong variant runs that misconception matching adds to a batch.

    .venv/bin/python bench/bench_exercises.py [EXERCISE ...]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autograder.judge.answer_key import build_key, reference_cells  # noqa: E402
from autograder.judge.misconceptions import build_variant_runs  # noqa: E402
from autograder.load.exercise import exercise_names, load_exercise  # noqa: E402
from autograder.run.jobs import run_job  # noqa: E402
from autograder.run.sandbox import SandboxSpec, make_sandbox  # noqa: E402
from autograder.runtime.protocol import CELLS_FILE, OUT_DIR, TIMESTAMP  # noqa: E402
from autograder.settings import load_settings  # noqa: E402


def phases(out_dir: Path) -> tuple[float, float]:
    """Seconds in the cells and in the tests, from cells.jsonl timestamps."""
    events = {}
    for line in (out_dir / CELLS_FILE).read_text().splitlines():
        rec = json.loads(line)
        if rec.get("event") in ("ready", "grading", "done"):
            events[rec["event"]] = rec[TIMESTAMP]
    cells = events.get("grading", 0) - events.get("ready", 0)
    tests = events.get("done", 0) - events.get("grading", 0)
    return cells, tests


def main(names: list[str]) -> None:
    settings = load_settings(ROOT)
    names = names or exercise_names(settings)
    print(f"load average at start: {os.getloadavg()}")
    print(f"{'exercise':<22}{'cold s':>8}{'warm s':>8}{'cells s':>9}{'tests s':>9}"
          f"{'variants':>10}{'variant runs s':>16}")
    cold_box = make_sandbox(SandboxSpec(settings.isolation, warm=False))
    for name in names:
        ex = load_exercise(settings, name)
        cells = reference_cells(ex)
        keep = Path(tempfile.mkdtemp()) / OUT_DIR
        t = time.monotonic()
        run_job(ex, cells, settings.seed, cold_box)
        cold = time.monotonic() - t
        warm_box = make_sandbox(SandboxSpec(settings.isolation, True, 1, ex.limits))
        try:
            run_job(ex, cells[:1], settings.seed, warm_box)  # start the worker
            t = time.monotonic()
            run_job(ex, cells, settings.seed, warm_box, keep=keep)
            warm = time.monotonic() - t
            c, s = phases(keep)
            key = build_key(ex, settings.seed, warm_box, Path(tempfile.mkdtemp()))
            t = time.monotonic()
            runs = build_variant_runs(ex, key, settings.seed, warm_box, Path(tempfile.mkdtemp()))
            variants = time.monotonic() - t
        finally:
            warm_box.close()
        print(f"{name:<22}{cold:8.1f}{warm:8.1f}{c:9.1f}{s:9.1f}{len(runs):10d}{variants:16.1f}",
              flush=True)
    cold_box.close()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
