"""Duty rotas (值班): rotations, swaps, time away, uncovered shifts, reminders and broadcasts.

A coordinator sets a rota up in one line — ``排班 门岗值守 每天 8:00-12:00 孙老师 李阿姨 alice bob``
— and shifts are made from the rotation a few weeks ahead (a sweep keeps them that far ahead),
skipping anyone away (请假); ``排班 门岗值守 12月24日 18:00-22:00 [who]`` adds a one-off shift.
Rotas may also come from the config (``[rota.<key>]``), which adds
their chats, reminder lead time, whether swaps need a coordinator's approval, and broadcasts.
Anyone asks who is on duty (值班 明天); members see their own shifts (我的值班), or get them as an
.ics calendar file (我的值班 日历).  A member asks someone in the rota to take or trade a shift
(换班 N 名字 [M]); that person accepts or declines with a reply or a button, and a coordinator
approves when the rota says so.  A declined take-over, or a shift of someone away, is uncovered:
every other member hears about it privately and the first to answer 接班 N takes it; still uncovered
a while before it starts (``escalate_uncovered``, then ``escalate_admin``), it goes to the coordinators
and then to the admin, once each.  Sweeps remind
each person before their shift and post the rota's broadcasts (tonight: tomorrow's duty; this
morning: today's; once a week: next week's table), each remembered in the database so it is posted
once however often the bot restarts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache

from bot.commands import Router
from bot.config import RotaSettings
from bot.context import ButtonSpec, Context, Notifier, Refusal
from bot.format import clock, format_span, join, moment_with_weekday, repeat_line, when_values
from bot.i18n import t, template
from bot.ical import Entry, calendar_text
from bot.messages import Attachment
from bot.parser import guess_language, leading_number
from bot.when import WhenProblem, parse_day, parse_moment, parse_repeat, parse_until
from storage.people import Person
from storage.rota import Rota, Shift, Swap

COORDINATORS = ("coordinator",)  # admins pass every role check too
DEFAULT_REMIND = timedelta(hours=2)
RANGES = {"今天": "today", "今日": "today", "today": "today", "明天": "tomorrow",
          "明日": "tomorrow", "tomorrow": "tomorrow", "本周": "week", "这周": "week",
          "这星期": "week", "本星期": "week", "week": "week", "thisweek": "week", "下周": "nextweek",
          "下星期": "nextweek", "nextweek": "nextweek", "现在": "now", "此刻": "now", "目前": "now",
          "当前": "now", "正在": "now", "now": "now", "rightnow": "now", "currently": "now"}
LINKING_WORDS = {"和", "及", "与", "跟", "还有", "and", "&", "+"}
NEXT_SHIFTS = 5  # 值班 <rota>: how many of its next shifts are shown
ROTATIONS = {"按天": "daily", "每天轮换": "daily", "daily": "daily", "按周": "weekly",
             "每周轮换": "weekly", "weekly": "weekly"}
CALENDAR_WORDS = {"日历", "ical", "ics", "calendar"}
YES = {"好", "好的", "好啊", "可以", "行", "没问题", "我来", "我可以", "同意", "接受", "ok", "okay", "yes",
       "sure", "y", "illtakeit", "i'lltakeit"}
NO = {"不行", "不可以", "不了", "没空", "不换", "拒绝", "不", "no", "n", "sorry", "cant", "can't"}
_WEEKS = re.compile(r"^(?P<n>[0-9]{1,2})\s*(?:周|个星期|weeks?)$", re.IGNORECASE)

router = Router("rota")
rota_command = router.command("rota", zh=["值班", "值班表"], en=["rota", "duty"], group="rota")
my_shifts = router.command("myshifts", zh=["我的值班"], en=["myshifts"], group="rota")
swap_command = router.command("swap", zh=["换班"], en=["swap"], needs_number=True, group="rota")
accept = router.command("accept", zh=["接受换班", "同意换班"], en=["accept"], needs_number=True,
                    group="rota")
decline = router.command("decline", zh=["拒绝换班"], en=["decline"], needs_number=True, group="rota")
take = router.command("take", zh=["接班"], en=["take"], needs_number=True, group="rota")
away = router.command("away", zh=["请假"], en=["away"], group="rota")
approve = router.command("approve", zh=["批准换班"], en=["approve"], roles=COORDINATORS,
                     needs_number=True, group="rota")
deny = router.command("deny", zh=["驳回换班"], en=["deny"], roles=COORDINATORS, needs_number=True,
                  group="rota")
rotaset = router.command("rotaset", zh=["排班"], en=["rotaset"], roles=COORDINATORS, group="rota")


# --- who is on duty ------------------------------------------------------------------------------
@rota_command.handle
async def who_is_on_duty(ctx: Context) -> None:
    """Anyone asks who is on duty: today and tomorrow, a range or a day (本周, 周六, 现在), of one
    rota or all; the time word may come before or after the rota's name.  A rota named alone shows
    its next few shifts, whenever they are."""
    rotas = await sync_config_rotas(ctx)
    words, span, day = duty_words(ctx, ctx.args.split())
    if words:
        rota = await ctx.tx.rota.named(" ".join(words))
        if rota is None:
            raise Refusal("rota.no_such_rota", name=" ".join(words)[:20],
                          rotas=rota_names(ctx, rotas))
        rotas = [rota]
        span = span or "next"
    span = span or "soon"
    names = {r.id: r.name for r in rotas}
    ids = [r.id for r in rotas] if words else None  # None: every rota, no list for SQLite to match
    if span == "next":
        shifts = await upcoming_shifts(ctx, ids)
        if not shifts:
            await ctx.reply("rota.none_ahead", rota=rotas[0].name)
            return
        label = ctx.t("rota.span.next", count=len(shifts))
    else:
        start, end = (max(ctx.now, day), day + timedelta(days=1)) if day else span_of(ctx.now, span)
        shifts = await ctx.tx.rota.shifts_between(start.timestamp(), end.timestamp(), ids)
        label = day_text(ctx, day, ctx.lang) if day else ctx.t(f"rota.span.{span}")
    if not shifts:
        key = "rota.none_now" if span == "now" else "rota.none"
        if day:
            label = ctx.t("rota.span.day", day=label)
        later = await upcoming_shifts(ctx, ids)
        if not later:
            await ctx.reply(key, span=label)
            return
        lines = [ctx.t(key, span=label), ctx.t("rota.next_header")]
        lines += await table_lines(ctx, later, names, ctx.lang, with_rota=len(rotas) > 1)
        await ctx.reply_text("\n".join(lines), key=key)
        return
    lines = [ctx.t("rota.header", span=label)]
    lines += await table_lines(ctx, shifts, names, ctx.lang, with_rota=len(rotas) > 1)
    await ctx.reply_text("\n".join(lines), key="rota.header")


def duty_words(ctx: Context, words: list[str]) -> tuple[list[str], str | None, datetime | None]:
    """Take a time word off the start or the end of 值班's words (``值班 楼道巡查 本周``, ``/rota
    this week gate``, ``值班 周六``, ``值班 现在``): (the words left, the range, or the day)."""
    for size in (2, 1):
        if len(words) < size:
            continue
        for taken, left in ((words[:size], words[size:]), (words[-size:], words[:-size])):
            folded = "".join(taken).lower()
            if folded in RANGES:
                return left, RANGES[folded], None
            try:
                day, rest = parse_day(" ".join(taken), ctx.now)
            except WhenProblem:
                continue
            if not rest:
                return left, "day", day
    return words, None, None


async def upcoming_shifts(ctx: Context, rota_ids: list[int] | None) -> list[Shift]:
    """The next few shifts of these rotas (of every rota: None), one going on now included,
    however far ahead."""
    shifts = await ctx.tx.rota.shifts_between(ctx.ts, ctx.ts + 366 * 86400, rota_ids)
    return shifts[:NEXT_SHIFTS]


@my_shifts.handle
async def list_my_shifts(ctx: Context) -> None:
    """A member asks for their next shifts, or for all of them as a calendar file (日历/ical)."""
    await sync_config_rotas(ctx)
    if ctx.args.strip().lower() in CALENDAR_WORDS:
        await send_calendar(ctx)
        return
    shifts = await ctx.tx.rota.shifts_of(ctx.person.id, ctx.ts, limit=10)
    if not shifts:
        await ctx.reply_personal("rota.mine_none")
        return
    names = {r.id: r.name for r in await ctx.tx.rota.all()}
    lines = [ctx.t("rota.mine_header", count=len(shifts))]
    lines += [ctx.t("rota.mine_line", number=s.id, rota=names.get(s.rota_id, "?"),
                    when=shift_span(ctx, s, ctx.lang)) for s in shifts]
    lines.append(ctx.t("rota.mine_footer"))
    await ctx.reply_personal_text("\n".join(lines), key="rota.mine_header")


async def send_calendar(ctx: Context) -> None:
    """Send my shifts as an RFC 5545 .ics file (privately: it is a document of mine)."""
    shifts = await ctx.tx.rota.shifts_of(ctx.person.id, ctx.ts - 30 * 86400, limit=500)
    names = {r.id: r.name for r in await ctx.tx.rota.all()}
    entries = [Entry(f"shift-{s.id}@linli", f"{names.get(s.rota_id, '?')} #{s.id}", s.starts_at,
                     s.ends_at, ctx.t("rota.ical_description", number=s.id))
               for s in shifts]
    text = calendar_text(entries, name=ctx.t("rota.ical_name", compound=ctx.config.compound.name),
                         timezone=ctx.config.compound.timezone, now=ctx.now)
    attachment = Attachment(kind="document", filename="linli-shifts.ics", content=text,
                            caption=ctx.t("rota.ical_caption", count=len(entries)))
    await ctx.tell(ctx.person.id, "rota.ical_sent", attachments=(attachment,), count=len(entries))
    await ctx.record("rota.ical", f"person:{ctx.person.id}", str(len(entries)))
    if ctx.in_group:
        await ctx.reply("rota.ical_in_private")


# --- swaps ---------------------------------------------------------------------------------------
@swap_command.handle
async def ask_swap(ctx: Context) -> None:
    """A member asks someone in the rota to take their shift N, or to trade it for their shift M."""
    words = keep_marks(ctx.args).split()
    if len(words) < 2:
        raise Refusal("rota.usage.swap")
    shift = await own_shift(ctx, words[0], "swap")
    rota = await ctx.tx.rota.get(shift.rota_id)
    members = await ctx.tx.rota.members(rota.id)
    # the rota's members first: a name only one of them goes by needs no more words
    other_person = (await ctx.person_named(words[1], among=members)
                    or await ctx.person_named(words[1]))
    if other_person is None:
        raise Refusal("rota.no_such_person", name=words[1].lstrip("@＠")[:20])
    if other_person.id == ctx.person.id:
        raise Refusal("rota.swap_with_self")
    if other_person.id not in members:
        raise Refusal("rota.not_in_rota", name=await ctx.display_name(other_person), rota=rota.name,
                      members=await names_text(ctx, members))
    other = None
    if len(words) > 2:
        other = await shift_from_word(ctx, words[2], "swap")
        if (other.person_id != other_person.id or other.rota_id != rota.id
                or other.starts_at <= ctx.ts or other.status != "assigned"):
            raise Refusal("rota.not_their_shift", number=other.id,
                          name=await ctx.display_name(other_person))
    for number in (shift.id, other.id if other else None):
        if number is not None and await ctx.tx.rota.open_swap_of(number):
            raise Refusal("rota.swap_pending", number=number)
    swap = await ctx.tx.rota.ask_swap(shift.id, other.id if other else None, ctx.person.id,
                                      other_person.id, ctx.ts)
    await ctx.record("rota.swap_ask", f"swap:{swap.id}", f"shift:{shift.id}")
    lang = await ctx.language_of(other_person.id)
    key = "rota.swap_asked_trade" if other else "rota.swap_asked"
    await ctx.tell(other_person.id, key, ref=f"swap:{swap.id}",
                   buttons=(ButtonSpec("rota.button.accept", "accept", str(swap.id)),
                            ButtonSpec("rota.button.decline", "decline", str(swap.id))),
                   name=await ctx.display_name(ctx.person, lang), rota=rota.name,
                   when=shift_span(ctx, shift, lang),
                   other=shift_span(ctx, other, lang) if other else "", swap=swap.id)
    await expect_answer(ctx, other_person.id, {"swap": swap.id})
    await ctx.reply("rota.swap_sent", name=await ctx.display_name(other_person), number=shift.id,
                    when=shift_span(ctx, shift, ctx.lang))


@accept.handle
async def accept_swap(ctx: Context) -> None:
    """The person asked says yes: the shifts change hands (or wait for a coordinator's approval)."""
    swap, shift, rota = await swap_for_answer(ctx, "accept")
    if settings_of(ctx, rota).approval:
        await ctx.tx.rota.decide_swap(swap.id, "accepted", ctx.ts, "asked")
        await ctx.record("rota.swap_accept", f"swap:{swap.id}")
        for person_id in await coordinator_ids(ctx):
            lang = await ctx.language_of(person_id)
            await ctx.tell(person_id, "rota.approval_needed", ref=f"swap:{swap.id}",
                           buttons=(ButtonSpec("rota.button.approve", "approve", str(swap.id)),
                                    ButtonSpec("rota.button.deny", "deny", str(swap.id))),
                           swap=swap.id, rota=rota.name, when=shift_span(ctx, shift, lang),
                           asker=await ctx.name_of(swap.from_id, lang),
                           name=await ctx.display_name(ctx.person, lang))
        await ctx.tell(swap.from_id, "rota.swap_waits_approval", ref=f"swap:{swap.id}",
                       name=await name_for(ctx, ctx.person.id, swap.from_id), number=shift.id)
        await ctx.reply("rota.accepted_waiting", number=shift.id)
        return
    await carry_out(ctx, swap, "asked")
    await ctx.record("rota.swap_accept", f"swap:{swap.id}")
    await ctx.tell(swap.from_id, "rota.swap_done_asker", ref=f"swap:{swap.id}",
                   name=await name_for(ctx, ctx.person.id, swap.from_id), number=shift.id)
    await ctx.reply("rota.swap_done", number=shift.id, when=shift_span(ctx, shift, ctx.lang))


@decline.handle
async def decline_swap(ctx: Context) -> None:
    """The person asked says no: a take-over request leaves the shift uncovered and announced."""
    swap, shift, rota = await swap_for_answer(ctx, "decline")
    await ctx.tx.rota.decide_swap(swap.id, "declined", ctx.ts, "asked")
    await ctx.record("rota.swap_decline", f"swap:{swap.id}")
    if swap.other_shift_id is not None:
        await ctx.tell(swap.from_id, "rota.trade_declined", ref=f"swap:{swap.id}",
                       name=await name_for(ctx, ctx.person.id, swap.from_id), number=shift.id)
    else:
        await ctx.tx.rota.release(shift.id, swap.from_id)
        told = await announce_uncovered(ctx, await ctx.tx.rota.shift(shift.id), rota,
                                        {swap.from_id, ctx.person.id})
        await ctx.tell(swap.from_id, "rota.swap_declined", ref=f"swap:{swap.id}",
                       name=await name_for(ctx, ctx.person.id, swap.from_id), number=shift.id,
                       count=told)
    await ctx.reply("rota.declined", number=shift.id)


@approve.handle
async def approve_swap(ctx: Context) -> None:
    """A coordinator approves an accepted swap: the shifts change hands."""
    swap, shift, _ = await swap_for_decision(ctx, "approve")
    await carry_out(ctx, swap, "accepted")
    await ctx.record("rota.swap_approve", f"swap:{swap.id}")
    for person_id in (swap.from_id, swap.to_id):
        await ctx.tell(person_id, "rota.swap_approved", ref=f"swap:{swap.id}", number=shift.id,
                       who=await name_for(ctx, ctx.person.id, person_id))
    await ctx.reply("rota.approved", swap=swap.id)


@deny.handle
async def deny_swap(ctx: Context) -> None:
    """A coordinator turns an accepted swap down: the shift stays where it was."""
    swap, shift, _ = await swap_for_decision(ctx, "deny")
    await ctx.tx.rota.decide_swap(swap.id, "refused", ctx.ts, "accepted")
    await ctx.record("rota.swap_deny", f"swap:{swap.id}")
    for person_id in (swap.from_id, swap.to_id):
        await ctx.tell(person_id, "rota.swap_refused", ref=f"swap:{swap.id}", number=shift.id,
                       who=await name_for(ctx, ctx.person.id, person_id))
    await ctx.reply("rota.denied", swap=swap.id)


async def carry_out(ctx: Context, swap: Swap, was: str) -> None:
    """Hand the shift over (and, in a trade, the other one back)."""
    if not await ctx.tx.rota.decide_swap(swap.id, "done", ctx.ts, was):
        raise Refusal("rota.swap_decided", swap=swap.id)
    await ctx.tx.rota.assign(swap.shift_id, swap.to_id)
    if swap.other_shift_id is not None:
        await ctx.tx.rota.assign(swap.other_shift_id, swap.from_id)


async def swap_for_answer(ctx: Context, command: str) -> tuple[Swap, Shift, Rota]:
    """The swap the person asked is answering, still open and still possible."""
    swap = await swap_from_args(ctx, command)
    if swap.to_id != ctx.person.id:
        raise Refusal("rota.not_your_swap", audit="denied", target=f"swap:{swap.id}",
                      swap=swap.id)
    if swap.status != "asked":
        raise Refusal("rota.swap_decided", swap=swap.id)
    return await still_possible(ctx, swap)


async def swap_for_decision(ctx: Context, command: str) -> tuple[Swap, Shift, Rota]:
    swap = await swap_from_args(ctx, command)
    if swap.status != "accepted":
        raise Refusal("rota.swap_decided", swap=swap.id)
    return await still_possible(ctx, swap)


async def still_possible(ctx: Context, swap: Swap) -> tuple[Swap, Shift, Rota]:
    shift = await ctx.tx.rota.shift(swap.shift_id)
    if shift.person_id != swap.from_id or shift.starts_at <= ctx.ts:
        raise Refusal("rota.swap_stale", swap=swap.id, number=shift.id)
    if swap.other_shift_id is not None:
        other = await ctx.tx.rota.shift(swap.other_shift_id)
        if other.person_id != swap.to_id or other.starts_at <= ctx.ts:
            raise Refusal("rota.swap_stale", swap=swap.id, number=other.id)
    return swap, shift, await ctx.tx.rota.get(shift.rota_id)


async def swap_from_args(ctx: Context, command: str) -> Swap:
    number = leading_number(ctx.args)
    if number is None:
        raise Refusal(f"rota.usage.{command}")
    swap = await ctx.tx.rota.swap(number)
    if swap is None:
        raise Refusal("rota.no_such_swap", swap=number)
    return swap


# --- uncovered shifts and time away --------------------------------------------------------------
@take.handle
async def take_shift(ctx: Context) -> None:
    """A rota member takes an uncovered shift: the first to answer gets it."""
    shift = await shift_from_word(ctx, ctx.args.split()[0] if ctx.args.split() else "", "take")
    rota = await ctx.tx.rota.get(shift.rota_id)
    if shift.ends_at <= ctx.ts:
        raise Refusal("rota.shift_over", number=shift.id)
    if shift.status == "assigned":
        if shift.person_id == ctx.person.id:
            raise Refusal("rota.already_yours", number=shift.id)
        raise Refusal("rota.already_taken", number=shift.id,
                      name=await ctx.name_of(shift.person_id))
    if ctx.person.id not in await ctx.tx.rota.members(rota.id):
        raise Refusal("rota.members_only", rota=rota.name)
    if not await ctx.tx.rota.take(shift.id, ctx.person.id):
        raise Refusal("rota.already_taken", number=shift.id, name="?")
    await ctx.record("rota.take", f"shift:{shift.id}")
    if shift.released_by is not None:
        await ctx.tell(shift.released_by, "rota.taken_by", ref=f"shift:{shift.id}",
                       name=await name_for(ctx, ctx.person.id, shift.released_by), number=shift.id)
    await ctx.reply("rota.took", name=await ctx.display_name(ctx.person), number=shift.id,
                    rota=rota.name,
                    when=shift_span(ctx, shift, ctx.lang))


@away.handle
async def mark_away(ctx: Context) -> None:
    """A member will be away (请假 12月3日 12月5日): their shifts then are offered to the others."""
    text = ctx.args.strip()
    if not text:
        raise Refusal("rota.usage.away")
    try:
        first, rest = parse_day(text, ctx.now)
        rest = re.sub(r"^\s*(?:-|–|~|～|到|至|to|until|till)\s*", "", rest, flags=re.IGNORECASE)
        last = parse_day(rest, ctx.now)[0] if rest else first
    except WhenProblem as problem:
        raise refused_when(ctx, problem) from None
    if last < first:
        raise Refusal("rota.away_backwards")
    until = last + timedelta(days=1)
    await ctx.tx.rota.add_away(ctx.person.id, first.timestamp(), until.timestamp(), ctx.ts)
    shifts = await ctx.tx.rota.shifts_of_between(ctx.person.id, max(first.timestamp(), ctx.ts),
                                                 until.timestamp())
    for shift in shifts:
        await ctx.tx.rota.release(shift.id, ctx.person.id)
        rota = await ctx.tx.rota.get(shift.rota_id)
        await announce_uncovered(ctx, await ctx.tx.rota.shift(shift.id), rota, {ctx.person.id})
    await ctx.record("rota.away", f"person:{ctx.person.id}", f"{first:%Y-%m-%d}/{last:%Y-%m-%d}")
    numbers = listed(ctx, [f"#{s.id}" for s in shifts]) or "-"
    span = day_text(ctx, first, ctx.lang) if last == first else ctx.t(
        "rota.days", start=day_text(ctx, first, ctx.lang), end=day_text(ctx, last, ctx.lang))
    if not shifts:  # nothing to offer to anyone
        await ctx.reply("rota.away_done_none", span=span)
        return
    await ctx.reply("rota.away_done", span=span, count=len(shifts), numbers=numbers)


async def announce_uncovered(ctx: Notifier, shift: Shift, rota: Rota, skip: set[int]) -> int:
    """Tell every other member of the rota privately; the first to answer 接班 N takes it."""
    told = 0
    for person_id in await ctx.tx.rota.members(rota.id):
        if person_id in skip:
            continue
        lang = await ctx.language_of(person_id)
        if await ctx.tell(person_id, "rota.uncovered", ref=f"shift:{shift.id}",
                          buttons=(ButtonSpec("rota.button.take", "take", str(shift.id)),),
                          number=shift.id, rota=rota.name, when=shift_span(ctx, shift, lang)):
            told += 1
            await expect_answer(ctx, person_id, {"shift": shift.id})
    await ctx.audit(None, None, "rota.uncovered", f"shift:{shift.id}", str(told))
    if told == 0:  # nobody else on the rota: the coordinators must find someone
        for person_id in await coordinator_ids(ctx):
            lang = await ctx.language_of(person_id)
            await ctx.tell(person_id, "rota.uncovered_nobody", ref=f"shift:{shift.id}",
                           number=shift.id, rota=rota.name, when=shift_span(ctx, shift, lang))
    return told


async def expect_answer(ctx: Notifier, person_id: int, payload: dict) -> None:
    """Let a plain 好/不行 in the person's private chat answer a swap request or an uncovered
    shift (the latest of them), unless they are in the middle of another question."""
    address = await ctx.core.private_address(ctx.tx, person_id)
    if address is None:
        return
    pending = await ctx.tx.prompts.pending(person_id, *address, ctx.ts)
    if pending is not None and pending.kind != "rota.answer":
        return  # the latest rota question wins; any other question is left alone
    await ctx.tx.prompts.ask(person_id, *address, "rota.answer", payload, ctx.ts + 86400)


@router.reply("rota.answer")
async def plain_answer(ctx: Context) -> None:
    """A plain 好/可以 or 不行 to a swap request or an uncovered shift does what the buttons do."""
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    await ctx.done_asking()
    if prompt is None or ctx.in_group:
        return
    ctx.lang = guess_language(ctx.msg.text) or ctx.lang  # "no" is answered in English
    word = re.sub(r"[\s。，,.!！~～]+", "", ctx.msg.text).lower()
    yes, no = word in YES, word in NO
    if "swap" in prompt.payload:
        number, handler = prompt.payload["swap"], accept_swap if yes else decline_swap
        hint = ("rota.answer_swap", {"swap": number})
    else:
        number, handler = prompt.payload["shift"], take_shift
        hint = ("rota.answer_shift", {"number": number})
        no = False if yes else no
    if not (yes or no):
        await ctx.reply(hint[0], **hint[1])
        return
    if no and handler is take_shift:
        await ctx.reply("rota.not_taking", number=number)
        return
    ctx.args = str(number)
    try:
        async with ctx.tx.savepoint():
            await handler(ctx)
    except Refusal as refusal:  # answered here, so the prompt stays cleared
        await ctx.reply(refusal.key, **refusal.values)


# --- setting a rota up ---------------------------------------------------------------------------
@rotaset.handle
async def set_rota(ctx: Context) -> None:
    """A coordinator creates or changes a rota: its days and hours, members in order, rotation."""
    await sync_config_rotas(ctx)
    name, _, rest = ctx.args.strip().partition(" ")
    if not name:
        raise Refusal("rota.usage.rotaset")
    rota = await find_rota(ctx, name)
    if not rest.strip():
        if rota is None:
            raise Refusal("rota.usage.rotaset")
        await describe_rota(ctx, rota)
        return
    try:
        repeat = parse_repeat(rest, ctx.config.tz)
        until = parse_until(repeat.rest)
    except WhenProblem as problem:
        if problem.reason == "not_a_repeat":
            await add_one_off(ctx, name, rota, rest)
            return
        raise refused_when(ctx, problem) from None
    if repeat.hour < 0 or until is None:
        raise Refusal("rota.need_hours")
    end_hour, end_minute, rest = until
    minutes = ((end_hour * 60 + end_minute) - (repeat.hour * 60 + repeat.minute)) % (24 * 60)
    if minutes == 0:
        raise Refusal("rota.need_hours")
    rotation, weeks, member_ids, unknown = "daily", None, [], []
    # "4 周" and "2 weeks" are one word; 和/and between names are no one's name
    rest = re.sub(r"(?<![^\s、，,])([0-9]{1,2})\s+(周|个星期|weeks?)(?![^\s、，,])", r"\1\2",
                  keep_marks(rest), flags=re.IGNORECASE)
    for word in re.split(r"[\s、，,]+", rest.strip()):
        if not word or word.lower() in LINKING_WORDS:
            continue
        if word.lower() in ROTATIONS:
            rotation = ROTATIONS[word.lower()]
        elif _WEEKS.match(word):
            weeks = int(_WEEKS.match(word).group("n"))
        else:
            person = await member_named(ctx, word)
            if person is None:
                unknown.append(word.lstrip("@＠"))
            elif person.id not in member_ids:
                member_ids.append(person.id)
    if unknown:
        raise Refusal("rota.unknown_members", names=listed(ctx, unknown[:10]))
    if not member_ids:
        raise Refusal("rota.need_members")
    if rota is None:
        if ctx.core.carries_private(name):
            raise Refusal("rota.private_detail")  # the rota's name is shown in groups
        rota = await ctx.tx.rota.ensure(name[:30], name[:30], ctx.chat_building, ctx.ts)
    settings = settings_of(ctx, rota)
    weeks = weeks or settings.weeks_ahead
    await ctx.tx.rota.set_members(rota.id, member_ids)
    # the old rotation's future shifts make way; one-off and swapped shifts stay, and whoever loses
    # a shift is told
    for person_id in await ctx.tx.rota.drop_future(rota.id, ctx.ts):
        await ctx.tell(person_id, "rota.shifts_remade", ref=f"rota:{rota.key}", rota=rota.name)
    rota = await ctx.tx.rota.set_schedule(rota.id, repeat_line(repeat), minutes, rotation, ctx.ts)
    made = await make_shifts(ctx, rota, (ctx.now + timedelta(weeks=weeks)).timestamp())
    await ctx.record("rota.set", f"rota:{rota.key}", f"{rota.repeat} {minutes}m {rotation}")
    lines = [ctx.t("rota.set_done", rota=rota.name, count=len(made), weeks=weeks,
                   members=await names_text(ctx, member_ids),
                   rotation=ctx.t(f"rota.rotation.{rotation}"))]
    lines += await table_lines(ctx, made[:7], {rota.id: rota.name}, ctx.lang, with_rota=False)
    await ctx.reply_text("\n".join(lines), key="rota.set_done")


async def add_one_off(ctx: Context, name: str, rota: Rota | None, text: str) -> None:
    """An explicit one-off shift (排班 门岗值守 12月24日 18:00-22:00 [who]); with nobody named it
    is uncovered and offered to the rota's members."""
    try:
        moment = parse_moment(text, ctx.now)
        until = parse_until(moment.rest)
    except WhenProblem as problem:
        raise refused_when(ctx, problem) from None
    if until is None:
        raise Refusal("rota.need_hours")
    start = moment.at
    end = start.replace(hour=until[0], minute=until[1])
    if end <= start:
        end += timedelta(days=1)
    words = keep_marks(until[2]).split()
    who = words[0] if words else ""
    person = await member_named(ctx, who) if who else None
    if who and person is None:
        raise Refusal("rota.unknown_members", names=who.lstrip("@＠")[:20])
    if rota is None:
        rota = await ctx.tx.rota.ensure(name[:30], name[:30], ctx.chat_building, ctx.ts)
    remind = start - settings_of(ctx, rota).remind_before
    shift = await ctx.tx.rota.add_shift(rota.id, start.timestamp(), end.timestamp(),
                                        person.id if person else None,
                                        remind.timestamp() if remind > ctx.now else None)
    if shift is None:
        raise Refusal("rota.shift_exists", rota=rota.name, when=moment_with_weekday(
            start.timestamp(), ctx.config.tz, ctx.lang))
    await ctx.record("rota.one_off", f"shift:{shift.id}", rota.key)
    when = shift_span(ctx, shift, ctx.lang)
    if person is None:
        count = await announce_uncovered(ctx, shift, rota, set())
        await ctx.reply("rota.one_off_open", number=shift.id, rota=rota.name, when=when,
                        count=count)
        return
    lang = await ctx.language_of(person.id)
    await ctx.tell(person.id, "rota.assigned_to_you", ref=f"shift:{shift.id}", number=shift.id,
                   rota=rota.name, when=shift_span(ctx, shift, lang),
                   who=await ctx.display_name(ctx.person, lang))
    await ctx.reply("rota.one_off_added", number=shift.id, rota=rota.name, when=when,
                    name=await ctx.display_name(person))


async def describe_rota(ctx: Context, rota: Rota) -> None:
    members = await ctx.tx.rota.members(rota.id)
    await ctx.reply("rota.describe", rota=rota.name, members=await names_text(ctx, members) or "-",
                    rotation=ctx.t(f"rota.rotation.{rota.rotation}"),
                    approval=ctx.t(f"rota.approval.{settings_of(ctx, rota).approval}"))


async def member_named(ctx: Context, word: str) -> Person | None:
    """Who a name in 排班 is: anyone going by it (a staff member by config key or name first);
    a person listed in [people] is found by key or configured name even if they never wrote."""
    person = await ctx.person_named(word)
    if person is not None:
        return person
    folded = ctx.fold_name(word.strip().lstrip("@＠"))
    for key, listed_person in ctx.config.people.items():
        if folded in (ctx.fold_name(key), ctx.fold_name(listed_person.name or key)):
            return await ctx.tx.people.by_key(key)
    return None


async def find_rota(ctx: Notifier, name: str) -> Rota | None:
    for key, settings in ctx.config.rota.items():
        if name.lower() in (key.lower(), settings.name.lower()):
            return await ctx.tx.rota.by_key(key)
    return await ctx.tx.rota.named(name)


async def make_shifts(ctx: Notifier, rota: Rota, until: float) -> list[Shift]:
    """Make the rota's shifts from where they end up to ``until``, taking members in turn and
    skipping anyone away; daily rotation moves on each shift, weekly rotation each week."""
    members = await ctx.tx.rota.members(rota.id)
    if not rota.repeat or not rota.minutes or not members:
        return []
    tz = ctx.config.tz
    repeat = parse_repeat(rota.repeat, tz)
    remind = settings_of(ctx, rota).remind_before
    moment = datetime.fromtimestamp(rota.made_until or ctx.ts, tz)
    week = moment.isocalendar()[:2]
    index, made = rota.next_index, []
    while True:
        start = repeat.next_after(moment + timedelta(seconds=1))
        if start is None or start.timestamp() > until:
            break
        end = start + timedelta(minutes=rota.minutes)
        if rota.rotation == "weekly" and start.isocalendar()[:2] != week:
            week, index = start.isocalendar()[:2], index + 1
        person_id, position = None, index
        for step in range(len(members)):
            candidate = members[(index + step) % len(members)]
            if not await ctx.tx.rota.is_away(candidate, start.timestamp(), end.timestamp()):
                person_id, position = candidate, index + step
                break
        if rota.rotation == "daily":
            index = position + 1
        reminder = start - remind
        shift = await ctx.tx.rota.add_shift(rota.id, start.timestamp(), end.timestamp(), person_id,
                                            reminder.timestamp() if reminder > ctx.now else None,
                                            by_rotation=True)
        if shift is not None:
            made.append(shift)
        moment = start
    await ctx.tx.rota.advance(rota.id, index % len(members), moment.timestamp())
    return made


async def sync_config_rotas(ctx: Notifier) -> list[Rota]:
    """Bring the rotas of the config into the database (members and shifts too, if it names
    them and the rota has none yet); return every rota, as ``rota.all()`` would."""
    rotas = await ctx.tx.rota.all()  # one query: 值班 runs this on every question
    known = {r.key: r for r in rotas if r.key is not None}
    changed = False
    for key, settings in ctx.config.rota.items():
        rota = known.get(key)
        if rota is not None and (rota.name, rota.building) == (settings.name, settings.building) \
                and (rota.repeat is not None or not (settings.members and settings.shifts)):
            continue
        changed = True
        rota = await ctx.tx.rota.ensure(key, settings.name, settings.building, ctx.ts)
        if rota.repeat is None and settings.members and settings.shifts:
            ids = await ctx.core.person_ids(ctx.tx, settings.members)
            repeat = parse_repeat(settings.shifts, ctx.config.tz)
            until = parse_until(repeat.rest)
            if repeat.hour < 0 or until is None or not ids:
                continue
            minutes = ((until[0] * 60 + until[1]) - (repeat.hour * 60 + repeat.minute)) % 1440
            await ctx.tx.rota.set_members(rota.id, ids)
            rota = await ctx.tx.rota.set_schedule(rota.id, repeat_line(repeat), minutes or 1440,
                                                  settings.rotation, ctx.ts)
            await make_shifts(ctx, rota, (ctx.now + timedelta(weeks=settings.weeks_ahead))
                              .timestamp())
    return await ctx.tx.rota.all() if changed else rotas


# --- sweeps --------------------------------------------------------------------------------------
@router.sweep("rota.shifts")
async def keep_shifts_ahead(core, now: datetime) -> None:
    """Every rota always has its shifts made a few weeks ahead."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        await sync_config_rotas(notifier)
        for rota in await tx.rota.all():
            until = (now + timedelta(weeks=settings_of(notifier, rota).weeks_ahead)).timestamp()
            if rota.repeat and (rota.made_until or 0) < until - 86400:
                await make_shifts(notifier, rota, until)


@router.sweep("rota.reminders")
async def remind_shifts(core, now: datetime) -> None:
    """Each person on duty is reminded privately before their shift."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for shift in await tx.rota.due_reminders(notifier.ts):
            await tx.rota.reminded(shift.id)
            if shift.status != "assigned" or shift.starts_at <= notifier.ts:
                continue
            rota = await tx.rota.get(shift.rota_id)
            lang = await notifier.language_of(shift.person_id)
            await notifier.tell(shift.person_id, "rota.reminder", ref=f"shift:{shift.id}",
                                number=shift.id, rota=rota.name,
                                when=shift_span(notifier, shift, lang))


@router.sweep("rota.escalations")
async def escalate_uncovered(core, now: datetime) -> None:
    """A shift still uncovered ``escalate_uncovered`` before it starts goes privately to the
    coordinators, and still uncovered ``escalate_admin`` before, to the admin: once each (kept in
    the database, so once however often the bot restarts)."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        await tx.rota.forget_escalations(notifier.ts - 86400)
        for rota in await tx.rota.all():
            settings = settings_of(notifier, rota)
            levels = [(lead, level) for lead, level in ((settings.escalate_uncovered, "coordinators"),
                                                        (settings.escalate_admin, "admin"))
                      if lead > timedelta(0)]
            if not levels:
                continue
            until = (now + max(lead for lead, _ in levels)).timestamp()
            for shift in await tx.rota.uncovered_before(rota.id, notifier.ts, until):
                for lead, level in levels:
                    if (shift.starts_at - notifier.ts <= lead.total_seconds()
                            and await tx.rota.claim_escalation(shift.id, level, shift.starts_at)):
                        await escalate(notifier, shift, rota, level)


async def escalate(ctx: Notifier, shift: Shift, rota: Rota, level: str) -> None:
    """Tell the coordinators (or the admin) privately that a shift is still uncovered: which rota,
    when, how long is left, and who can take it with 接班 N."""
    if level == "admin":
        people = await ctx.core.person_ids(ctx.tx, ctx.core.people_with_role("admin"))
    else:
        people = await coordinator_ids(ctx)
    members = await ctx.tx.rota.members(rota.id)
    left = timedelta(seconds=shift.starts_at - ctx.ts)
    told = 0
    for person_id in people:
        lang = await ctx.language_of(person_id)
        names = join(lang, [await ctx.name_of(m, lang) for m in members]) or "-"
        if await ctx.tell(person_id, f"rota.escalate_{level}", ref=f"shift:{shift.id}",
                          buttons=(ButtonSpec("rota.button.take", "take", str(shift.id)),),
                          number=shift.id, rota=rota.name, when=shift_span(ctx, shift, lang),
                          left=format_span(left, lang), members=names):
            told += 1
    await ctx.audit(None, None, f"rota.escalate_{level}", f"shift:{shift.id}", str(told))


@router.sweep("rota.broadcasts")
async def post_broadcasts(core, now: datetime) -> None:
    """Each rota's broadcasts, posted once per due moment (remembered across restarts)."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for key, settings in core.config.rota.items():
            rota = await tx.rota.by_key(key)
            if rota is None:
                continue
            for kind in ("evening", "morning", "weekly"):
                if getattr(settings.broadcasts, kind) is not None:
                    await broadcast(notifier, rota, settings, kind)


async def broadcast(ctx: Notifier, rota: Rota, settings: RotaSettings, kind: str) -> None:
    """Post one broadcast of a rota if it is due, not posted yet, and has shifts to show."""
    due = latest_due(ctx.now, settings, kind)
    if ctx.now - due > settings.broadcasts.grace:
        return
    day = due.replace(hour=0, minute=0, second=0, microsecond=0)
    start = {"evening": day + timedelta(days=1), "morning": day,
             "weekly": day + timedelta(days=7 - day.weekday())}[kind]
    end = start + timedelta(days=7 if kind == "weekly" else 1)
    shifts = await ctx.tx.rota.shifts_between(start.timestamp(), end.timestamp(), [rota.id])
    shifts = [s for s in shifts if s.starts_at >= start.timestamp()]
    if not shifts or not await ctx.tx.rota.claim_broadcast(rota.key, kind, due.timestamp(), ctx.ts):
        return
    for chat_key in rota_chats(ctx, rota, settings):
        lang = ctx.core.language_of_chat(chat_key)
        lines = [t(lang, f"rota.broadcast.{kind}", rota=rota.name,
                   day=day_text(ctx, start, lang),
                   last=day_text(ctx, end - timedelta(days=1), lang))]
        lines += await table_lines(ctx, shifts, {rota.id: rota.name}, lang, with_rota=False,
                                   days=kind == "weekly")
        await ctx.post_text(chat_key, "\n".join(lines), key=f"rota.broadcast.{kind}",
                            ref=f"rota:{rota.key}:{kind}", lang=lang)


def latest_due(now: datetime, settings: RotaSettings, kind: str) -> datetime:
    """The most recent moment (at or before now) this kind of broadcast was due."""
    if kind == "weekly":
        weekday, at = settings.broadcasts.weekly
        due = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        due -= timedelta(days=(now.weekday() - weekday) % 7)
        return due - timedelta(days=7) if due > now else due
    at = getattr(settings.broadcasts, kind)
    due = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return due - timedelta(days=1) if due > now else due


# --- helpers -------------------------------------------------------------------------------------
def settings_of(ctx: Notifier, rota: Rota) -> RotaSettings:
    """The rota's config, or the defaults for a rota made in chat."""
    return ctx.config.rota.get(rota.key) or RotaSettings(name=rota.name, building=rota.building)


def rota_chats(ctx: Notifier, rota: Rota, settings: RotaSettings) -> list[str]:
    if settings.chats:
        return list(settings.chats)
    if rota.building and ctx.core.chats_of_building(rota.building):
        return ctx.core.chats_of_building(rota.building)
    return [k for k, c in ctx.config.chats.items() if c.building is None]


async def coordinator_ids(ctx: Notifier) -> list[int]:
    ids = await ctx.core.person_ids(ctx.tx, ctx.core.people_with_role("coordinator"))
    return ids or await ctx.core.person_ids(ctx.tx, ctx.core.people_with_role("admin"))


async def own_shift(ctx: Context, word: str, command: str) -> Shift:
    """A shift of the sender's that has not started, named by its number or its day (明天)."""
    shift = await shift_on_day(ctx, word) or await shift_from_word(ctx, word, command)
    if shift.person_id != ctx.person.id or shift.status != "assigned":
        raise Refusal("rota.not_your_shift", number=shift.id)
    if shift.starts_at <= ctx.ts:
        raise Refusal("rota.shift_started", number=shift.id)
    return shift


async def shift_on_day(ctx: Context, word: str) -> Shift | None:
    """The sender's one shift on the day a word names (``换班 明天 bob``), if it names a day."""
    if re.fullmatch(r"[#＃]?\s*[0-9０-９]+", word):
        return None
    try:
        day = parse_day(word, ctx.now)[0]
    except WhenProblem:
        return None
    shifts = await ctx.tx.rota.shifts_of_between(ctx.person.id, day.timestamp(),
                                                 (day + timedelta(days=1)).timestamp())
    if not shifts:
        raise Refusal("rota.no_shift_that_day", day=day_text(ctx, day, ctx.lang))
    if len(shifts) > 1:
        raise Refusal("rota.several_that_day", day=day_text(ctx, day, ctx.lang),
                      numbers=listed(ctx, [f"#{s.id}" for s in shifts]))
    return shifts[0]


async def shift_from_word(ctx: Context, word: str, command: str) -> Shift:
    number = ctx.number_in("rota", command, word)
    shift = await ctx.tx.rota.shift(number)
    if shift is None or shift.status == "cancelled":
        raise Refusal("rota.no_such_shift", number=number)
    return shift


def span_of(now: datetime, span: str) -> tuple[datetime, datetime]:
    """The moments a 值班 range covers; ongoing shifts count from now."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    return {"now": (now, now + timedelta(seconds=1)),
            "soon": (now, today + timedelta(days=2)), "today": (now, today + timedelta(days=1)),
            "tomorrow": (today + timedelta(days=1), today + timedelta(days=2)),
            "week": (now, monday + timedelta(days=7)),
            "nextweek": (monday + timedelta(days=7), monday + timedelta(days=14))}[span]


async def table_lines(ctx: Notifier, shifts: list[Shift], names: dict[int, str], lang: str, *,
                      with_rota: bool, days: bool = True) -> list[str]:
    """Shifts as lines, under a heading for each day."""
    lines, last_day = [], None
    tz = ctx.config.tz  # a property that makes the zone: once per table, not twice per shift
    people = await ctx.tx.people.load(s.person_id for s in shifts)  # one query for all of them
    shown: dict[int, str] = {}  # a rota names the same few people again and again
    line = template(lang, "rota.line")  # looked up once, filled once per shift
    for shift in shifts:
        start, start_clock = clock_of(shift.starts_at, tz)
        if days and start.date() != last_day:
            last_day = start.date()
            lines.append(day_text(ctx, start, lang))
        if shift.person_id is None:
            who = t(lang, "rota.uncovered_mark", number=shift.id)
        elif (who := shown.get(shift.person_id)) is None:
            person = people[shift.person_id]
            who = shown[shift.person_id] = ctx.shown_name(person, lang)
        end_clock = clock_of(shift.ends_at, tz)[1]
        lines.append(line.format(time=f"{start_clock}–{end_clock}", who=who,
                                 rota=f"{names.get(shift.rota_id, '?')} " if with_rota else "",
                                 number=shift.id))
    return lines


@lru_cache(maxsize=4096)
def clock_of(timestamp: float, tz: tzinfo) -> tuple[datetime, str]:
    """A shift's moment in the compound's time zone, and its HH:MM (the same shifts are shown to
    every 值班 in a day: each is worked out once)."""
    moment = datetime.fromtimestamp(timestamp, tz)
    return moment, clock(moment)


def day_text(ctx: Notifier, moment: datetime, lang: str) -> str:
    weekday = t(lang, f"volunteers.weekday.{moment.weekday()}")
    return f"{moment.month}月{moment.day}日 {weekday}" if lang == "zh" else \
        f"{weekday} {moment:%b} {moment.day}"


def shift_span(ctx: Notifier, shift: Shift, lang: str) -> str:
    end = datetime.fromtimestamp(shift.ends_at, ctx.config.tz)
    return f"{moment_with_weekday(shift.starts_at, ctx.config.tz, lang)}–{end:%H:%M}"


def listed(ctx: Context, items: list[str]) -> str:
    """Items joined the way the sender's language lists things (、 or ", ")."""
    return join(ctx.lang, items)


def rota_names(ctx: Context, rotas: list[Rota]) -> str:
    return listed(ctx, [r.name for r in rotas]) or "-"


async def names_text(ctx: Context, person_ids: list[int]) -> str:
    return listed(ctx, [await ctx.name_of(p) for p in person_ids])


async def name_for(ctx: Notifier, person_id: int, reader_id: int) -> str:
    """A person's name as shown to another, in the reader's language (see ``display_name``)."""
    return await ctx.display_name(person_id, await ctx.language_of(reader_id))


def keep_marks(text: str) -> str:
    """``李阿姨 (resident)`` → ``李阿姨(resident)``: a mark in brackets stays with its name when the
    words are split at spaces."""
    return re.sub(r"\s+(?=[（(])", "", text)


def refused_when(ctx: Context, problem: WhenProblem) -> Refusal:
    """The refusal for a date or time that could not be read, in the sender's words."""
    return Refusal(f"volunteers.when.{problem.reason}",
                   **when_values(problem, ctx.config.tz, ctx.lang))
