#!/usr/bin/env python
"""Benchmark: grade the same class with nbgrader autograde and with GradeTape's sandboxes.

    .venv/bin/python bench/bench_grading.py                 # 30 students, every peer
    .venv/bin/python bench/bench_grading.py --quick         # 6 students
    .venv/bin/python bench/bench_grading.py --peers nbgrader,warm1 --students 4

See bench/README.md for what each peer is and how to read the table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from autograder.run.sandbox.base import Sandbox  # noqa: E402
from autograder.runtime.protocol import CELLS_FILE, OUT_DIR, TIMESTAMP  # noqa: E402

PEERS: dict[str, str] = {
    "nbgrader": "nbgrader autograde (inline)",
    "cold": "gradetape cold, 1 worker",
    "warm1": "gradetape warm, 1 worker",
    "warmall": "gradetape warm, all workers",
    "dask": "gradetape Dask LocalCluster",
    "regrade": "gradetape warm regrade (cached)",
}

Scores = dict[str, dict[str, float]]  # student -> question -> score


@dataclass
class PeerResult:
    """One peer's run."""

    peer: str
    subs: int
    wall: float
    setup: float = 0.0  # key + known-wrong variant runs (GradeTape) / not timed (nbgrader)
    grading: float = 0.0  # the grade_all phase (GradeTape) / the autograde command (nbgrader)
    workers: int = 1
    scores: Scores = field(default_factory=dict)
    own: list[float] = field(default_factory=list)  # per graded job: done - ready (cells+tests)
    sandbox: list[float] = field(default_factory=list)  # per graded job: sandbox.run wall
    note: str = ""


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


def snapshot_course(exercise_name: str, dest: Path) -> Path:
    """Copy what grading reads (settings, source and release notebooks, hidden grader) into
    ``dest``, so that others regenerating releases or editing graders mid-run change nothing."""
    import nbformat

    for attempt in range(20):  # a release being regenerated right now: wait for it
        try:
            for rel in (
                f"solutions/{exercise_name}",
                f"exercises/{exercise_name}",
                f"autograder/graders/{exercise_name}",
            ):
                shutil.rmtree(dest / rel, ignore_errors=True)
                shutil.copytree(ROOT / rel, dest / rel)
            for rel in ("solutions", "exercises"):
                for path in (dest / rel / exercise_name).glob("*.ipynb"):
                    nbformat.read(path, as_version=4)
            break
        except (OSError, ValueError) as exc:
            if attempt == 19:
                raise SystemExit(f"cannot snapshot {exercise_name}: {exc}") from None
            time.sleep(2)
    if (ROOT / "gradetape.toml").is_file():
        shutil.copy2(ROOT / "gradetape.toml", dest / "gradetape.toml")
    return dest


# -- the class ---------------------------------------------------------------------------------
def build_class(exercise: Any, submitted: Path, n: int) -> dict[str, str]:
    """``n`` students, round-robin over the reference and each known-wrong variant.

    Returns student id -> what they submitted (``reference`` or ``variant-<name>``).
    """
    from autograder.load.release import reference_submission, variant_submission, write_submission

    kinds: list[tuple[str, Callable[[], Any]]] = [
        ("reference", lambda: reference_submission(exercise))
    ]
    for variant in exercise.variants():
        kinds.append((f"variant-{variant.name}", lambda v=variant: variant_submission(exercise, v)))
    made: dict[str, Any] = {}
    students: dict[str, str] = {}
    for i in range(n):
        label, make = kinds[i % len(kinds)]
        if label not in made:
            made[label] = make()
        sid = f"s{i + 1:03d}"
        write_submission(made[label], submitted / sid / exercise.name, exercise.notebook)
        students[sid] = label
    return students


# -- instrumentation of GradeTape's own code path ----------------------------------------------
class Probe(Sandbox):
    """Wraps a sandbox: times each job and reads its runtime events before the dir is removed."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.name = box.name
        self.capabilities = box.capabilities
        self.phase = "setup"
        self.lock = threading.Lock()
        self.jobs: list[tuple[str, float, float | None]] = []  # phase, run wall, own work

    def run(self, job_dir: Path, limits: Any) -> Any:
        start = time.monotonic()
        result = self.box.run(job_dir, limits)
        wall = time.monotonic() - start
        own = own_work(job_dir / OUT_DIR / CELLS_FILE)
        with self.lock:
            self.jobs.append((self.phase, wall, own))
        return result


def own_work(path: Path) -> float | None:
    """Seconds between the runtime's ``ready`` and ``done`` events: the notebook's cells and
    the hidden tests, without sandbox start-up, TensorFlow import or teardown."""
    stamps: dict[str, float] = {}
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("event") in {"ready", "done"} and rec["event"] not in stamps:
                stamps[rec["event"]] = float(rec[TIMESTAMP])
    except (OSError, ValueError, KeyError):
        return None
    if "ready" in stamps and "done" in stamps:
        return stamps["done"] - stamps["ready"]
    return None


@contextlib.contextmanager
def phase_timers(phases: dict[str, float], probe: Probe | None = None) -> Iterator[None]:
    """Time build_key, build_variant_runs and grade_all as grade_assignment calls them."""
    import autograder.pipeline.batch as course

    originals = {n: getattr(course, n) for n in ("build_key", "build_variant_runs", "grade_all")}

    def timed(name: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if probe is not None:
                probe.phase = "grade" if name == "grade_all" else "setup"
            start = time.monotonic()
            try:
                return originals[name](*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.monotonic() - start

        return wrapper

    for name in originals:
        setattr(course, name, timed(name))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(course, name, fn)


def scores_of(report: Any) -> Scores:
    return {r.student: {q.question: q.score for q in r.questions} for r in report.results}


def run_gradetape(peer: str, settings: Any, exercise: Any) -> PeerResult:
    """Grade the class through ``autograder.pipeline.batch.grade_assignment`` with a local sandbox."""
    from autograder.pipeline.batch import grade_assignment
    from autograder.run.sandbox import SandboxSpec, make_sandbox

    phases: dict[str, float] = {}
    start = time.monotonic()
    with make_sandbox(SandboxSpec.from_settings(settings, exercise.limits)) as box:
        probe = Probe(box)
        with phase_timers(phases, probe):
            report = grade_assignment(settings, exercise.name, sandbox=probe)
    wall = time.monotonic() - start
    graded = [(w, o) for p, w, o in probe.jobs if p == "grade"]
    result = PeerResult(
        peer,
        len(report.results),
        wall,
        setup=phases.get("build_key", 0.0) + phases.get("build_variant_runs", 0.0),
        grading=phases.get("grade_all", 0.0),
        workers=settings.worker_count,
        scores=scores_of(report),
        own=[o for _, o in graded if o is not None],
        sandbox=[w for w, _ in graded],
        note=f"{report.isolation}; {len(graded)} sandbox jobs graded, "
        f"{len(probe.jobs) - len(graded)} setup jobs",
    )
    return result


def run_dask(peer: str, settings: Any, exercise: Any, n_workers: int) -> PeerResult:
    """Grade through ``settings.scheduler`` on a fresh LocalCluster (start-up not timed)."""
    from dataclasses import replace

    from distributed import LocalCluster

    from autograder.pipeline.batch import grade_assignment

    t_cluster = time.monotonic()
    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    cluster_s = time.monotonic() - t_cluster
    phases: dict[str, float] = {}
    try:
        start = time.monotonic()
        with phase_timers(phases):
            report = grade_assignment(
                replace(settings, scheduler=cluster.scheduler_address), exercise.name
            )
        wall = time.monotonic() - start
    finally:
        cluster.close()
    return PeerResult(
        peer,
        len(report.results),
        wall,
        setup=phases.get("build_key", 0.0) + phases.get("build_variant_runs", 0.0),
        grading=phases.get("grade_all", 0.0),
        workers=n_workers,
        scores=scores_of(report),
        note=f"{report.isolation}; LocalCluster start-up {cluster_s:.1f} s not counted",
    )


# -- the nbgrader peer ---------------------------------------------------------------------------
NBGRADER_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db!r}
c.CourseDirectory.course_id = "gradetape-bench"
c.Execute.timeout = {timeout}
"""


def nbgrader_env() -> dict[str, str]:
    from autograder.load.release import nbgrader_env as env

    return env() | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}


def setup_nbgrader(
    work: Path, exercise: Any, settings: Any, submitted: Path, students: dict[str, str]
) -> tuple[Path, float, float]:
    """An nbgrader course whose question cells run the hidden tests inline.

    Returns the course folder, the key build time and the generate_assignment time (neither
    is counted in the nbgrader peer's wall time).
    """
    import nbformat
    from inline_tests import inline_source_notebook, merge_student

    from autograder.judge.answer_key import build_key
    from autograder.run.sandbox import SandboxSpec, make_sandbox

    course = work / "nbgrader"
    t0 = time.monotonic()
    with make_sandbox(SandboxSpec(settings.isolation, False, 1, exercise.limits)) as box:
        key = build_key(exercise, settings.seed, box, work / "setup-cache")
    key_s = time.monotonic() - t0
    nb = inline_source_notebook(exercise, key, settings.seed)
    source = course / "source" / exercise.name
    source.mkdir(parents=True)
    nbformat.write(nb, source / exercise.notebook)
    db = f"sqlite:///{course / 'gradebook.db'}"
    timeout = int(max(exercise.limits.cell_timeout, exercise.limits.test_timeout) * 5)
    (course / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(root=str(course), db=db, timeout=timeout)
    )
    t0 = time.monotonic()
    nbgrader(course, "generate_assignment", exercise.name, "--force")
    gen_s = time.monotonic() - t0
    release = nbformat.read(course / "release" / exercise.name / exercise.notebook, as_version=4)
    for sid in students:
        mine = nbformat.read(submitted / sid / exercise.name / exercise.notebook, as_version=4)
        folder = course / "submitted" / sid / exercise.name
        folder.mkdir(parents=True)
        nbformat.write(merge_student(release, mine), folder / exercise.notebook)
    return course, key_s, gen_s


def nbgrader(course: Path, *args: str) -> None:
    command = [sys.executable, "-m", "nbgrader", *args]
    log = course / f"nbgrader-{args[0]}.log"
    with open(log, "wb") as fh:
        done = subprocess.run(
            command, cwd=course, env=nbgrader_env(), stdout=fh, stderr=subprocess.STDOUT
        )
    text = log.read_text(errors="replace")
    if done.returncode != 0 or "[ERROR]" in text:
        print(
            f"nbgrader {' '.join(args)} reported problems (log {log}):\n{text[-3000:]}",
            file=sys.stderr,
        )
        if done.returncode != 0:
            raise SystemExit(2)


def run_nbgrader(peer: str, course: Path, exercise: Any, students: dict[str, str]) -> PeerResult:
    from nbgrader.api import Gradebook

    start = time.monotonic()
    nbgrader(course, "autograde", exercise.name, "--force", "--create")
    wall = time.monotonic() - start
    scores: Scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="gradetape-bench") as gb:
        for sid in students:
            try:
                sub = gb.find_submission_notebook(exercise.notebook_id, exercise.name, sid)
            except Exception as exc:  # noqa: BLE001 - reported as a disagreement
                print(f"nbgrader has no result for {sid}: {exc}", file=sys.stderr)
                continue
            scores[sid] = {g.name: float(g.score) for g in sub.grades}
    return PeerResult(
        peer,
        len(students),
        wall,
        grading=wall,
        scores=scores,
        note="serial kernels; key build and generate_assignment not counted",
    )


# -- report ----------------------------------------------------------------------------------------
def disagreements(ref: Scores, other: Scores, students: dict[str, str]) -> list[str]:
    problems = []
    for sid, label in students.items():
        a, b = ref.get(sid), other.get(sid)
        if a is None or b is None:
            problems.append(f"{sid} ({label}): missing ({'first' if a is None else 'second'})")
            continue
        for q in sorted(set(a) | set(b)):
            if abs(a.get(q, -1) - b.get(q, -1)) > 1e-9:
                problems.append(f"{sid} ({label}) {q}: {a.get(q)} vs {b.get(q)}")
    return problems


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def print_table(results: list[PeerResult]) -> None:
    base = next((r for r in results if r.peer == "nbgrader"), None)
    head = (
        f"{'peer':<34}{'subs':>5}{'wall s':>9}{'s/sub':>8}{'setup s':>9}{'grade s':>9}"
        f"{'grade s/sub':>12}{'other s':>9}  speed-up vs nbgrader"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        speed = f"{base.wall / r.wall:.2f}" if base and r.wall > 0 else "-"
        print(
            f"{PEERS[r.peer]:<34}{r.subs:>5}{r.wall:>9.1f}{r.wall / max(1, r.subs):>8.2f}"
            f"{r.setup:>9.1f}{r.grading:>9.1f}{r.grading / max(1, r.subs):>12.2f}"
            f"{r.wall - r.setup - r.grading:>9.1f}  {speed}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercise", default="01_tensors")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="6 students")
    parser.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma list of {', '.join(PEERS)} (in this order)"
    )
    parser.add_argument(
        "--no-misconceptions",
        action="store_true",
        help="skip GradeTape's known-wrong variant runs (on by default, as in gradetape.toml)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="'all workers' count (default: CPU count)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    n = 6 if args.quick else args.students
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; known: {', '.join(PEERS)}")
    peers = [p for p in PEERS if p in peers]

    from autograder.load.exercise import load_exercise
    from autograder.settings import load_settings

    all_workers = args.workers or (os.cpu_count() or 1)
    work = Path(tempfile.mkdtemp(prefix="gradetape-bench-"))
    print(f"load average at start: {loadavg()}")
    print(f"work folder: {work}")
    try:
        course_root = snapshot_course(args.exercise, work / "course")
        base = load_settings(course_root, submitted=work / "submitted")
        exercise = load_exercise(base, args.exercise)
        if exercise.static_checks and "nbgrader" in peers:
            print("note: this exercise has static checks; the nbgrader peer does not run them")
        students = build_class(exercise, work / "submitted", n)
        kinds = len(set(students.values()))
        print(
            f"class: {n} submissions of {exercise.name} ({kinds} different notebooks: the "
            f"reference and known-wrong variants, round-robin); seed {base.seed}; "
            f"misconceptions {'off' if args.no_misconceptions else 'on'}\n"
        )

        def settings_for(tag: str, workers: int, warm: bool) -> Any:
            return load_settings(
                course_root,
                db_url=f"sqlite:///{work / f'gradebook-{tag}.db'}",
                submitted=work / "submitted",
                workers=workers,
                cache_dir=work / f"cache-{tag}",
                warm=warm,
                misconceptions=not args.no_misconceptions,
            )

        results: list[PeerResult] = []

        def record(r: PeerResult) -> None:
            results.append(r)
            print(
                f"  {PEERS[r.peer]}: {r.wall:.1f} s wall ({r.note}); load {loadavg()}", flush=True
            )

        for peer in peers:
            print(f"running {PEERS[peer]} ... (load {loadavg()})", flush=True)
            if peer == "nbgrader":
                course, key_s, gen_s = setup_nbgrader(
                    work, exercise, base, work / "submitted", students
                )
                print(
                    f"  set-up (not timed): answer key {key_s:.1f} s, "
                    f"generate_assignment {gen_s:.1f} s"
                )
                record(run_nbgrader(peer, course, exercise, students))
            elif peer == "cold":
                record(run_gradetape(peer, settings_for("cold", 1, False), exercise))
            elif peer == "warm1":
                record(run_gradetape(peer, settings_for("warm1", 1, True), exercise))
            elif peer == "warmall":
                record(run_gradetape(peer, settings_for("warmall", all_workers, True), exercise))
            elif peer == "dask":
                record(
                    run_dask(peer, settings_for("dask", all_workers, True), exercise, all_workers)
                )
            elif peer == "regrade":
                settings = settings_for("warmall", all_workers, True)
                if not any(r.peer == "warmall" for r in results):
                    print("  (priming the cache with an untimed warm grade first)")
                    run_gradetape("warmall", settings, exercise)
                record(run_gradetape(peer, settings, exercise))

        print(
            f"\n{exercise.name}, {n} submissions; wall = whole batch including the answer "
            "key build and (GradeTape) the known-wrong variant runs and sandbox start-up;\n"
            "setup = key + variant runs; grade = grading the submissions "
            "(nbgrader: the whole autograde command);\nother = the rest of wall (sandbox "
            "start-up not overlapped with setup, shutdown, gradebook set-up)\n"
        )
        print_table(results)

        by = {r.peer: r for r in results}
        w1 = by.get("warm1")
        if w1 is not None and w1.own:
            per = w1.grading / max(1, w1.subs)
            own = mean(w1.own)
            print(
                f"\nfixed cost per submission (warm, 1 worker): {per:.2f} s per submission "
                f"in the grading phase - {own:.2f} s of the notebook's own cells and tests "
                f"(runtime events ready->done) = {per - own:.2f} s"
            )
            print(
                f"  of which in the sandbox call (fork, job in/out, process exit): "
                f"{mean(w1.sandbox) - own:.2f} s; trusted side (load, compare, gradebook "
                f"write): {per - mean(w1.sandbox):.2f} s"
            )
        cold = by.get("cold")
        if cold is not None and cold.own:
            print(
                f"cold, 1 worker: {mean(cold.sandbox):.2f} s per sandbox job, of which "
                f"{mean(cold.own):.2f} s the notebook's own cells and tests"
            )
        wa = by.get("warmall")
        if w1 is not None and wa is not None and wa.grading > 0:
            eff_g = (w1.grading / wa.grading) / wa.workers
            eff_w = (w1.wall / wa.wall) / wa.workers
            print(
                f"parallel efficiency, warm 1 -> {wa.workers} workers: {eff_g:.2f} on the "
                f"grading phase, {eff_w:.2f} on wall time "
                f"((t_1 / t_{wa.workers}) / {wa.workers})"
            )

        print("\nscore agreement (per student and question):")
        ref = by.get("nbgrader") or next(iter(results), None)
        total_problems = 0
        if ref is not None:
            for r in results:
                if r is ref:
                    continue
                problems = disagreements(ref.scores, r.scores, students)
                total_problems += len(problems)
                status = "all equal" if not problems else f"{len(problems)} DISAGREEMENTS"
                print(f"  {PEERS[ref.peer]} vs {PEERS[r.peer]}: {status}")
                for p in problems[:20]:
                    print(f"    {p}")
            totals = {sid: sum(qs.values()) for sid, qs in ref.scores.items()}
            print(
                f"  totals ({PEERS[ref.peer]}): "
                + ", ".join(f"{sid}={totals.get(sid, float('nan')):g}" for sid in students)
            )
        print(f"\nload average at end: {loadavg()}")
        return 1 if total_problems else 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
