"""``linli do PERSON COMMAND [ARGS…]``: perform a command for a configured person, without a chat.

The same path as a chat message (``Core.perform``): the person's roles are checked, the action is
audited, the people it concerns are notified through the outbox (a running ``linli run`` delivers
it), all in one transaction; the answers the person would have seen are printed here.  This is
the office's way in from outside the chats (the office board will call the same method)::

    linli do wang 受理 12 明天上午来修
    linli do admin open          # 待办, by the command's name
"""

from __future__ import annotations

import sys

from bot.app import App, configured_platforms
from bot.cli import config_from, db_from


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "do", parents=[common], help="perform a command for a configured person (no chat needed)",
        description="Perform a command on behalf of a person from [people], with the same role "
                    "checks, audit and notifications as in a chat, and print the answer.")
    parser.add_argument("person", help="a key from [people], e.g. wang")
    parser.add_argument("command_word", metavar="COMMAND",
                        help="a command's name or word, e.g. ack, 受理, /ack")
    parser.add_argument("words", nargs="*", metavar="ARGS", help="the command's arguments")
    parser.set_defaults(func=do)


async def do(args) -> int:
    config = config_from(args)
    if args.person not in config.people:
        print(f"linli do: no person {args.person!r} in [people] (there are: "
              f"{', '.join(sorted(config.people)) or 'none'})", file=sys.stderr)
        return 2
    app = App.create(config, db_from(args), configured_platforms(config) or ["console"],
                     adapters={})
    word = args.command_word.lstrip("/／")
    command = app.core.registry.commands.get(word) or app.core.registry.command_with_word(word)
    if command is None:
        print(f"linli do: no command {args.command_word!r}", file=sys.stderr)
        return 2
    await app.open()
    try:
        answers = await app.core.perform(args.person, command.name, " ".join(args.words))
    finally:
        await app.stop()
    for answer in answers:
        print(answer.text)
    return 0
