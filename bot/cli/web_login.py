"""``linli web-login PERSON``: print a one-time sign-in link to the office board, for the operator.

The same link ``后台`` / ``/board`` sends in a private chat (handlers/board.py), made through
``Core.perform``: the person must hold a board role (captain, property, committee, admin), the link
works once, for ten minutes, and asking for it is audited.  Needs ``[web]`` in the config.
"""

from __future__ import annotations

import sys

from bot.app import App
from bot.cli import config_from, db_from


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "web-login", parents=[common], help="print a one-time sign-in link to the office board",
        description="Print a sign-in link to the office board ([web]) for a person from [people] "
                    "with a board role; it works once, within ten minutes.")
    parser.add_argument("person", help="a key from [people], e.g. admin")
    parser.set_defaults(func=web_login)


async def web_login(args) -> int:
    config = config_from(args)
    if config.web is None:
        print("linli web-login: no [web] section in the config: the board is not served",
              file=sys.stderr)
        return 2
    if args.person not in config.people:
        print(f"linli web-login: no person {args.person!r} in [people] (there are: "
              f"{', '.join(sorted(config.people)) or 'none'})", file=sys.stderr)
        return 2
    app = App.create(config, db_from(args), ["console"], adapters={})
    await app.open()
    try:
        answers = await app.core.perform(args.person, "board", "")
    finally:
        await app.stop()
    links = [a.values["link"] for a in answers if a.key == "board.link"]
    if not links:
        print("linli web-login: " + " ".join(a.text for a in answers), file=sys.stderr)
        return 1
    print(links[0])
    return 0
