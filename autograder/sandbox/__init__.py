"""Sandboxes that run one grading job: bubblewrap, a plain subprocess, and the choice."""

from .base import Sandbox, SandboxRun
from .bwrap import BwrapSandbox
from .process import SubprocessSandbox, choose_sandbox, close_sandbox, make_sandbox

__all__ = [
    "BwrapSandbox",
    "Sandbox",
    "SandboxRun",
    "SubprocessSandbox",
    "choose_sandbox",
    "close_sandbox",
    "make_sandbox",
]
