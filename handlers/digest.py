"""The weekly digest (每周简报): 件件有回音, made visible.

Every week at ``[digest] weekday`` + ``time`` (Monday 08:00 by default) a sweep sends last week's
digest (bot/digest.py): each building's group gets its own numbers — tickets reported, acknowledged,
resolved and still open, median times to acknowledge and to resolve, the oldest open tickets by
number, volunteer hours and rota shifts covered; the compound-wide groups and the owners' committee
get the same for every building, with a chart.  A building with nothing to report that week gets no
post, and a week with nothing at all sends nothing.  The audit row ``digest:<week>`` is written in
the same transaction as the outbox rows, so a restart never sends a week twice; a digest missed by
more than ``grace`` (the bot was down) is not sent late.  ``周报`` / ``/digest [2026-W48]`` gives
staff the compound digest and chart on demand.
"""

from __future__ import annotations

import asyncio
import base64
import re
import weakref
from datetime import datetime, timedelta

from bot.commands import Router
from bot.context import Context, Notifier, Refusal
from bot.digest import Digest, building_text, compound_text, gather, render_chart, week_before, week_bounds
from bot.i18n import t
from bot.messages import Attachment

router = Router("digest")
digest_command = router.command("digest", zh=["周报", "简报"], en=["digest"],
                            roles=("committee", "property", "admin"), group="announcements")
_WEEK = re.compile(r"^\s*(\d{4})\s*-?\s*[wW]\s*(\d{1,2})\s*$")
_woken: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@digest_command.handle
async def digest_on_demand(ctx: Context) -> None:
    """Staff ask for a week's compound digest (last week by default), with its chart."""
    week = ctx.args.strip() or week_before(ctx.now)
    match = _WEEK.match(week)
    if not match:
        raise Refusal("digest.bad_week", week=week[:20])
    week = f"{match.group(1)}-W{int(match.group(2)):02d}"
    try:
        start, end = week_bounds(week, ctx.config.tz)
    except ValueError as exc:
        raise Refusal("digest.bad_week", week=week) from exc
    digest = await gather(ctx.config, ctx.tx, start, end, ctx.config.digest.oldest_open)
    photo = await chart_attachment(digest, ctx.lang)
    await reply_with_photo(ctx, compound_text(digest, ctx.lang), photo)


@router.sweep("digest.weekly")
async def weekly_digest(core, now: datetime) -> None:
    """Send last week's digest once, at the configured moment (late only within the grace)."""
    settings = core.config.digest
    if not settings.enabled:
        return
    moment = last_moment(now, settings.day_number, settings.at)
    wake_next(core, moment + timedelta(days=7))
    if now - moment > settings.grace:
        return
    week = week_before(moment)
    key = f"digest:{week}"
    async with core.db.read() as tx:
        if await tx.audit.about(key):
            return
        start, end = week_bounds(week, core.config.tz)
        digest = await gather(core.config, tx, start, end, settings.oldest_open)
    if digest.compound.quiet:
        return  # nothing reported, nothing open, no volunteering: no digest to send
    await send_digest(core, now, digest, key)


async def send_digest(core, now: datetime, digest: Digest, key: str) -> None:
    """Write every post of one week's digest to the outbox, with the audit row, in one transaction."""
    charts = {}
    for lang in wide_languages(core):
        charts[lang] = await chart_attachment(digest, lang)  # rendered before the transaction
    async with core.db.transaction() as tx:
        if await tx.audit.about(key):
            return  # another pass got there first
        notifier = Notifier(core, tx, now)
        posts = 0
        for chat_key, chat in core.config.chats.items():
            week = digest.buildings.get(chat.building) if chat.building else None
            if week is None or week.quiet:
                continue
            lang = core.language_of_chat(chat_key)
            posts += await notifier.post_text(chat_key, building_text(digest, chat.building, lang),
                                              key="digest.header_building", ref=key, lang=lang)
        for chat_key in wide_chats(core):
            lang = core.language_of_chat(chat_key)
            posts += await notifier.post_text(chat_key, compound_text(digest, lang),
                                              key="digest.header_compound", ref=key, lang=lang,
                                              attachments=[charts[lang]])
        if core.config.digest.committee:
            committee = await core.person_ids(tx, core.people_with_role("committee"))
            for person_id in committee:
                lang = await notifier.language_of(person_id)
                photo = charts.get(lang) or await chart_attachment(digest, lang)
                posts += await tell_with_photo(notifier, person_id, compound_text(digest, lang),
                                               photo, key)
        await notifier.audit(None, None, "digest.sent", key, f"{posts} posts")


# --- helpers ------------------------------------------------------------------------------------
def last_moment(now: datetime, weekday: int, at) -> datetime:
    """The latest configured digest moment at or before ``now``."""
    day = now - timedelta(days=(now.weekday() - weekday) % 7)
    moment = day.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return moment if moment <= now else moment - timedelta(days=7)


def wake_next(core, moment: datetime) -> None:
    woken = _woken.setdefault(core, set())
    if moment.timestamp() not in woken:
        woken.add(moment.timestamp())
        core.wake_at(moment)


def wide_chats(core) -> list[str]:
    """The groups that get the whole compound's digest and chart."""
    chosen = core.config.digest.chart_chats
    if chosen is not None:
        return list(chosen)
    return [k for k, c in core.config.chats.items() if c.building is None]


def wide_languages(core) -> set[str]:
    return {core.language_of_chat(k) for k in wide_chats(core)}


async def chart_attachment(digest: Digest, lang: str) -> Attachment:
    """The digest's chart as a photo attachment (rendered off the event loop)."""
    chart = await asyncio.to_thread(render_chart, digest, lang)
    return Attachment("photo", caption=t(lang, "digest.caption"),
                      filename=f"digest-{digest.week}.png",
                      content=base64.b64encode(chart.png).decode("ascii"))


async def tell_with_photo(notifier: Notifier, person_id: int, text: str, photo: Attachment,
                          ref: str) -> int:
    """Send ``text`` with ``photo`` privately to a person; 1 if they can be reached, else 0."""
    told = await notifier.tell_text(person_id, text, key="digest.header_compound", ref=ref,
                                    attachments=(photo,))
    return int(told)


async def reply_with_photo(ctx: Context, text: str, photo: Attachment) -> None:
    """Answer in the chat the command came from, with the chart."""
    await ctx.reply_text(text, key="digest.header_compound", attachments=(photo,))
