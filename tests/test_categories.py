"""Categories are a config list with their words (issue 13 §5): the defaults in bot/categories.py, an
operator's own in ``[categories.<code>]`` with its zh/en names; filing, receipts and the digest use them."""

from __future__ import annotations

import tomllib

import pytest

from bot.categories import DEFAULTS, category_of
from bot.config import Config, ConfigError, load_config
from bot.digest import gather, render_chart, week_bounds
from tests.harness import EXAMPLE_CONFIG, Compound


def _config_without_categories(tmp_path):
    raw = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    raw.pop("categories")
    return Config(**raw)


@pytest.mark.parametrize(("text", "code"), [
    ("3栋电梯坏了", "elevator"), ("楼上高空抛物", "falling_objects"), ("消防门关不上", "fire_door"),
    ("东门充电桩坏了", "ev_charging"), ("地下室漏水", "leak"), ("又停电了", "water_power"),
    ("楼道灯不亮", "lighting"), ("门禁刷不开", "door_access"), ("湖里有死鱼", "lake"),
    ("狗叫了一晚上", "dogs"), ("楼上太吵", "noise"), ("车位被占", "parking"), ("草坪没人修剪", "greening"),
    ("垃圾没人清", "sanitation"), ("外墙裂了", "other"), ("#噪音 楼道灯坏了", "noise"),
])
def test_without_a_categories_section_the_defaults_file_as_before(tmp_path, text, code):
    config = _config_without_categories(tmp_path)
    assert [c.code for c in config.category_list()] == list(DEFAULTS)
    assert category_of(text, config.category_list()) == category_of(text) == code
    assert config.category_name(code, "zh")  # the catalogue's name


async def test_an_operators_category_files_names_and_groups_in_the_digest(compound: Compound):
    config = compound.config
    assert [c.code for c in config.category_list()].index("bikes") < \
        [c.code for c in config.category_list()].index("ev_charging")
    sent = await compound.say("b3", "alice", "报修 3栋自行车棚的顶棚塌了一块")
    assert sent.keys_to("alice") == ["tickets.acknowledged"]
    assert "非机动车" in sent.to("alice")[0]
    sent = await compound.say("b3", "carol", "/report building 3 bike shed roof is broken")
    assert "Bikes and scooters" in sent.to("carol")[0]
    await compound.say("b3", "bob", "报修 3栋直梯坏了")  # a word added to a default category
    async with compound.app.db.read() as tx:
        assert [(await tx.tickets.get(n)).category for n in (1, 2, 3)] == ["bikes", "bikes", "elevator"]
        start, end = week_bounds("2026-W49", compound.config.tz)
        digest = await gather(compound.config, tx, start, end)
    assert list(digest.categories)[:2] == ["elevator", "bikes"]  # in the configured order
    chart = render_chart(digest, "zh")
    assert chart.drawn["category"]["未结"] == {"电梯": 1, "非机动车": 2}


def test_a_new_category_needs_its_name_and_words_and_a_known_place(tmp_path):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8") + (
        '\n[categories.kiosk]\nen = "Kiosk"\nbefore = "nowhere"\n')
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "[categories.kiosk] before = 'nowhere'" in str(error.value)
    assert "[categories.kiosk]: a new category needs its zh name and its words" in str(error.value)
