"""Determinism: grade the reference solution N times, uncached, and compare every run.

For each exercise: builds the answer key, then runs the reference notebook through the
hidden grader N more times on a warm worker (no result cache) and prints the score of every
run, whether all scores are identical, and how many recorded values differ bit for bit from
the key's (training included: op determinism and per-test seeds should make that zero).

    .venv/bin/python bench/regrade_reference.py [-n 10] [EXERCISE ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autograder.judge.answer_key import build_key, reference_cells  # noqa: E402
from autograder.judge.compare import judge_test  # noqa: E402
from autograder.load.exercise import exercise_names, load_exercise  # noqa: E402
from autograder.load.heldout import labels_for  # noqa: E402
from autograder.run.fresh_process import run_graded  # noqa: E402
from autograder.run.sandbox import SandboxSpec, make_sandbox  # noqa: E402
from autograder.settings import load_settings  # noqa: E402


def same(a, b) -> bool:
    """Bit-identical recorded values."""
    if a.array is not None and b.array is not None:
        return a.array.dtype == b.array.dtype and np.array_equal(a.array, b.array, equal_nan=True)
    return (a.array is None) == (b.array is None) and a.text == b.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="regrades per exercise")
    parser.add_argument("exercises", nargs="*")
    args = parser.parse_args()
    settings = load_settings(ROOT)
    names = args.exercises or exercise_names(settings)
    print(f"load average at start: {os.getloadavg()}")
    for name in names:
        ex = load_exercise(settings, name)
        box = make_sandbox(SandboxSpec(settings.isolation, True, 1, ex.limits))
        try:
            key = build_key(ex, settings.seed, box, Path(tempfile.mkdtemp()))
            labels = labels_for(ex.datasets, settings.seed)
            scores, differing, times = [], 0, []
            for _ in range(args.n):
                t = time.monotonic()
                out = run_graded(ex, reference_cells(ex), settings.seed, box).output
                times.append(time.monotonic() - t)
                judged = [judge_test(k, out.tests.get(tid), labels=labels) for tid, k in key.tests.items()]
                scores.append(sum(j.points for j in judged))
                for tid, k in key.tests.items():
                    got = {r.name: r.value for r in out.tests[tid].values} if tid in out.tests else {}
                    differing += sum(1 for r in k.values if r.name not in got or not same(got[r.name], r.value))
        finally:
            box.close()
        full = sum(key.questions.values())
        print(f"{name}: {args.n} regrades, scores {sorted(set(scores))} of {full:g} "
              f"({'identical' if len(set(scores)) == 1 else 'DIFFERENT'}), "
              f"{differing} recorded values not bit-identical to the key, "
              f"{min(times):.1f}-{max(times):.1f} s per run", flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
