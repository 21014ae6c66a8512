"""Satisfaction after a repair (满意度回访), as the 12345 hotlines ask every caller.

When a ticket is confirmed by its reporter (确认) or closes itself after the resolved days, the
reporter is asked once, privately: 满意 / 基本满意 / 不满意 (buttons on Telegram), or 1-5.  They
answer with a plain reply to the question (anything else is answered as any private message is,
so a new problem written in plain words is not lost), or any time later with ``评价 12 满意`` /
``/rate 12 5``.
Rating again changes the rating (the answer says from what to what).  不满意 (1-2) tells property,
with the ticket number, so somebody calls back.  4-5 count as 满意, 3 as 基本满意; the share
satisfied ((满意 + 基本满意) / rated) per category and per captain (who resolved the ticket) is in
the weekly digest and in ``linli export tickets``.

A confirmed ticket asks at once (``ticket.closed``, emitted by handlers/tickets.py); a ticket that
closed itself is asked by the sweep here, at its next tick.  ``ticket_satisfaction`` remembers
that the reporter was asked, so nobody is asked twice.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.commands import Router
from bot.context import ButtonSpec, Context, Notifier, Refusal
from bot.i18n import t
from storage.satisfaction import level
from storage.tickets import Ticket

ASK_FOR = 3 * 86400  # seconds a plain reply to the question counts as the rating
ASK_CLOSED_WITHIN = 2 * 86400  # the sweep asks about tickets closed this recently (not older ones)

# Words people answer with, longest first ("不满意" contains "满意"); numbers are read separately.
WORDS: tuple[tuple[str, int], ...] = (
    ("非常不满意", 1), ("很不满意", 1), ("不太满意", 2), ("不满意", 1), ("不满", 1), ("差评", 1),
    ("基本满意", 3), ("还行", 3), ("一般", 3), ("比较满意", 4), ("非常满意", 5), ("很满意", 5),
    ("满意", 5), ("好评", 5),
    ("very dissatisfied", 1), ("not satisfied", 1), ("dissatisfied", 1), ("unsatisfied", 1),
    ("unhappy", 1), ("basically satisfied", 3), ("fairly satisfied", 3), ("okay", 3), ("ok", 3),
    ("very satisfied", 5), ("satisfied", 5), ("happy", 5),
)
_DIGIT = re.compile(r"^\s*([1-5１-５])\s*(?:分|星|stars?|/\s*5)?\s*$", re.IGNORECASE)

router = Router("satisfaction")
rate = router.command("rate", zh=["评价"], en=["rate"], needs_number=True, group="tickets")


def rating_of(text: str) -> int | None:
    """1-5 from ``5``, ``５分``, ``⭐⭐⭐``, ``满意``, ``基本满意``, ``不满意``, ``satisfied`` …"""
    text = text.strip().strip("。.!！").strip()
    if not text:
        return None
    match = _DIGIT.match(text)
    if match:
        return int(match.group(1).translate(str.maketrans("１２３４５", "12345")))
    stars = text.replace("\ufe0f", "")
    if stars and set(stars) <= {"⭐", "★"} and len(stars) <= 5:
        return len(stars)
    lowered = text.lower()
    for word, value in WORDS:
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", lowered):
            return value
    return None


def level_name(rating: int, lang: str) -> str:
    return t(lang, f"satisfaction.level.{level(rating)}")


@rate.handle
async def rate_ticket(ctx: Context) -> None:
    """The reporter rates a closed ticket: ``评价 12 满意`` / ``/rate 12 4``."""
    number = ctx.number_in("satisfaction", "rate")
    ticket = await _rateable(ctx, number)
    given = re.sub(r"^\s*[#＃]?\s*[0-9０-９]+\s*", "", ctx.args, count=1).strip()
    if not given:  # 评价 12: ask, with the buttons
        await ask(ctx, ticket, again=True)
        if not ctx.in_group:
            return
        await ctx.reply("satisfaction.asked_privately", number=ticket.id)
        return
    rating = rating_of(given)
    if rating is None:
        raise Refusal("satisfaction.bad_rating", number=ticket.id, given=given[:20])
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    if prompt is not None and prompt.kind == "satisfaction.rating":
        await ctx.done_asking()
    await apply(ctx, ticket, rating)


@router.reply("satisfaction.rating")
async def rating_given(ctx: Context) -> None:
    """The reporter answers the question with 满意 / 基本满意 / 不满意 or 1-5 (or a button)."""
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    await ctx.done_asking()
    number = int(prompt.payload["ticket"])
    rating = rating_of(ctx.msg.text)
    if rating is None:  # something else (a new problem, a question): answered as any private
        conversation = ctx.core.registry.replies.get("private")  # message is, never swallowed
        if conversation is not None and not ctx.in_group:
            await conversation(ctx)
            return
        raise Refusal("satisfaction.not_a_rating", number=number)
    await apply(ctx, await _rateable(ctx, number), rating)


@router.on("ticket.closed")
async def ticket_closed(ctx: Context, ticket: int) -> None:
    """A ticket was confirmed by its reporter: ask them, once, how satisfied they are."""
    found = await ctx.tx.tickets.get(ticket)
    if found is not None:
        await ask(ctx, found)


@router.sweep("satisfaction.ask")
async def ask_after_closing(core, now: datetime) -> None:
    """Tickets that closed themselves (nobody confirmed) ask their reporter too, once."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for ticket in await tx.satisfaction.closed_unasked(notifier.ts - ASK_CLOSED_WITHIN):
            await ask(notifier, ticket)


# --- helpers ------------------------------------------------------------------------------------
async def _rateable(ctx: Context, number: int) -> Ticket:
    ticket = await ctx.tx.tickets.get(number)
    if ticket is None or ticket.status == "draft":
        raise Refusal("satisfaction.not_found", number=number)
    if ticket.reporter_id != ctx.person.id:
        raise Refusal("satisfaction.only_reporter", audit="denied", target=f"ticket:{ticket.id}",
                      number=ticket.id)
    if ticket.status != "closed":
        raise Refusal("satisfaction.not_closed", number=ticket.id,
                      status=ctx.t(f"tickets.status.{ticket.status}"))
    return ticket


async def ask(ctx: Notifier, ticket: Ticket, again: bool = False) -> None:
    """Ask the reporter privately to rate ``ticket`` (once, unless they asked for it: ``again``);
    their next plain message in that private chat is the answer."""
    if not await ctx.tx.satisfaction.mark_asked(ticket.id, ctx.ts) and not again:
        return
    lang = await ctx.language_of(ticket.reporter_id)
    buttons = tuple(ButtonSpec(f"satisfaction.button.{name}", "rate", f"{ticket.id} {value}")
                    for name, value in (("satisfied", 5), ("basically_satisfied", 3),
                                        ("dissatisfied", 1)))
    told = await ctx.tell(ticket.reporter_id, "satisfaction.ask", ref=f"ticket:{ticket.id}",
                          buttons=buttons, number=ticket.id,
                          category=ctx.config.category_name(ticket.category, lang))
    address = await ctx.core.private_address(ctx.tx, ticket.reporter_id) if told else None
    if address is not None:
        await ctx.tx.prompts.ask(ticket.reporter_id, address[0], address[1], "satisfaction.rating",
                                 {"ticket": ticket.id}, ctx.ts + ASK_FOR)


async def apply(ctx: Context, ticket: Ticket, rating: int) -> None:
    """Record the rating; say so (or what it changed from); 不满意 tells property."""
    before = await ctx.tx.satisfaction.get(ticket.id)
    previous = before.rating if before is not None else None
    if previous == rating:
        await ctx.reply_private("satisfaction.same", number=ticket.id,
                                level=level_name(rating, ctx.lang), rating=rating)
        return
    await ctx.tx.satisfaction.rate(ticket.id, rating, ctx.ts)
    await ctx.record("ticket.rate", f"ticket:{ticket.id}", str(rating))
    if previous is None:
        await ctx.reply_private("satisfaction.thanks", number=ticket.id,
                                level=level_name(rating, ctx.lang), rating=rating)
    else:
        await ctx.reply_private("satisfaction.changed", number=ticket.id, rating=rating,
                                before=level_name(previous, ctx.lang),
                                level=level_name(rating, ctx.lang))
    if level(rating) == "dissatisfied" and (previous is None or level(previous) != "dissatisfied"):
        await tell_property(ctx, ticket, rating)


async def tell_property(ctx: Context, ticket: Ticket, rating: int) -> None:
    """A 不满意: property hears of it with the ticket number, to call back (the admin when the
    compound has no property)."""
    rated = await ctx.tx.satisfaction.get(ticket.id)
    handler = await ctx.tx.people.get(rated.handler_id) if rated and rated.handler_id else None
    building = ctx.core.building(ticket.building)
    area = ctx.core.area(ticket.area)
    values = dict(number=ticket.id, rating=rating,
                  place=building.name if building else area.name if area else "-",
                  handler=handler.name if handler else "-")
    for role in ("property", "admin"):
        if await ctx.tell_role(role, "satisfaction.unhappy", ref=f"ticket:{ticket.id}", **values):
            return
