"""gradetape.toml: every documented key is honoured; an unknown key is an error that helps."""

import dataclasses
import re
from pathlib import Path

import pytest

from autograder.pipeline import batch as course
from autograder.settings import (
    GRADING_KEYS,
    TABLES,
    TOP_LEVEL,
    Limits,
    SettingsError,
    SimilaritySettings,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path, text):
    (tmp_path / "gradetape.toml").write_text(text)
    return tmp_path


def uncommented_config() -> str:
    """The repository's gradetape.toml with its commented-out example tables switched on."""
    lines = []
    for line in (ROOT / "gradetape.toml").read_text().splitlines():
        example = re.match(r"#\s?(\[\w+\]\s*$|\w+\s*=\s*\S.*$)", line)
        lines.append(example.group(1) if example else line)
    return "\n".join(lines) + "\n"


def test_every_key_of_the_shipped_gradetape_toml_is_read(tmp_path):
    text = uncommented_config()
    assert "[heldout]" in text and "[similarity]" in text and "min_tokens = 40" in text
    settings = load_settings(write(tmp_path, text))
    assert settings.seed == 20261123 and settings.isolation == "auto"
    assert settings.workers == 0 and settings.warm is True
    assert settings.heldout_files == {"digits": "private/digits_eval.npz"}
    assert settings.similarity == SimilaritySettings(40, 0.6)
    assert settings.limits == Limits(cell_timeout=60, test_timeout=60, job_timeout=300, memory_mb=6144)


def test_documented_values_change_the_settings(tmp_path):
    text = """
seed = 7
isolation = "subprocess"
workers = 3
warm = false
misconceptions = false
scheduler = "tcp://scheduler:8786"
[limits]
cell_timeout = 5
storage_mb = 128
[similarity]
min_tokens = 12
threshold = 0.7
[grading]
late_penalty_per_day = 0.1
drop_lowest = 1
"""
    settings = load_settings(write(tmp_path, text))
    assert (settings.seed, settings.isolation, settings.workers) == (7, "subprocess", 3)
    assert settings.warm is False and settings.misconceptions is False
    assert settings.scheduler == "tcp://scheduler:8786"
    assert settings.limits.cell_timeout == 5 and settings.limits.storage_mb == 128
    assert settings.similarity == SimilaritySettings(12, 0.7)
    assert settings.grading == {"late_penalty_per_day": 0.1, "drop_lowest": 1}


def test_command_line_overrides_the_file(tmp_path):
    settings = load_settings(write(tmp_path, "warm = true\nworkers = 3\n"), warm=False, workers=None)
    assert settings.warm is False and settings.workers == 3


def test_warm_false_reaches_the_sandbox(tmp_path, monkeypatch):
    """``warm = false`` really gives every job a new sandbox: grading asks for a cold one."""
    seen = {}

    class Stop(Exception):
        pass

    def make_sandbox(spec):
        seen.update(isolation=spec.isolation, warm=spec.warm, workers=spec.workers)
        raise Stop

    monkeypatch.setattr(course, "load_exercise", lambda settings, name: type("E", (), {"limits": Limits()})())
    monkeypatch.setattr(course, "make_sandbox", make_sandbox)
    settings = load_settings(write(tmp_path, 'warm = false\nworkers = 2\nisolation = "subprocess"\n'))
    with pytest.raises(Stop):
        course.grade_assignment(settings, "01_tensors")
    assert seen == {"isolation": "subprocess", "warm": False, "workers": 2}


def readme_settings() -> str:
    """The ``toml`` block of the README's "Settings: gradetape.toml" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Settings: `gradetape.toml`", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def test_the_readme_documents_every_key_and_each_one_works(tmp_path):
    import tomllib

    from gradebook.policy import GradingPolicy

    text = readme_settings()
    data = tomllib.loads(text)
    documented = set(data) | {f"{t}.{k}" for t in TABLES for k in data.get(t, {})}
    known = set(TOP_LEVEL) | set(TABLES) | {f"grading.{k}" for k in GRADING_KEYS}
    known |= {f"limits.{f.name}" for f in dataclasses.fields(Limits)}
    known |= {"heldout.digits", "similarity.min_tokens", "similarity.threshold"}
    assert documented == known
    settings = load_settings(write(tmp_path, text))
    assert settings.scheduler == "tcp://scheduler:8786" and settings.warm is True
    assert settings.limits == Limits()  # the README shows the defaults
    assert settings.similarity == SimilaritySettings()
    policy = GradingPolicy.from_mapping(settings.grading)
    assert policy.late_penalty_per_day == 0.1 and policy.letter(85) == "B"
    assert policy.extensions == {("ada", "01_tensors"): 2.0}


def test_readme_mentions_of_settings_are_real_keys():
    known = set(TOP_LEVEL) | set(TABLES) | set(GRADING_KEYS) | {"digits", "min_tokens", "threshold"}
    known |= {f.name for f in dataclasses.fields(Limits)}
    readme = (ROOT / "README.md").read_text()
    mentioned = set(re.findall(r"`(\w+) = [^`]+`", readme)) - {"max_user_namespaces"}  # a sysctl
    assert "warm" in mentioned
    assert mentioned <= known, mentioned - known


def test_grading_keys_are_the_policy_fields():
    from gradebook.policy import GradingPolicy

    assert set(GRADING_KEYS) == {f.name for f in dataclasses.fields(GradingPolicy)}


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("wram = false\n", r"the top level has unknown keys \['wram'\].*did you mean 'warm'\?"),
        ("[limit]\ncell_timeout = 5\n", r"unknown keys \['limit'\].*did you mean 'limits'\?"),
        ("[limits]\nmemory = 5\n", r"\[limits\] has unknown keys \['memory'\].*did you mean 'memory_mb'\?"),
        ("[similarity]\nmin_token = 5\n", r"\[similarity\] .*did you mean 'min_tokens'\?"),
        ("[grading]\ndrop_lowets = 1\n", r"\[grading\] .*did you mean 'drop_lowest'\?"),
        ("[heldout]\ndigit = 'x.npz'\n", r"\[heldout\] has unknown keys \['digit'\]; known: \['digits'\]"),
        ("colour = 'blue'\n", r"unknown keys \['colour'\]; known: .*; remove it or fix its spelling"),
        ("warm = 'no'\n", r"warm must be true or false, not 'no'"),
        ("workers = true\n", r"workers must be a whole number"),
        ("workers = -1\n", r"workers must be 0"),
        ("seed = 1.5\n", r"seed must be a whole number"),
        ("isolation = 'docker'\n", r"isolation = 'docker' is not one of auto, bwrap, subprocess"),
        ("[limits]\ncell_timeout = 'long'\n", r"\[limits\] cell_timeout must be a positive number"),
        ("limits = 3\n", r"\[limits\] must be a table"),
        ("[grading]\n[grading.x]\n", r"\[grading\] has unknown keys \['x'\]"),
        ("seed = \n", r"not valid TOML"),
    ],
)
def test_bad_settings_name_the_key_its_table_and_the_fix(tmp_path, text, pattern):
    with pytest.raises(SettingsError, match=pattern) as info:
        load_settings(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "gradetape.toml") in message


def test_seed_environment_variable_must_be_a_number(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADETAPE_SECRET_SEED", "not-a-number")
    with pytest.raises(SettingsError, match="GRADETAPE_SECRET_SEED must be a whole number"):
        load_settings(tmp_path)
    monkeypatch.setenv("GRADETAPE_SECRET_SEED", "123456789")
    assert load_settings(tmp_path).seed == 123456789


def test_no_file_means_defaults(tmp_path):
    settings = load_settings(tmp_path)
    assert settings.warm is True and settings.limits == Limits() and settings.grading == {}
