"""``linli check-config``: validate a config and say what it sets up.

With a Telegram token it also asks Telegram about the bot (getMe, and getChatMember for each
configured group), because one setting there decides whether residents can type Chinese command
words: with privacy mode on, a bot in a group only receives /commands, @mentions of it and replies
to it — ``报修 3栋电梯坏了`` typed as text never reaches it, ``/report 3栋电梯坏了`` does.  A bot that
is an admin of the group receives everything either way.  ``--offline`` skips the network.
"""

from __future__ import annotations

import os

from bot.app import configured_platforms
from bot.cli import config_from
from bot.config import Config

PRIVACY_OFF = ("  telegram privacy mode: off — the bot reads every group message, so command words "
               "typed as text (报修 3栋电梯坏了, 受理 12) work in groups as well as /report.")
PRIVACY_ON = (
    "  telegram privacy mode: ON — in groups the bot only receives /commands (/report 3栋电梯坏了), "
    "messages that @mention it and replies to its messages. Chinese command words typed as text "
    "(报修 3栋电梯坏了, 受理 12) never reach it, except in groups where it is an admin.\n"
    "    To let residents type 报修: in @BotFather send /setprivacy, pick the bot, choose Disable, "
    "then remove the bot from each group and add it again (Telegram applies it on joining); "
    "or make the bot an admin of each group.")

NO_CHATS = ("  warning: {path} has no [chats]: the bot will answer in no group (it ignores every group "
            "message and only answers private chats). Add a [chats.<key>] table for each group "
            "(see config.example.toml).")


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "check-config", parents=[common], help="validate a config file",
        description="Check a config file and print what it sets up. With a Telegram token, also "
                    "ask Telegram who the bot is and whether it can read group messages (privacy "
                    "mode). A problem names the file, the line and the key. Exits 2 when the config is "
                    "wrong, 1 when Telegram cannot be reached; warnings (e.g. no [chats]) exit 0.")
    parser.add_argument("--offline", action="store_true",
                        help="only check the file; do not contact Telegram")
    parser.set_defaults(func=check_config)


async def check_config(args) -> int:
    config = config_from(args)
    configured = configured_platforms(config)
    platforms = configured or ["none (use `linli console`)"]
    captains = {r for p in config.people.values() for r in p.roles if r.startswith("captain:")}
    print(f"{config.path}: ok")
    print(f"  compound: {config.compound.name} ({config.compound.timezone}, "
          f"{config.compound.language})")
    print(f"  buildings: {len(config.building_list())}; with a captain: {len(captains)}")
    print(f"  chats: {len(config.chats)}; people: {len(config.people)}")
    print(f"  platforms: {', '.join(platforms)}")
    if not config.chats:
        print(NO_CHATS.format(path=config.path))
    if "telegram" in configured and not getattr(args, "offline", False):
        return await check_telegram(config)
    return 0


async def check_telegram(config: Config) -> int:
    """Ask Telegram who the bot is and what it can read; say what that means for residents."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError

    settings = config.telegram
    token = (settings.token or os.environ.get("LINLI_TELEGRAM_TOKEN", "")).strip()
    try:
        bot = Bot(token, base_url=settings.api_base_url, base_file_url=settings.api_base_file_url)
        async with bot:  # getMe
            me = bot.bot
            print(f"  telegram: @{me.username} (id {me.id}), {settings.mode}, "
                  f"API {settings.api_base_url}")
            if settings.mode == "webhook" and not settings.webhook_url.startswith("https://"):
                print("  telegram: mode = \"webhook\" needs webhook_url = the public https:// address "
                      "Telegram should call (ports 443, 80, 88 or 8443), e.g. behind a reverse proxy")
            if me.can_join_groups is False:
                print("  telegram: the bot cannot be added to groups (@BotFather → /setjoingroups "
                      "→ Enable)")
            private = not me.can_read_all_group_messages
            print(PRIVACY_ON if private else PRIVACY_OFF)
            for key, chat in config.chats.items():
                if chat.telegram is not None:
                    print(await _group_line(bot, me.id, key, chat.telegram, private, TelegramError))
    except InvalidToken as exc:
        print(f"  telegram: the token is not accepted ({exc}). Copy it again from @BotFather "
              "(/mybots → API Token) into [telegram] token or LINLI_TELEGRAM_TOKEN.")
        return 2
    except NetworkError as exc:
        print(f"  telegram: cannot reach {settings.api_base_url} ({exc}). Check the network, a "
              "proxy, and [telegram] api_base_url.")
        return 1
    return 0


async def _group_line(bot, bot_id: int, key: str, chat_id: int, private: bool, error) -> str:
    where = f"    [chats.{key}] telegram = {chat_id}:"
    try:
        member = await bot.get_chat_member(chat_id, bot_id)
    except error as exc:
        return f"{where} cannot check ({exc}); is the bot in this group, and is the id right?"
    if member.status in ("administrator", "creator"):
        return f"{where} the bot is an admin: it reads every message."
    if member.status in ("left", "kicked"):
        return f"{where} the bot is not in this group: add it."
    if private:
        return f"{where} a member with privacy mode on: only /commands and @mentions reach it."
    return f"{where} a member: it reads every message."
