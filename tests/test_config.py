"""A bad config stops start-up with one clear message that names the key; never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import ConfigError, load_config
from tests.harness import EXAMPLE_CONFIG


def test_the_example_config_is_a_working_compound():
    config = load_config(EXAMPLE_CONFIG)
    assert len(config.building_list()) == 20
    assert {"b3", "all"} <= set(config.chats)
    assert "captain:3" in config.people["wang"].roles
    assert "property" in config.people["zhao"].roles
    assert "admin" in config.people["admin"].roles


@pytest.mark.parametrize(("text", "expected"), [
    ("[compound]\nnmae = 'x'\n", "compound.nmae: unknown key"),
    ("[chats.b3]\nbuilding = '33'\n[buildings]\nnumbered = 20\n", "[chats.b3] building = '33'"),
    ("[people.x]\nroles = ['mayor']\n", "unknown role 'mayor'"),
    ("[people.x]\nroles = ['captain']\n", "needs a building"),
    ("[people.a]\ntelegram = 1\n[people.b]\ntelegram = 1\n", "also used by [people.a]"),
    ("[tickets]\nack_within = 'soon'\n", "not a duration"),
    ("[compound]\ntimezone = 'Mars/Base'\n", "unknown timezone"),
    ("[compound\n", "not valid TOML"),
])
def test_bad_configs_are_named(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_linli_prints_the_problem_and_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[compound]\nnmae = 'x'\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "compound.nmae: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_summarises_a_good_one():
    result = subprocess.run([sys.executable, "-m", "bot", "check-config", "--config",
                             str(EXAMPLE_CONFIG)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "buildings: 20" in result.stdout
