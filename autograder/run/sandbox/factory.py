"""The one factory of sandboxes: every kind, built from a typed :class:`SandboxSpec`.

========================  ==========================================================
spec                      sandbox
========================  ==========================================================
``scheduler`` set         :class:`~autograder.run.sandbox.dask.DaskSandbox` (its workers
                          build their own local sandbox from the same spec)
``early``                 :class:`~autograder.run.sandbox.early.EarlySandbox` (one
                          worker, starting now on a thread)
``warm``                  :class:`~autograder.run.sandbox.pool.WarmPool` of ``workers``
cold                      :class:`~autograder.run.sandbox.bwrap.BwrapSandbox`, or
                          :class:`~autograder.run.sandbox.process.SubprocessSandbox`
========================  ==========================================================

``isolation = "auto"`` uses bubblewrap when it works here and otherwise falls back to a
plain subprocess, loudly (a log warning and a line on stderr) unless the spec says the run
is the student's own (``warn_weak=False``: ``gradetape validate``). ``"bwrap"`` without a
working bubblewrap is an error. Use the result as a context manager (``with
make_sandbox(spec) as box:``) or call its ``close()``.

This module imports nothing heavy (``distributed`` only for a cluster): ``gradetape
validate`` builds its early sandbox before importing anything else.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from autograder.run.sandbox.base import Needs, Sandbox
from autograder.run.sandbox.bwrap import BwrapSandbox
from autograder.run.sandbox.process import SubprocessSandbox
from autograder.settings import ISOLATIONS, CourseSettings, Limits

log = logging.getLogger(__name__)

WEAK_ISOLATION = (
    "WARNING: bubblewrap (bwrap) is not available, so student code runs as a plain "
    "subprocess with resource limits only: it can read this machine's files and use the "
    "network. Install bubblewrap (apt-get install bubblewrap) for real isolation."
)


@dataclass(frozen=True)
class SandboxSpec:
    """Which sandbox to build.

    Attributes:
        isolation: ``"auto"`` (bubblewrap when it works, else a plain subprocess),
            ``"bwrap"`` or ``"subprocess"``.
        warm: Warm workers (TensorFlow imported once per worker, a fresh fork per job);
            ``False``: a brand-new sandbox per job. On a cluster, the workers' choice.
        workers: Jobs run at once (the warm pool's size); a cluster counts its own threads.
        limits: The limits the workers' outer sandboxes apply (memory, file size, processes).
        scheduler: A Dask scheduler address: jobs run on the cluster's workers.
        needs: What the jobs require, when known before the first job (a GPU worker).
        gpu_fallback: On a cluster without GPU workers, GPU jobs run on any worker
            (``"cpu"``) or wait for one (``"wait"``).
        early: One warm worker, started at once on a thread, for one job later.
        warn_weak: Warn loudly when ``auto`` falls back to a plain subprocess.
    """

    isolation: str = "auto"
    warm: bool = True
    workers: int = 1
    limits: Limits = field(default_factory=Limits)
    scheduler: str | None = None
    needs: Needs = field(default_factory=Needs)
    gpu_fallback: str = "cpu"
    early: bool = False
    warn_weak: bool = True

    @classmethod
    def from_settings(
        cls,
        settings: CourseSettings,
        limits: Limits | None = None,
        workers: int | None = None,
        cluster: bool = False,
    ) -> SandboxSpec:
        """The spec of a course's sandbox (``isolation``, ``warm``, ``workers``).

        Args:
            settings: The course.
            limits: The exercise's limits (default: the course's).
            workers: Jobs at once (default: the course's ``worker_count``).
            cluster: Use the course's Dask ``scheduler`` when it has one (grading batches);
                otherwise the jobs run on this machine.
        """
        return cls(
            isolation=settings.isolation,
            warm=settings.warm,
            workers=settings.worker_count if workers is None else workers,
            limits=settings.limits if limits is None else limits,
            scheduler=settings.scheduler if cluster else None,
        )


def make_sandbox(spec: SandboxSpec) -> Sandbox:
    """Build the sandbox ``spec`` asks for (see the module docstring for which kind).

    Raises:
        ValueError: For an unknown isolation name or GPU fallback.
        RuntimeError: If ``bwrap`` was asked for and does not work here (an early sandbox
            raises it on its job instead, so that an unreadable notebook is still reported).
    """
    if spec.isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be auto, bwrap or subprocess; got {spec.isolation!r}")
    if spec.scheduler:
        return _cluster(spec)
    if spec.early:
        from autograder.run.sandbox.early import EarlySandbox

        try:
            use_bwrap = uses_bwrap(spec.isolation, spec.warn_weak)
        except RuntimeError as exc:
            return EarlySandbox(spec.limits, use_bwrap=False, refusal=str(exc))
        return EarlySandbox(spec.limits, use_bwrap=use_bwrap)
    use_bwrap = uses_bwrap(spec.isolation, spec.warn_weak)
    if spec.warm:
        from autograder.run.sandbox.pool import WarmPool

        return WarmPool(spec.workers, spec.limits, use_bwrap=use_bwrap)
    return BwrapSandbox(spec.workers) if use_bwrap else SubprocessSandbox(spec.workers)


def uses_bwrap(isolation: str, warn_weak: bool = True) -> bool:
    """Whether jobs of ``isolation`` run under bubblewrap on this machine.

    Raises:
        RuntimeError: If ``bwrap`` was asked for and does not work here.
    """
    if isolation == "subprocess":
        return False
    problem = BwrapSandbox.problem()
    if problem is None:
        return True
    if isolation == "bwrap":
        raise RuntimeError(
            f"bubblewrap sandbox unavailable: {problem} (install bubblewrap, or set "
            'isolation = "auto" to accept a plain subprocess)'
        )
    if warn_weak:
        log.warning("%s (%s)", WEAK_ISOLATION, problem)
        print(WEAK_ISOLATION, file=sys.stderr)
    return False


def _cluster(spec: SandboxSpec) -> Sandbox:
    """Connect to the spec's scheduler; the sandbox owns (and closes) the connection."""
    from distributed import Client

    from autograder.run.sandbox.dask import DaskSandbox

    client = Client(spec.scheduler)
    try:
        return DaskSandbox(
            client,
            spec.isolation,
            needs=spec.needs,
            gpu_fallback=spec.gpu_fallback,
            warm=spec.warm,
            owns_client=True,
        )
    except BaseException:
        client.close()
        raise
