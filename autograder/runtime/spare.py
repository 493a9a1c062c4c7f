"""A spare interpreter, forked before any student code runs, for a grader's "fresh process".

Some graders must prove that something works in a new Python process (a model reloaded
from its files with no student class in memory). Starting ``python`` and importing
TensorFlow again costs seconds per job. Instead, the runtime forks a spare right after
TensorFlow is imported and before anything else happens (no tensor created, no seed set,
no student cell run). The spare blocks until a grader sends it one script, runs it as
``python -c SCRIPT ARGS...`` would (``__main__`` globals, ``sys.argv``, working directory,
environment, ``PYTHONPATH`` entries first on ``sys.path``), with stdout and stderr captured,
and exits. It serves one request; later requests start a real interpreter.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any


class Spare:
    """One forked, clean interpreter waiting for a script."""

    def __init__(self) -> None:
        request_r, request_w = os.pipe()
        result_r, result_w = os.pipe()
        self.folder = tempfile.mkdtemp(prefix="spare-")
        pid = os.fork()
        if pid == 0:  # the spare
            os.close(request_w)
            os.close(result_r)
            _serve(request_r, result_w, self.folder)
        os.close(request_r)
        os.close(result_w)
        self.pid: int | None = pid
        self._request = request_w
        self._result = result_r

    def run(
        self,
        script: str,
        args: Sequence[str],
        cwd: str,
        env: Mapping[str, str],
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``script`` in the spare (once); like ``subprocess.run(..., text=True)``.

        Raises:
            subprocess.TimeoutExpired: When the script runs past ``timeout`` (it is killed).
            RuntimeError: When the spare is gone or was already used.
        """
        pid, self.pid = self.pid, None
        if pid is None:
            raise RuntimeError("the spare interpreter was already used")
        command = [sys.executable, "-c", script, *args]
        request = json.dumps({"script": script, "args": list(args), "cwd": cwd, "env": dict(env)})
        try:
            os.write(self._request, request.encode())
        except OSError as exc:
            raise RuntimeError(f"the spare interpreter is gone ({exc})") from None
        finally:
            os.close(self._request)
        deadline = time.monotonic() + timeout
        chunks = []
        while True:
            left = deadline - time.monotonic()
            ready = select.select([self._result], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                _kill(pid)
                os.close(self._result)
                raise subprocess.TimeoutExpired(command, timeout)
            chunk = os.read(self._result, 64)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self._result)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # already reaped
            status = 0
        text = b"".join(chunks).decode() or "null"
        code = json.loads(text)
        if not isinstance(code, int):
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return subprocess.CompletedProcess(
            command, code, _read(self.folder, "stdout"), _read(self.folder, "stderr")
        )

    def close(self) -> None:
        """Release an unused spare (it exits when its request pipe closes)."""
        pid, self.pid = self.pid, None
        if pid is not None:
            for fd in (self._request, self._result):
                try:
                    os.close(fd)
                except OSError:
                    pass
            _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _read(folder: str, name: str, limit: int = 1 << 20) -> str:
    try:
        with open(os.path.join(folder, name), "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _serve(request_fd: int, result_fd: int, folder: str) -> None:
    """The spare's whole life: wait for one request, run it, report, exit."""
    code: Any = 1
    try:
        data = b""
        while True:
            chunk = os.read(request_fd, 1 << 16)
            if not chunk:
                break
            data += chunk
        if not data:
            os._exit(0)  # released unused
        request = json.loads(data)
        code = _execute(request, folder)
    except BaseException:  # noqa: BLE001 - whatever happened, the parent gets a status
        code = 1
    try:
        os.write(result_fd, json.dumps(code).encode())
    finally:
        os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)


def _execute(request: Mapping[str, Any], folder: str) -> int:
    """Run the script as ``python -c`` would; returns its exit status."""
    import traceback

    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    os.chdir(request["cwd"])
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = ["", *extra]
    sys.argv = ["-c", *[str(a) for a in request["args"]]]
    for name in ("stdout", "stderr"):
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1 if name == "stdout" else 2)
        os.close(fd)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives until os._exit
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    code = 0
    try:
        exec(compile(request["script"], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported like an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code
