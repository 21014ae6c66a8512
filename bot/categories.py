"""Categories of reports: the defaults, and the order and words ``[categories]`` in the config makes of
them (issue 13 §5: 电梯, 漏水, 水电, 门禁, 照明, 消防, 绿化, 停车, 噪音, 宠物, 高空抛物, 充电桩,
环境卫生, 其他 …).

A report is filed under the category a ``#tag`` names, else the first category, in order, one of whose
words appears in it, else ``other``.  The default categories keep their names in the message
catalogues (``tickets.category.<code>``); a category the operator adds (or renames) carries its own
``zh`` / ``en`` names in the config.  The digest groups by these codes::

    [categories.bikes]                 # a category of the operator's own
    zh = "非机动车"
    en = "Bikes and scooters"
    words = ["共享单车", "自行车棚", "bike shed"]
    before = "parking"                 # tried before 停车 (default: just before 其他)

    [categories.elevator]              # a default one: more words (its own are kept)
    words = ["直梯"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.i18n import has, t

# code → (words, #tags), in the order they are tried: the first whose words appear wins.
DEFAULTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "falling_objects": (("高空抛物", "抛物", "坠物", "高空坠", "thrown from", "falling object",
                         "thrown out", "throwing"), ("高空抛物",)),
    "fire_door": (("消防门", "防火门", "消防通道", "安全出口", "fire door", "firedoor", "fire exit"),
                  ("消防门", "防火门", "firedoor")),
    "elevator": (("电梯", "扶梯", "elevator", "lift"), ("电梯",)),
    "ev_charging": (("充电桩", "充电", "charging", "charger", "ev "), ("充电桩", "ev")),
    "leak": (("漏水", "渗水", "淹了", "积水", "水管爆", "爆管", "滴水", "leak", "flood"), ("漏水",)),
    "water_power": (("停水", "停电", "没水", "没电", "断电", "跳闸", "水压", "power cut", "no water",
                     "blackout", "no power"), ("停水", "停电")),
    "lighting": (("楼道灯", "路灯", "照明", "灯不亮", "灯坏", "灯", "light", "lamp"), ("照明",)),
    "door_access": (("门禁", "单元门", "门卡", "刷卡", "大门", "道闸", "gate", "door lock",
                     "access card"), ("门禁",)),
    "lake": (("人工湖", "湖水", "湖里", "湖", "lake", "pond"), ("人工湖",)),
    "dogs": (("狗", "犬", "宠物", "dog", "barking", "pet "), ("狗", "犬", "dog")),
    "noise": (("噪音", "噪声", "太吵", "吵", "装修声", "noise", "noisy", "loud"), ("噪音",)),
    "parking": (("停车", "车位", "占道", "parking", "parked"), ("停车",)),
    "greening": (("绿化", "草坪", "树枝", "修剪", "花坛", "tree", "lawn", "grass"), ("绿化",)),
    "sanitation": (("卫生", "垃圾", "清洁", "脏", "臭", "垃圾桶", "garbage", "trash", "rubbish",
                    "dirty", "litter", "smell"), ("卫生", "垃圾")),
    "other": ((), ("其他",)),
}
_TAG = re.compile(r"[#＃]([\w\u4e00-\u9fff]+)")


@dataclass(frozen=True)
class Category:
    code: str
    words: tuple[str, ...]
    tags: tuple[str, ...]
    zh: str = ""  # the operator's names; empty: the catalogue's tickets.category.<code>
    en: str = ""

    def name(self, lang: str) -> str:
        own = self.en if lang == "en" else self.zh
        if own:
            return own
        key = f"tickets.category.{self.code}"
        return t(lang, key) if has(lang, key) or has("zh", key) else (self.zh or self.en or self.code)


def default_list() -> tuple[Category, ...]:
    return tuple(Category(code, words, tags) for code, (words, tags) in DEFAULTS.items())


def merged(configured: dict) -> tuple[Category, ...]:
    """The categories in the order they are tried: the defaults, each with what the config adds to
    it (more words and tags, its own names), and the operator's new ones before ``before`` (default:
    just before ``other``).  ``configured`` maps a code to its ``CategorySettings``."""
    order = list(DEFAULTS)
    found: dict[str, Category] = {c.code: c for c in default_list()}
    for code, given in configured.items():
        old = found.get(code)
        words = tuple(w.lower() for w in given.words)
        tags = tuple(given.tags) + (given.zh,) * bool(given.zh) + (given.en.lower(),) * bool(given.en)
        if old is not None:
            found[code] = Category(code, old.words + words, old.tags + tags, given.zh, given.en)
            continue
        found[code] = Category(code, words, tags, given.zh, given.en)
        before = given.before if given.before in order else "other"  # the config check says why
        order.insert(order.index(before), code)
    return tuple(found[code] for code in order)


def category_of(text: str, categories: tuple[Category, ...] | None = None) -> str:
    """The category a #tag names, else the first whose words appear in the text, else ``other``."""
    categories = categories if categories is not None else _DEFAULT_LIST
    tags = _tags(categories)
    for tag in _TAG.findall(text):
        if tag.lower() in tags:
            return tags[tag.lower()]
    lowered = f" {text.lower()} "
    for category in categories:
        if any(word in lowered for word in category.words):
            return category.code
    return "other"


_DEFAULT_LIST = default_list()
_TAGS_OF: dict[int, tuple[tuple[Category, ...], dict[str, str]]] = {}


def _tags(categories: tuple[Category, ...]) -> dict[str, str]:
    """#tag → code: each category's code and tags (the first category to claim a tag keeps it)."""
    known = _TAGS_OF.get(id(categories))  # by identity: hashing the tuple costs more than this
    if known is not None and known[0] is categories:
        return known[1]
    found: dict[str, str] = {}
    for category in categories:
        for tag in (category.code, *category.tags):
            found.setdefault(tag.lower(), category.code)
    if len(_TAGS_OF) >= 16:
        _TAGS_OF.clear()
    _TAGS_OF[id(categories)] = (categories, found)
    return found
