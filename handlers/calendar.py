"""日历链接 / calendar: a private calendar URL for one's shifts and events (served by bot/web).

``日历链接`` answers privately with ``<public_url>/calendar/<token>.ics``: the office board serves
it as iCalendar (bot/ical.py) with the person's duty shifts and the events they signed up for, read
fresh on every request, so a phone calendar subscribed to it follows swaps, takes and sign-ups.
Asking again gives the same URL; ``日历链接 重置`` (``/calendar reset``) makes a new one and the old
one stops working at once (a link forwarded by mistake is revoked so).  Asked in a group, the link
goes privately and the group hears only that it was sent.  The token lives in ``calendar_feeds``
(storage/board.py, migration 0015); it is the capability, like any calendar app's secret address.
"""

from __future__ import annotations

import secrets

from bot.commands import Router
from bot.context import Context, Refusal

RESET_WORDS = {"重置", "重新生成", "撤销", "reset", "revoke", "new"}

router = Router("calendar")
calendar = router.command("calendar", zh=["日历链接", "日历订阅"], en=["calendar"], group="rota")


def feed_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/calendar/{token}.ics"


@calendar.handle
async def calendar_link(ctx: Context) -> None:
    """Someone asks for their calendar URL (or a new one, revoking the old)."""
    web = ctx.config.web
    if web is None:
        raise Refusal("calendar.not_served")
    word = ctx.args.strip().lower()
    reset = word in RESET_WORDS
    if word and not reset:
        raise Refusal("calendar.usage")
    token = None if reset else await ctx.tx.calendar.token_of(ctx.person.id)
    if token is None:
        token = secrets.token_urlsafe(24)
        await ctx.tx.calendar.set_token(ctx.person.id, token, ctx.ts)
        await ctx.record("calendar.reset" if reset else "calendar.link", f"person:{ctx.person.id}")
    url = feed_url(web.public_url or f"http://{web.listen}", token)
    key = "calendar.reset" if reset else "calendar.link"
    if not ctx.in_group:
        await ctx.reply(key, link=url)
    elif await ctx.tell(ctx.person.id, key, link=url):
        await ctx.reply("calendar.in_private")
    else:
        await ctx.reply("calendar.write_privately")
