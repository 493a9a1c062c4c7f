"""The student's workflow in JupyterLab, in a real (headless) browser.

Starts ``jupyter lab`` from this environment on a free local port with a token, private
HOME / Jupyter directories and a temp root holding a copy of the released 01 notebook, then
drives Debian's Chromium with Playwright: fill two solution cells through the editor, run the
imports, helpers, solutions and the ``creation`` self-check, and check what the student
sees: "✓ creation: passed"; then break a function, rerun, and see the AssertionError hint.

Chromium comes from apt (``apt-get install -y chromium``), never from ``playwright install``.
Without it the test skips, except under CI (``CI=true``) where it fails.
"""

import shutil
import time
import urllib.error
from pathlib import Path

import pytest

from .browser_support import api as _api
from .browser_support import lab_env, launch_chromium, start_lab, stop_lab

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "exercises" / "01_tensors" / "01_tensors.ipynb"
SCREENSHOT = Path("/tmp/gradetape-browser.png")
TIMEOUT_S = 120  # TensorFlow's import alone can take a minute on a loaded machine

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

FILLED = "def filled(shape, value, dtype): return tf.fill(shape, tf.constant(value, dtype=dtype))"
ARANGE = "def arange_matrix(n, m): return tf.reshape(tf.range(n * m, dtype=tf.int32), [n, m])"
FILLED_BROKEN = "def filled(shape, value, dtype): return tf.fill(shape, value)"
HINT = "filled([2, 3], 1.5, tf.float64): expected dtype float64, got float32"


@pytest.fixture
def jupyter_lab(tmp_path):
    """A running JupyterLab serving a temp folder with the released notebook; stopped after."""
    work = tmp_path / "root"
    work.mkdir()
    shutil.copyfile(RELEASE, work / RELEASE.name)
    env = lab_env(tmp_path / "home")
    base, token, proc = start_lab("the student", work, env, tmp_path / "jupyter.log", TIMEOUT_S)
    try:
        yield base, token, work
    finally:
        try:
            for kernel in _api(base, token, "/api/kernels") or []:
                _api(base, token, f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, OSError, ValueError):
            pass
        stop_lab(proc)


@pytest.fixture
def browser_page(tmp_path):
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_S * 1000)
        yield page


def _wait_for_idle_kernel(base, token):
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        sessions = _api(base, token, "/api/sessions")
        states = [s["kernel"]["execution_state"] for s in sessions if s.get("kernel")]
        if states and all(state == "idle" for state in states):
            return
        time.sleep(0.5)
    pytest.fail("the notebook's kernel did not become idle")


def _cell(page, text):
    """The notebook code cell whose source contains ``text``."""
    return page.locator(".jp-Notebook .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea", has_text=text)
    )


def _type_into(page, cell, code):
    """Replace a cell's source the way a student does: click, select all, type."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type(code)
    assert cell.locator(".cm-content").inner_text().strip() == code


def _run_in_place(page, cell):
    """Select ``cell``, run it with Ctrl+Enter and wait for its new execution count."""
    before = cell.locator(".jp-InputPrompt").inner_text()
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+Enter")
    _wait_for_prompt(cell, before)


def _wait_for_prompt(cell, before=""):
    """Wait until the cell's prompt shows an execution count other than ``before``."""
    prompt = cell.locator(".jp-InputPrompt")
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        text = prompt.inner_text()
        if text != before and any(ch.isdigit() for ch in text):
            return
        assert time.monotonic() < deadline, f"the cell did not run: {text!r}"
        time.sleep(0.2)


def test_student_fills_runs_and_reads_the_self_check(jupyter_lab, browser_page, tmp_path):
    base, token, _ = jupyter_lab
    page = browser_page
    shots = tmp_path / "screenshots"
    shots.mkdir()
    start = time.monotonic()

    page.goto(f"{base}/lab/tree/01_tensors.ipynb?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    _wait_for_idle_kernel(base, token)

    imports = _cell(page, "import tensorflow as tf")
    filled = _cell(page, "def filled(")
    arange = _cell(page, "def arange_matrix(")
    creation = _cell(page, 'print("✓ creation: passed")')
    for cell in (imports, filled, arange, creation):
        assert cell.count() == 1

    # 1. Write the two functions of Part 1 in the editor.
    _type_into(page, filled, FILLED)
    _type_into(page, arange, ARANGE)

    # 2. Run everything above the self-check from the Run menu, then the self-check itself.
    creation.locator(".jp-InputPrompt").click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Above Selected Cell").click()
    for cell in (imports, filled, arange):
        _wait_for_prompt(cell)
    _run_in_place(page, creation)
    output = creation.locator(".jp-OutputArea-output")
    output.filter(has_text="✓ creation: passed").wait_for()
    assert "Error" not in output.all_inner_texts()[0]
    creation.scroll_into_view_if_needed()
    page.screenshot(path=shots / "01-creation-passed.png")

    # 3. Break filled (it ignores the dtype), rerun it and the self-check: the hint shows.
    _type_into(page, filled, FILLED_BROKEN)
    _run_in_place(page, filled)
    _run_in_place(page, creation)
    error = creation.locator(".jp-OutputArea-output", has_text="AssertionError")
    error.wait_for()
    text = error.inner_text()
    assert HINT in text, text
    assert "✓ creation: passed" not in " ".join(output.all_inner_texts())
    creation.scroll_into_view_if_needed()
    page.screenshot(path=shots / "02-creation-failed.png")
    shutil.copyfile(shots / "02-creation-failed.png", SCREENSHOT)
    print(f"browser workflow took {time.monotonic() - start:.1f} s; screenshots in {shots}")
