"""The set-up files agree with each other: pyproject pins, environment.yml, the lock file."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pyproject_pins():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def environment_pins():
    pins = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.\-\[\]]+==\S+)\s*$", line)
        if m:
            pins.add(m.group(1))
    return pins


def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_direct_dependency_is_pinned_exactly():
    for pin in pyproject_pins():
        assert "==" in pin, f"{pin} is not pinned with =="


def test_environment_yml_mirrors_pyproject():
    assert environment_pins() == pyproject_pins()


def test_lock_file_agrees_with_pins():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            lock[normal(name)] = version.strip()
    for pin in pyproject_pins():
        name, version = pin.split("==")
        name = name.split("[")[0]
        assert lock.get(normal(name)) == version, f"requirements.lock disagrees on {pin}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test" in readme and "scripts/demo" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
