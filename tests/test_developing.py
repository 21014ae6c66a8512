"""docs/DEVELOPING.md's worked example stays true: its handler module, catalogue files and test are
taken from the page, added to a copy of Linli's catalogues and registry, and run."""

from __future__ import annotations

import re
import shutil
import types

import pytest

import bot.i18n
from bot.commands import Registry
from tests.harness import REGISTRY, ROOT, Compound

PAGE = (ROOT / "docs" / "DEVELOPING.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"<!-- example: (?P<path>\S+) -->\n```\w+\n(?P<code>.*?)```", re.S)
EXAMPLE = {m.group("path"): m.group("code") for m in BLOCK.finditer(PAGE)}


def test_the_page_shows_a_whole_change():
    assert set(EXAMPLE) == {"handlers/thanks.py", "bot/locales/zh/thanks.toml",
                            "bot/locales/en/thanks.toml", "tests/test_thanks.py"}


@pytest.fixture
def catalogues_with_the_example(tmp_path, monkeypatch):
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "bot" / "locales", locales)
    for lang in ("zh", "en"):
        (locales / lang / "thanks.toml").write_text(EXAMPLE[f"bot/locales/{lang}/thanks.toml"],
                                                    encoding="utf-8")
    monkeypatch.setattr(bot.i18n, "_ROOT", locales)
    bot.i18n.catalogue.cache_clear()
    yield
    bot.i18n.catalogue.cache_clear()


async def test_the_worked_example_runs_as_the_page_says(tmp_path, catalogues_with_the_example):
    module = types.ModuleType("handlers.thanks")
    exec(compile(EXAMPLE["handlers/thanks.py"], "handlers/thanks.py", "exec"), module.__dict__)
    registry = Registry([*REGISTRY.routers, module.router])
    assert bot.i18n.placeholders(bot.i18n.catalogue("zh")["thanks.received"]) == \
        bot.i18n.placeholders(bot.i18n.catalogue("en")["thanks.received"])
    scenario: dict = {}
    exec(compile(EXAMPLE["tests/test_thanks.py"], "tests/test_thanks.py", "exec"), scenario)
    compound = await Compound.open(tmp_path, registry=registry)
    try:
        await scenario["test_a_resident_thanks_the_captain_of_the_building"](compound)
        sent = await compound.say("dm", "alice", "感谢")
        assert [m.key for m in sent.messages] == ["thanks.usage.thanks"]
    finally:
        await compound.close()
