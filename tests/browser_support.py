"""What the browser tests share: Chromium through Playwright, a JupyterLab server, a free port.

``test_browser.py`` (a student in JupyterLab), ``test_course_walk.py`` (the whole course in two
JupyterLabs) and ``gradebook/test_report_browser.py`` (the HTML report) drive the system
Chromium with Playwright. Without Chromium or Playwright they skip, except on CI, where they
fail and say what to install.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
#: What CI must do for a browser test (the end of the message when it cannot run).
NEED = "the browser test: apt-get install -y chromium"


def unavailable(reason: str, need: str = NEED) -> None:
    """Skip the test because ``reason``; on CI (``CI=true``) fail it, naming what CI must do."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must run {need})")
    pytest.skip(reason)


@contextmanager
def launch_chromium(need: str = NEED) -> Iterator[Any]:
    """The system Chromium, headless, through Playwright; closed afterwards."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing", need)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed", need)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)  # fmt: skip
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET", timeout: float = 10) -> Any:
    """Call a Jupyter server's REST API with its token; the JSON answer, or None."""
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     headers={"Authorization": f"token {token}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


def write_lab_settings(settings: Path) -> None:
    """JupyterLab settings for a test: no news or update pop-ups, no notebook windowing."""
    for plugin, values in {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                        "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }.items():  # fmt: skip
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def lab_env(home: Path, config_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a JupyterLab server for a test: its own HOME, Jupyter folders, quiet TF.

    Writes the lab settings (:func:`write_lab_settings`) under ``home``. ``config_dir``
    defaults to ``home/config``; ``extra`` adds variables (``USER``, ``PYTHONPATH`` ...).
    """
    settings = home / "lab-settings"
    write_lab_settings(settings)
    bin_dir = Path(sys.executable).parent
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        **extra,
        "JUPYTER_CONFIG_DIR": str(config_dir or home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "mpl"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def start_lab(name: str, root_dir: Path, env: dict[str, str], log_path: Path, timeout_s: float,
              uid: int | None = None) -> tuple[str, str, subprocess.Popen[bytes]]:  # fmt: skip
    """Start ``jupyter lab`` in ``root_dir`` (as ``uid`` when given) and wait until it answers.

    Returns:
        The server's base URL, its token and its process (stop it with :func:`stop_lab`).
    """
    port, token = free_port(), uuid.uuid4().hex
    base = f"http://127.0.0.1:{port}"
    extra: dict[str, Any] = {}
    if uid is not None:
        extra = {"user": uid, "group": pwd.getpwuid(uid).pw_gid, "extra_groups": []}
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root_dir}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if uid is None and os.geteuid() == 0 else [])],
        cwd=root_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, **extra,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            stop_lab(proc)
            pytest.fail(f"{name}'s jupyter lab exited: {log_path.read_text()[-3000:]}")
        try:
            api(base, token, "/api/status")
            return base, token, proc
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                stop_lab(proc)
                pytest.fail(f"{name}'s jupyter lab did not answer: {log_path.read_text()[-3000:]}")
            time.sleep(0.5)


def stop_lab(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started by :func:`start_lab`: it and everything in its session."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the server's session: it and its kernels
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
