"""Issue 12: jobs of one batch share nothing, whatever a submission does (every attack class).

One batch per mode (warm with 1 worker, warm with 2, cold), each grading the whole attack
corpus of ``tests/hostile/attacks.py`` beside honest classmates; the tests below read that
batch class by class. Observations inside the sandbox reach us only as scores (see the
corpus's docstring); observations on the host (surviving processes, a host file read through a
symlink, a stopped zygote) are made by the fixture around the batch.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.judge.answer_key import build_key
from autograder.load.exercise import load_exercise
from autograder.load.release import reference_submission
from autograder.pipeline.submission import find_submissions, grade_all
from autograder.results import SubmissionResult
from autograder.run.sandbox import SandboxSpec, make_sandbox
from autograder.settings import Limits, load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile.attacks import (  # noqa: E402
    FULL,
    SANITY,
    Setting,
    Student,
    canary_dir,
    leaks,
    solution_functions,
    students,
)

ROOT = Path(__file__).resolve().parent.parent
EX = "01_tensors"
STORAGE_MB = 128
LIMITS: dict[str, Any] = {
    "cell_timeout": 20,
    "test_timeout": 10,
    "job_timeout": 60,
    "max_processes": 128,
}
if "storage_mb" in {f.name for f in dataclasses.fields(Limits)}:
    LIMITS["storage_mb"] = STORAGE_MB
#: A stopped zygote must cost much less than the job time limit (the ack timeout is ~10 s).
STALL_BOUND_S = 0.75 * LIMITS["job_timeout"]
SURVIVOR_WAIT_S = 10.0
#: Debugging aid: comma-separated student-name prefixes to leave out of the batch (e.g. "53"
#: to see the other classes while the trusted side still crashes on one); their checks fail.
SKIP = tuple(p for p in os.environ.get("GRADETAPE_ISOLATION_SKIP", "").split(",") if p)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed"),
]
#: mode -> (warm, workers)
MODES = {"warm1": (True, 1), "warm2": (True, 2), "cold": (False, 2)}


@dataclass
class Batch:
    """One graded batch and what the host saw around it."""

    mode: str
    warm: bool
    roster: dict[str, Student]
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    crash: str = ""
    seconds: float = 0.0
    stopped: list[int] = field(default_factory=list)
    stop_note: str = ""
    survivors: list[str] = field(default_factory=list)
    as_root: list[str] = field(default_factory=list)
    canary_reads: list[str] = field(default_factory=list)
    summary: str = ""

    def result(self, name: str) -> SubmissionResult:
        """The result of ``name``; fails the test (not errors) if the batch never finished."""
        if self.crash:
            pytest.fail(f"[{self.mode}] the batch did not finish: {self.crash}", pytrace=False)
        if name not in self.results:
            pytest.fail(
                f"[{self.mode}] {name} was never graded (graded: {sorted(self.results)})",
                pytrace=False,
            )
        return self.results[name]


def _said(res: SubmissionResult) -> str:
    return " | ".join(
        [
            res.reason,
            *res.notices,
            *res.flags,
            *(f"{t.test_id}: {t.message}" for t in res.tests if not t.passed),
        ]
    )[:1500]


def _passed(res: SubmissionResult) -> set[str]:
    return {t.test_id for t in res.tests if t.passed}


# ---------------------------------------------------------------------------------------------
# Host-side observation


def _proc(pid: str, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _ppid(pid: str) -> str:
    for line in _proc(pid, "status").decode(errors="replace").splitlines():
        if line.startswith("PPid:"):
            return line.split()[1]
    return "0"


def _uid(pid: str) -> int:
    for line in _proc(pid, "status").decode(errors="replace").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return -1


def _ns(pid: str, kind: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return ""


def _descendants(root: int) -> list[str]:
    """Host pids whose parent chain reaches ``root`` (this test process)."""
    parents = {p: _ppid(p) for p in os.listdir("/proc") if p.isdigit()}
    found = []
    for pid in parents:
        cur, hops = pid, 0
        while cur not in ("0", "1", str(root)) and hops < 64:
            cur, hops = parents.get(cur, "0"), hops + 1
        if cur == str(root) and pid != str(root):
            found.append(pid)
    return found


def _gradetape_cgroups(pid: str) -> set[str]:
    """The GradeTape pids cgroups (``gradetape-<random>``) a process belongs to."""
    text = _proc(pid, "cgroup").decode(errors="replace")
    return {part for part in re.findall(r"gradetape-[0-9a-f]{12}", text)}


class HostWatch:
    """Remembers the namespaces of every process the batch started, to find survivors later."""

    def __init__(self, tok: str, batch_root: Path) -> None:
        self.tok = tok.encode()
        self.root = str(batch_root).encode()
        self.me = os.getpid()
        self.own_ns = {_ns(str(self.me), "pid"), _ns(str(self.me), "user"), ""}
        self.namespaces: set[str] = set()
        self.cgroups: set[str] = set()  # the workers' pids cgroups (random names, never reused)
        self.as_root: set[str] = set()
        self.lock = threading.Lock()
        # Sandboxes this process already had (another test module's pool, kept by a
        # module-scoped fixture under xdist) are not the batch's: left out of everything.
        self.before = set(_descendants(self.me))
        self.old_cgroups = set().union(*(_gradetape_cgroups(p) for p in self.before))
        self.old_ns = {_ns(p, kind) for p in self.before for kind in ("pid", "user")}

    def _mine(self) -> list[str]:
        """This process's descendants that the batch started."""
        return [
            p
            for p in _descendants(self.me)
            if p not in self.before and not (_gradetape_cgroups(p) & self.old_cgroups)
        ]

    def snapshot(self) -> None:
        """Record the pid and user namespaces of this process's descendants (sandboxes)."""
        with self.lock:
            for pid in self._mine():
                for kind in ("pid", "user"):
                    self.namespaces.add(_ns(pid, kind))
                self.cgroups |= _gradetape_cgroups(pid)
                argv = _proc(pid, "cmdline").split(b"\0")
                python = os.path.basename(argv[0]).startswith(b"python")
                if python and b"gradetape_runtime" in b" ".join(argv) and _uid(pid) == 0:
                    # sandboxed code as host root (the launcher's own shell is not sandboxed)
                    self.as_root.add(b" ".join(argv).decode(errors="replace")[:120])
            self.namespaces -= self.own_ns | self.old_ns
            self.cgroups -= self.old_cgroups

    def zygotes(self) -> list[str]:
        """Host pids of this batch's zygotes, idle ones (no child) first."""
        mine = [
            p for p in self._mine() if b"gradetape_runtime.zygote" in _proc(p, "cmdline")
        ]
        children = {_ppid(p) for p in os.listdir("/proc") if p.isdigit()}
        return sorted(mine, key=lambda p: p in children)

    def survivors(self) -> list[str]:
        """Processes of this batch still alive: its token or folder in their command line, or
        living in a namespace one of its sandboxes had."""
        found = []
        for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != self.me):
            cmd = _proc(pid, "cmdline")
            ours = self.tok in cmd or self.root in cmd
            if self.cgroups:  # namespace inodes are reused by other sandboxes; cgroup names not
                ours = ours or bool(_gradetape_cgroups(pid) & self.cgroups)
            else:
                ours = ours or bool({_ns(pid, "pid"), _ns(pid, "user")} & self.namespaces)
            if ours:
                text = cmd.replace(b"\0", b" ").decode(errors="replace")[:200]
                found.append(f"pid {pid} uid {_uid(pid)}: {text}")
        return found


class CanaryWatch:
    """Sees the trusted side open a FIFO of the canary folder, or read one of its files."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary
        self.fifos = [p for p in canary.iterdir() if p.is_fifo()]
        self.files = [p for p in (canary / "values").iterdir()]
        self.atimes = {p: os.stat(p).st_atime for p in self.files}
        self.seen: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            for fifo in self.fifos:
                try:  # succeeds only while somebody has the FIFO open for reading
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    continue
                os.close(fd)
                self.seen.append(f"{fifo.name} was opened for reading")
            self.stop.wait(0.003)

    def finish(self) -> list[str]:
        """Stop watching; everything that was read."""
        self.stop.set()
        self.thread.join()
        reads = list(self.seen)
        for p in self.files:
            if os.stat(p).st_atime != self.atimes[p]:
                reads.append(f"{p.name} was read")
        return reads


# ---------------------------------------------------------------------------------------------
# The batch


def _grade(mode: str, tmp: Path) -> Batch:
    warm, workers = MODES[mode]
    settings = load_settings(ROOT)
    ex = load_exercise(settings, EX)
    ex = dataclasses.replace(ex, limits=ex.limits.updated(LIMITS))
    tok = "a" + secrets.token_hex(7)  # hex, so IPC keys and ports derive from it
    canary = canary_dir(tmp / f"canary-{tok}")
    ref = reference_submission(ex)
    blank = nbformat.read(ex.release_path, as_version=4)
    roster = {
        s.name: s for s in students(Setting(tok, canary, STORAGE_MB), solution_functions(ref))
    }
    roster = {n: s for n, s in roster.items() if not n.startswith(SKIP or ("\0",))}
    submitted = tmp / "submitted"
    for s in roster.values():
        s.build(submitted / s.name / EX, ref, blank, ex.notebook)
    batch = Batch(mode, warm, roster)
    batch_root = tmp / f"root-{tok}"  # every spool and job folder of the batch lives here
    batch_root.mkdir()
    host = HostWatch(tok, batch_root)
    canaries = CanaryWatch(canary)
    lock = threading.Lock()

    def on_result(res: SubmissionResult) -> None:
        host.snapshot()
        with lock:
            batch.results[res.student] = res
            if warm and res.student == "00-honest-a" and not batch.stopped:
                for pid in host.zygotes()[:1]:
                    try:
                        os.kill(int(pid), signal.SIGSTOP)
                        batch.stopped.append(int(pid))
                    except OSError as exc:
                        batch.stop_note = f"could not stop zygote {pid}: {exc}"
                if not batch.stopped:
                    batch.stop_note = batch.stop_note or "no zygote of this batch was found to stop"

    saved_tempdir = tempfile.tempdir
    tempfile.tempdir = str(batch_root)
    start = time.monotonic()
    box = None
    try:
        box = make_sandbox(SandboxSpec("bwrap", warm, workers, ex.limits))
        key = build_key(ex, settings.seed, box, settings.cache)
        host.snapshot()
        grade_all(
            ex,
            key,
            find_submissions(submitted, EX),
            box,
            settings.seed,
            workers,
            on_result=on_result,
        )
    except Exception:  # noqa: BLE001 - every test of the batch reports it
        batch.crash = traceback.format_exc()[-3000:]
    finally:
        try:
            if box is not None:
                box.close()
        finally:
            tempfile.tempdir = saved_tempdir
            batch.seconds = time.monotonic() - start
            batch.canary_reads = canaries.finish()
            batch.as_root = sorted(host.as_root)
            deadline = time.monotonic() + SURVIVOR_WAIT_S
            batch.survivors = host.survivors()
            while batch.survivors and time.monotonic() < deadline:
                time.sleep(0.5)
                batch.survivors = host.survivors()
            batch.summary = "\n".join(  # shown with any failure of a class
                [
                    f"{n}: {r.score:g} ({r.duration_s:.1f} s) {_said(r)[:200]}"
                    for n, r in sorted(batch.results.items())
                ]
                + [
                    f"{batch.seconds:.0f} s in all; stopped zygote {batch.stopped} {batch.stop_note}"
                ]
            )
            for pid in batch.stopped:  # never leave a stopped process behind on this machine
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    return batch


@pytest.fixture(
    scope="module",
    params=[pytest.param(m, marks=pytest.mark.xdist_group(f"isolation-{m}")) for m in MODES],
)
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return _grade(request.param, tmp_path_factory.mktemp(f"isolation-{request.param}"))


# ---------------------------------------------------------------------------------------------
# Checks shared by the classes


def check_students(batch: Batch, attack_class: str) -> None:
    """Every student of ``attack_class`` gets exactly the score it must; students never see
    a grader's stack trace."""
    problems = []
    for s in (s for s in batch.roster.values() if s.attack_class == attack_class):
        res = batch.result(s.name)
        for t in res.tests:
            if "Traceback" in t.message or "site-packages" in t.message:
                problems.append(f"{s.name} sees a stack trace: {t.message[:300]}")
        if s.role == "accomplice" and res.score != pytest.approx(SANITY):
            seen = leaks(s, _passed(res))
            if res.score == 0:
                problems.append(
                    f"{s.name}: its probes did not run to the end (score 0): {_said(res)}"
                )
            else:
                problems.append(
                    f"{s.name} saw another job's traces: {seen or 'imported them'} (score {res.score})"
                )
        elif s.role == "control" and res.score != pytest.approx(FULL):
            silent = [p for p in s.probes if p not in leaks(s, _passed(res))]
            problems.append(
                f"{s.name}: probes that could not see the job's own traces: {silent}: {_said(res)}"
            )
        elif s.score is None:
            # The honest score of a notebook that damaged its own output: never more than
            # full marks, and every point it lost is explained.
            if not 0.0 <= res.score <= FULL + 1e-9:
                problems.append(f"{s.name} scored {res.score}, outside 0..{FULL}: {_said(res)}")
            elif res.score < FULL and not (
                res.reason
                or res.notices
                or all(t.message for t in res.tests if t.points < t.max_points)
            ):
                problems.append(f"{s.name} lost points without a reason")
        elif s.role != "accomplice" and s.role != "control" and res.score != pytest.approx(s.score):
            problems.append(
                f"{s.name} ({s.role}) scored {res.score}, must score {s.score}: {_said(res)}"
            )
        if s.role == "honest" and res.flags:
            problems.append(f"{s.name} (honest) was flagged: {res.flags}")
    assert not problems, (
        f"[{batch.mode}]\n" + "\n".join(problems) + "\n\nThe batch:\n" + batch.summary
    )


def check_honest(batch: Batch) -> None:
    for s in batch.roster.values():
        if s.role == "honest":
            res = batch.result(s.name)
            assert res.score == pytest.approx(FULL) and not res.flags, (
                f"[{batch.mode}] {s.name}: {res.score}: {_said(res)}"
            )


# ---------------------------------------------------------------------------------------------
# The tests


def test_the_batch_finishes_with_every_student(batch: Batch) -> None:
    assert not batch.crash, f"[{batch.mode}] the batch did not finish:\n{batch.crash}"
    assert sorted(batch.results) == sorted(batch.roster)


def test_honest_classmates_keep_full_marks(batch: Batch) -> None:
    check_honest(batch)


def test_probes_see_the_traces_of_their_own_job(batch: Batch) -> None:
    """The control: each probe fires when its traces exist, so a silent probe means isolation."""
    check_students(batch, "control")


def test_files_do_not_persist_between_jobs(batch: Batch) -> None:
    """Markers, an importable module, pytest.ini/conftest.py and site hooks left anywhere."""
    check_students(batch, "files")
    check_honest(batch)


def test_processes_do_not_persist_between_jobs(batch: Batch) -> None:
    """A double-forked, setsid, signal-ignoring daemon that writes markers and attacks later jobs."""
    check_students(batch, "processes")
    check_honest(batch)


def test_ipc_is_not_shared_between_jobs(batch: Batch) -> None:
    """SysV shared memory, semaphores and message queues; abstract and localhost sockets."""
    check_students(batch, "ipc")


def test_the_control_channel_cannot_be_impersonated(batch: Batch) -> None:
    """Forged "ready"/"done" lines to every fd it can open, SIGSTOP/SIGKILL to every pid."""
    check_students(batch, "control-channel")
    check_honest(batch)


def test_bad_output_never_crashes_the_trusted_side(batch: Batch) -> None:
    """Deeply nested JSON, 10**100000, huge lines, impossible .npy headers, a recursion-bomb
    notebook: the batch finishes, the attacker gets zero or its honest score with a reason."""
    assert not batch.crash, f"[{batch.mode}] the batch did not finish:\n{batch.crash}"
    check_students(batch, "bad-output")
    check_honest(batch)


def test_a_swapped_job_folder_is_never_followed(batch: Batch) -> None:
    """Output files and folders replaced by symlinks to a host folder, or deleted."""
    check_students(batch, "swapped-folder")
    check_honest(batch)
    assert not batch.canary_reads, (
        f"[{batch.mode}] the trusted side followed a symlink: {batch.canary_reads}"
    )


def test_storage_is_limited_per_job(batch: Batch) -> None:
    """Writing /tmp, /dev/shm and /job/out until ENOSPC stops near ``storage_mb`` in total."""
    assert "storage_mb" in LIMITS, (
        "Limits has no storage_mb field: the per-job storage limit is missing"
    )
    check_students(batch, "storage")
    check_honest(batch)


def test_no_process_outlives_the_batch(batch: Batch) -> None:
    assert not batch.survivors, (
        f"[{batch.mode}] still running {SURVIVOR_WAIT_S:g} s after the sandbox closed:\n"
        + "\n".join(batch.survivors)
    )


def test_a_stopped_zygote_is_replaced_quickly(batch: Batch) -> None:
    """SIGSTOP to an idle zygote after the first result: the job that lands on it next (with
    one worker, ``01-honest-b``) is retried on a new worker well before the job time limit."""
    if not batch.warm:
        pytest.skip("cold mode keeps no zygote between jobs")
    assert batch.stopped, f"[{batch.mode}] {batch.stop_note}"
    check_honest(batch)
    slow = {
        n: round(r.duration_s, 1) for n, r in batch.results.items() if r.duration_s >= STALL_BOUND_S
    }
    assert not slow, (
        f"[{batch.mode}] jobs that took {STALL_BOUND_S:g} s or more (job_timeout "
        f"{LIMITS['job_timeout']} s) after a zygote was stopped: {slow}\n\n{batch.summary}"
    )


def test_sandboxed_code_never_runs_as_host_root(batch: Batch) -> None:
    """Zygotes and jobs seen on the host (between jobs) run as an unprivileged host uid."""
    assert not batch.as_root, f"[{batch.mode}] host uid 0: {batch.as_root}"
