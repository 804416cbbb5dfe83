"""One place for settings: defaults, environment, config file; every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from tracker.exceptions import ConfigError
from tracker.settings import SETTINGS, env_name, load_settings


def test_defaults_environment_and_overrides(tmp_path: Path) -> None:
    env = {"TRACKER_DATA_DIR": str(tmp_path), "TRACKER_BATCH_SIZE": "50", "TRACKER_ARCHIVE": "no"}
    settings = load_settings(env=env)
    assert settings.batch_size == 50
    assert settings.archive is False
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert settings.resolved_archive_dir == tmp_path / "archive"
    assert load_settings({"batch_size": 7}, env=env).batch_size == 7


def test_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'contact = "newsroom@example.org"\nlookback_hours = 24\n', encoding="utf-8"
    )
    settings = load_settings(env={"TRACKER_DATA_DIR": str(tmp_path)})
    assert settings.lookback_hours == 24
    assert settings.full_user_agent.endswith("+newsroom@example.org")
    env = {"TRACKER_DATA_DIR": str(tmp_path), "TRACKER_LOOKBACK_HOURS": "12"}
    assert load_settings(env=env).lookback_hours == 12  # the environment wins


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKER_BATCH_SIZE": "lots"}, "TRACKER_BATCH_SIZE: batch_size must be int"),
        ({"TRACKER_ARCHIVE": "maybe"}, "archive must be bool"),
        ({"TRACKER_CONFIG": "/nonexistent/config.toml"}, "not a file"),
    ],
)
def test_bad_values_are_config_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_unknown_key_in_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("batchsize = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'batchsize'"):
        load_settings(env={"TRACKER_DATA_DIR": str(tmp_path)})


def test_every_setting_is_documented() -> None:
    docs = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for field in SETTINGS:
        assert f"`{env_name(field.name)}`" in docs, field.name
        assert str(field.metadata["help"]).split(" (")[0][:40] in docs, field.name
