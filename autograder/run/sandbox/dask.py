"""Grading on a Dask cluster: the same jobs, run in a sandbox on the cluster's workers.

The coordinator (this process) keeps the keys, the labels and the gradebook. A job travels
as its ``in/`` files; the worker runs it in its own local sandbox (warm workers by default)
and sends back the raw bytes of the job's ``out/`` files, which the coordinator writes into
the job directory and reads with the same defensive reader as a local job. Jobs whose
grader has ``gpu`` tests ask for a ``GPU`` resource; when no worker advertises one they
run on any worker (``gpu_fallback="cpu"``) or wait for one (``"wait"``): the batch declares
that need once its key is built (:meth:`DaskSandbox.routed`).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

from autograder.run.sandbox.base import Capabilities, Needs, Sandbox, SandboxRun
from autograder.runtime.protocol import (
    CELLS_FILE,
    HANDOVER_DIR,
    IN_DIR,
    OUT_DIR,
    RUNTIME_ERROR_FILE,
    TESTS_FILE,
    VALUE_FILE,
    VALUES_DIR,
)
from autograder.settings import Limits

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}"
_FILES = "|".join(re.escape(n) for n in (TESTS_FILE, CELLS_FILE, RUNTIME_ERROR_FILE))
#: The channel's files, and a fresh-process hand-over (``handover/<name>/...``, nested).
_OUT_NAME = re.compile(
    rf"^({_FILES}|{re.escape(VALUES_DIR)}/{VALUE_FILE.pattern[1:-1]}"
    rf"|{re.escape(HANDOVER_DIR)}/{_SEGMENT}(/{_SEGMENT}){{1,7}})$"
)
_WORKER_BOX: dict[tuple[str, bool], Sandbox] = {}
_WORKER_LOCK = threading.Lock()


def pack(folder: Path, limit: int) -> dict[str, bytes]:
    """Regular files under ``folder`` (no symlinks), up to ``limit`` bytes in all."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        total += len(data)
        if total > limit:
            break
        files[path.relative_to(folder).as_posix()] = data
    return files


def unpack_output(files: dict[str, bytes], out_dir: Path) -> None:
    """Write a worker's answer into ``out_dir``, keeping only the channel's file names."""
    for name, data in files.items():
        if isinstance(name, str) and isinstance(data, bytes) and _OUT_NAME.match(name):
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def run_on_worker(
    inputs: dict[str, bytes], limits: Limits, isolation: str, warm: bool = True
) -> dict[str, Any]:
    """Executed on a Dask worker: run one job in a local sandbox, return its output files.

    The worker keeps one local sandbox per (isolation, warm) for its lifetime (a warm one
    imports TensorFlow once) and closes them when its process exits.
    """
    from autograder.run.sandbox.factory import SandboxSpec, make_sandbox

    with _WORKER_LOCK:
        box = _WORKER_BOX.get((isolation, warm))
        if box is None:
            if not _WORKER_BOX:
                atexit.register(_close_worker_boxes)
            box = make_sandbox(SandboxSpec(isolation, warm, 1, limits))
            _WORKER_BOX[(isolation, warm)] = box
    job = Path(tempfile.mkdtemp(prefix="gradetape-dask-"))
    try:
        (job / OUT_DIR).mkdir()
        for name, data in inputs.items():
            target = job / IN_DIR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        run = box.run(job, limits)
        return {
            "files": pack(job / OUT_DIR, limits.max_total_mb << 20),
            "run": run.__dict__,
            "worker": _worker_address(),
        }
    finally:
        shutil.rmtree(job, ignore_errors=True)


def _close_worker_boxes() -> None:
    with _WORKER_LOCK:
        boxes = list(_WORKER_BOX.values())
        _WORKER_BOX.clear()
    for box in boxes:
        box.close()


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return os.environ.get("DASK_WORKER_NAME", "")


class DaskSandbox(Sandbox):
    """Runs jobs on a Dask cluster (``gradetape grade --scheduler ADDRESS``).

    Args:
        client: A ``distributed.Client``.
        isolation: The sandbox the workers use (``auto``, ``bwrap``, ``subprocess``).
        needs: What this batch's jobs require (``gpu``: prefer a GPU worker).
        gpu_fallback: ``"cpu"`` (run anywhere when no worker has a GPU) or ``"wait"``.
        warm: Whether the workers' local sandboxes are warm pools (else one per job).
        owns_client: Close ``client`` with the sandbox (the factory's own connection).
    """

    name = "dask"

    def __init__(
        self,
        client: Any,
        isolation: str = "auto",
        needs: Needs | None = None,
        gpu_fallback: str = "cpu",
        warm: bool = True,
        owns_client: bool = False,
    ) -> None:
        if gpu_fallback not in {"cpu", "wait"}:
            raise ValueError(f"gpu_fallback must be 'cpu' or 'wait'; got {gpu_fallback!r}")
        self.client = client
        self.isolation = isolation
        self.needs = needs or Needs()
        self.gpu_fallback = gpu_fallback
        self.warm = warm
        self.owns_client = owns_client
        self.last_worker = ""
        kinds: dict[str, Literal["bwrap", "process", "auto"]] = {
            "bwrap": "bwrap",
            "subprocess": "process",
        }
        self.capabilities = Capabilities(
            isolation=kinds.get(isolation, "auto"),
            warm=warm,
            workers=_threads(client),
            gpu=bool(gpu_workers(client)),
            remote=True,
        )

    def routed(self, needs: Needs) -> DaskSandbox:
        """The same cluster and connection, asking for what ``needs`` asks (a GPU worker)."""
        return DaskSandbox(self.client, self.isolation, needs, self.gpu_fallback, self.warm)

    def close(self) -> None:
        """Close the connection to the scheduler, when this sandbox opened it."""
        if self.owns_client:
            self.client.close()

    def resources(self) -> dict[str, float] | None:
        """The Dask resources a job asks for."""
        if not self.needs.gpu:
            return None
        if self.gpu_fallback == "wait" or gpu_workers(self.client):
            return {"GPU": 1}
        return None

    def run(self, job_dir: Path, limits: Limits) -> SandboxRun:
        """Send the job to the cluster and write what comes back into ``job_dir/out``."""
        inputs = pack(job_dir / IN_DIR, 256 << 20)
        future = self.client.submit(
            run_on_worker,
            inputs,
            limits,
            self.isolation,
            self.warm,
            resources=self.resources(),
            pure=False,
        )
        answer = future.result()
        unpack_output(answer["files"], job_dir / OUT_DIR)
        self.last_worker = str(answer.get("worker", ""))
        run = answer["run"]
        return SandboxRun(
            isolation=f"dask:{run.get('isolation', '?')}",
            exit_code=run.get("exit_code"),
            timed_out=bool(run.get("timed_out")),
            duration_s=float(run.get("duration_s", 0.0)),
        )


def gpu_workers(client: Any) -> list[str]:
    """Addresses of the cluster's workers that advertise a ``GPU`` resource.

    Asks the scheduler itself: the client's ``scheduler_info()`` is a copy refreshed every few
    seconds, which was seen empty while the worker was registered.
    """
    try:
        resources = client.run_on_scheduler(_worker_resources)
    except AttributeError:  # a client without run_on_scheduler
        info = client.scheduler_info()
        resources = {a: w.get("resources", {}) for a, w in info.get("workers", {}).items()}
    return [address for address, have in resources.items() if have.get("GPU", 0) > 0]


def _worker_resources(dask_scheduler: Any) -> dict[str, dict[str, float]]:
    """On the scheduler: every worker's advertised resources."""
    return {address: dict(ws.resources) for address, ws in dask_scheduler.workers.items()}


def _threads(client: Any) -> int:
    """How many jobs the cluster runs at once (at least one)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except AttributeError:  # a client without nthreads
        return 1
