"""Sandboxes that run one grading job: one interface (:mod:`.base`), one factory (:mod:`.factory`).

Kinds: cold bubblewrap (:mod:`.bwrap`), plain subprocess (:mod:`.process`), warm workers
(:mod:`.warm`, pooled by :mod:`.pool`), the early one-job worker of ``gradetape validate``
(:mod:`.early`) and a Dask cluster (:mod:`.dask`). Callers build them with
``make_sandbox(SandboxSpec(...))`` and close them with ``with`` or ``close()``.
"""

from autograder.run.sandbox.base import Capabilities, Needs, Sandbox, SandboxRun
from autograder.run.sandbox.bwrap import BwrapSandbox
from autograder.run.sandbox.factory import SandboxSpec, make_sandbox
from autograder.run.sandbox.process import SubprocessSandbox

__all__ = [
    "BwrapSandbox",
    "Capabilities",
    "Needs",
    "Sandbox",
    "SandboxRun",
    "SandboxSpec",
    "SubprocessSandbox",
    "make_sandbox",
]
