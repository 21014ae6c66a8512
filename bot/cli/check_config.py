"""``linli check-config``: validate a config and say what it sets up."""

from __future__ import annotations

from bot.app import configured_platforms
from bot.cli import config_from


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "check-config", parents=[common], help="validate a config file",
        description="Check a config file and print what it sets up. Exits 2 when it is wrong.")
    parser.set_defaults(func=check_config)


async def check_config(args) -> int:
    config = config_from(args)
    platforms = configured_platforms(config) or ["none (use `linli console`)"]
    captains = {r for p in config.people.values() for r in p.roles if r.startswith("captain:")}
    print(f"{config.path}: ok")
    print(f"  compound: {config.compound.name} ({config.compound.timezone}, "
          f"{config.compound.language})")
    print(f"  buildings: {len(config.building_list())}; with a captain: {len(captains)}")
    print(f"  chats: {len(config.chats)}; people: {len(config.people)}")
    print(f"  platforms: {', '.join(platforms)}")
    return 0
