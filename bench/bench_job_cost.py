"""The fixed CPU cost of one sandboxed job, beyond the notebook's own work.

Runs N jobs with no notebook cells through a warm worker (bubblewrap, each job in its own
namespaces) and reads, on the host, the CPU time the zygote's waited-for children used
(``cutime + cstime`` of the zygote in ``/proc``: the confining process and the job with
everything it reaped). With no cells, all of it is the platform's: fork, namespaces and
mounts, the runtime's start, pytest and the grader's collection, the copy back. A second
run grades exercise 01's blank release (cells that define nothing) for comparison, and the
same jobs cold (a brand-new sandbox each) give the peer figure.

    .venv/bin/python bench/bench_job_cost.py [-n 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autograder.load.exercise import load_exercise  # noqa: E402
from autograder.load.notebook import prepare, read_notebook  # noqa: E402
from autograder.run.jobs import write_job  # noqa: E402
from autograder.run.sandbox import SandboxSpec, make_sandbox  # noqa: E402
from autograder.run.sandbox.warm import WarmWorker  # noqa: E402
from autograder.settings import load_settings  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def zygote_pid(worker: WarmWorker) -> int:
    """The zygote's host pid: the child of the sandbox's pid 1."""
    assert worker.init_pid is not None
    path = Path(f"/proc/{worker.init_pid}/task/{worker.init_pid}/children")
    return int(path.read_text().split()[0])


def children_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s waited-for children (utime+stime of the reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICKS


def main() -> None:
    """Print CPU and wall time per job, warm and cold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="jobs per kind")
    args = parser.parse_args()
    settings = load_settings(ROOT)
    ex = load_exercise(settings, "01_tensors")
    blank = prepare(read_notebook(ex.release_path), read_notebook(ex.release_path)).cells
    print(f"load average: {os.getloadavg()}")
    worker = WarmWorker(ex.limits, use_bwrap=True)
    worker.start()
    zygote = zygote_pid(worker)
    for label, cells in (("no cells", []), ("blank 01 release", blank)):
        cpu, wall = [], []
        for _ in range(args.n):
            job = Path(tempfile.mkdtemp(prefix="gradetape-bench-")) / "job"
            write_job(job, ex, cells, settings.seed, ex.limits)
            before, start = children_cpu(zygote), time.monotonic()
            run = worker.run(job, ex.limits)
            wall.append(time.monotonic() - start)
            cpu.append(children_cpu(zygote) - before)
            assert run.exit_code == 0, run
        print(
            f"warm, {label:>16}: CPU per job {sum(cpu) / len(cpu):.2f} s "
            f"(min {min(cpu):.2f}, max {max(cpu):.2f}), wall {sum(wall) / len(wall):.2f} s"
        )
    worker.close()
    cold_wall = []
    cold = make_sandbox(SandboxSpec("bwrap", warm=False, limits=ex.limits))
    for _ in range(min(3, args.n)):
        job = Path(tempfile.mkdtemp(prefix="gradetape-bench-")) / "job"
        write_job(job, ex, [], settings.seed, ex.limits)
        start = time.monotonic()
        cold.run(job, ex.limits)
        cold_wall.append(time.monotonic() - start)
    print(f"cold, no cells: wall {sum(cold_wall) / len(cold_wall):.2f} s per job (peer)")


if __name__ == "__main__":
    main()
