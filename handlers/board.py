"""后台 / board: a member of staff asks for a one-time link to the office board (bot/web).

The link is single use and lasts ten minutes.  Only its SHA-256 is kept (in the kv store, under
``web:link:<hash>``, with the person's config key and the expiry); the board's sign-in page
(``bot/web/auth.py``) looks it up by the same hash and marks it used.  Asked in a group, the core
refuses (``private_only``): a link is as good as a password until it is used.  ``linli web-login
PERSON`` asks for one through ``Core.perform`` and prints it.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from bot.commands import Router
from bot.context import Context, Refusal
from storage.retention import SIGN_IN_LINKS

LINK_PREFIX = SIGN_IN_LINKS  # kv keys of one-time links (pruned by storage/retention.py)
LINK_SECONDS = 600
BOARD_ROLES = ("captain", "property", "committee", "admin")

router = Router("board")
board = router.command("board", zh=["后台"], en=["board"], roles=BOARD_ROLES, private_only=True,
                       group="staff")


@board.handle
async def send_link(ctx: Context) -> None:
    """Staff ask for the board: answer privately with a one-time sign-in link."""
    web = ctx.config.web
    if web is None:
        raise Refusal("board.not_served")
    if ctx.person.key is None:  # roles come from [people]: a resident never gets this far
        raise Refusal("board.not_served")
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    await ctx.tx.kv.put(LINK_PREFIX + digest, json.dumps(
        {"person": ctx.person.key, "expires": ctx.ts + LINK_SECONDS, "used": None}))
    await ctx.record("board.link", f"person:{ctx.person.key}")
    base = web.public_url or f"http://{web.listen}"
    await ctx.reply("board.link", link=f"{base}/login/{token}", minutes=LINK_SECONDS // 60)
