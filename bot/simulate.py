"""A simulated compound: many residents, captains, property and the committee, on a manual clock.

``compound_toml`` / ``compound_config`` describe the 20-building compound the benchmarks and the
simulated month use: one group chat per building plus a compound-wide one, a captain (楼长) per
building, two property staff (物业), the owners' committee (业委会), a coordinator and the admin.
"""

from __future__ import annotations

import tomllib

from bot.config import Config

PROPERTY = ("prop1", "prop2")
COMMITTEE = ("chen",)


GROUP_IDS = -1002000000  # Telegram ids when asked for: group b<n> is GROUP_IDS - n
PERSON_IDS = {"cap": 3000, "prop": 3100, "chen": 3201, "coord": 3301, "office": 3401}


def telegram_id(key: str) -> int:
    """The Telegram id the simulated compound gives a chat or person key (``b3``, ``cap3``)."""
    if key == "all":
        return GROUP_IDS
    if key.startswith("b") and key[1:].isdigit():
        return GROUP_IDS - int(key[1:])
    for prefix, base in PERSON_IDS.items():
        if key.startswith(prefix):
            rest = key[len(prefix):]
            return base + (int(rest) if rest.isdigit() else 0)
    raise KeyError(key)


def compound_toml(buildings: int = 20, *, telegram_token: str = "", api_base_url: str = "",
                  telegram_ids: bool = False) -> str:
    """The TOML text of the simulated compound.  Without a token it runs headless; with
    ``telegram_ids`` every chat and listed person gets a Telegram id (see :func:`telegram_id`)."""
    def ids(key: str) -> list[str]:
        return [f"telegram = {telegram_id(key)}"] if telegram_ids or telegram_token else []

    lines = [
        "[compound]", 'name = "富丰新城"', 'timezone = "Asia/Shanghai"', 'language = "zh"', "",
        "[buildings]", f"numbered = {buildings}", "",
        "[tickets]", 'ack_within = "4h"', 'escalate_again_after = "4h"',
        'waking_hours = "07:00-22:00"', 'auto_close_after = "3d"', "",
    ]
    if telegram_token:
        lines += ["[telegram]", f'token = "{telegram_token}"', f'api_base_url = "{api_base_url}"',
                  "poll_timeout = 1", ""]
    lines += ["[chats.all]", 'name = "富丰新城业主群"', *ids("all"), ""]
    for n in range(1, buildings + 1):
        lines += [f"[chats.b{n}]", f'name = "{n}栋邻里群"', f'building = "{n}"', *ids(f"b{n}"), ""]
    for n in range(1, buildings + 1):
        lines += [f"[people.cap{n}]", f'name = "{n}栋楼长"', f'roles = ["captain:{n}"]',
                  *ids(f"cap{n}"), ""]
    for i, key in enumerate(PROPERTY, 1):
        lines += [f"[people.{key}]", f'name = "物业{i}"', 'roles = ["property"]', *ids(key), ""]
    lines += ["[people.chen]", 'name = "陈主任"', 'roles = ["committee"]', *ids("chen"), ""]
    lines += ["[people.coord]", 'name = "孙老师"', 'roles = ["coordinator"]', *ids("coord"), ""]
    lines += ["[people.office]", 'name = "社区办"', 'roles = ["admin"]', *ids("office"), ""]
    return "\n".join(lines)


def compound_config(buildings: int = 20, **options) -> Config:
    """The simulated compound's config (options as for :func:`compound_toml`)."""
    return Config(path="<simulated>", **tomllib.loads(compound_toml(buildings, **options)))
