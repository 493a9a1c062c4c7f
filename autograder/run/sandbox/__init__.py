"""Sandboxes that run one grading job: bubblewrap, a plain subprocess, and the choice."""

from autograder.run.sandbox.base import Sandbox, SandboxRun
from autograder.run.sandbox.bwrap import BwrapSandbox
from autograder.run.sandbox.process import (
    SubprocessSandbox,
    choose_sandbox,
    close_sandbox,
    make_sandbox,
)

__all__ = [
    "BwrapSandbox",
    "Sandbox",
    "SandboxRun",
    "SubprocessSandbox",
    "choose_sandbox",
    "close_sandbox",
    "make_sandbox",
]
