"""Announcements (通知): property, the owners' committee or the community office post to the groups.

``通知 3栋 明早8点停水`` posts now to one chat key, a building's groups (3栋), several (``b3,b5`` or
``3栋 5栋``) or every group (全部/all); the author hears how many groups it went to and when the
fan-out will have finished, given each platform's send limits.  ``定时通知 明天8点 全部 …`` posts at a
moment; ``定时通知 每周日 9点 b3 …`` (or ``every weekday 7:30``, or ``cron 0 9 * * SUN``) on a
repeating rule.  ``通知列表`` shows what is scheduled with the next run; ``取消通知 N`` cancels one.

Every announcement is a row (storage/announcements.py), and one sweep sends what is due: the database
is the source of truth, the scheduler only decides when to look (every tick, and ``core.wake_at`` for
the exact next moment, re-armed after every restart).  Quiet hours (``[announcements] quiet_hours``,
default 22:00–07:00) hold a broadcast until they end, unless it is urgent (紧急 / --urgent: a water
cut, a fire-door alarm).  A run missed while the bot was down is sent late if it is within
``grace``; older ones are skipped and reported privately to the admin and the author.  Each moment is
recorded once (a primary key), in the same transaction as its outbox rows, so restarting twice never
sends anything twice.  Texts with a phone or unit number are refused: groups never see them.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections import Counter
from datetime import datetime, time, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot.commands import Router
from bot.context import Context, Notifier, Refusal
from bot.format import format_moment, join
from bot.i18n import t
from bot.ratelimit import estimate_seconds
from bot.textsplit import split_text
from bot.when import WhenProblem, parse_moment, parse_repeat
from storage.announcements import Announcement

ANNOUNCERS = ("admin", "committee", "property")
URGENT_WORDS = {"紧急", "急", "【紧急】", "urgent", "--urgent", "-u", "!urgent"}
ALL_WORDS = {"全部", "所有", "全体", "所有群", "all", "everyone"}
_LIST_SPLIT = re.compile(r"[,，、+＋]")
CATCH_UP_LIMIT = 500  # runs looked at one by one after a long outage; the rest are jumped over

router = Router("announcements")
announce = router.command("announce", zh=["通知", "发通知"], en=["announce"], roles=ANNOUNCERS,
                      group="announcements")
schedule = router.command("schedule", zh=["定时通知"], en=["schedule"], roles=ANNOUNCERS,
                      group="announcements")
schedules = router.command("schedules", zh=["通知列表", "定时通知列表"], en=["schedules"],
                       roles=ANNOUNCERS, group="announcements")
unschedule = router.command("unschedule", zh=["取消通知"], en=["unschedule"], roles=ANNOUNCERS,
                        needs_number=True, group="announcements")


# --- commands -----------------------------------------------------------------------------------
@announce.handle
async def announce_now(ctx: Context) -> None:
    """Post an announcement now (or when the quiet hours end, unless it is urgent)."""
    urgent, rest = take_flags(ctx.args)
    chats, text = take_chats(ctx, rest, "announce")
    more_urgent, text = take_flags(text)
    urgent = urgent or more_urgent
    text = await checked_text(ctx, text, "announce")
    item = await ctx.tx.announcements.create(
        author_id=ctx.person.id, chats=chats, text=text, urgent=urgent, kind="once", rule=None,
        rule_text="", now=ctx.ts, next_run=ctx.ts)
    await ctx.record("announcement.create", f"announcement:{item.id}", ",".join(chats))
    held_until = effective_moment(ctx.config, item, ctx.now)
    if held_until > ctx.now:
        ctx.core.wake_at(held_until)
        await ctx.reply("announcements.held_quiet", number=item.id, quiet=quiet_text(ctx.config),
                        when=format_moment(held_until, ctx.lang), chats=chat_names(ctx, chats))
        return
    messages = await run_due(ctx, item, [])
    await ctx.reply("announcements.posted", number=item.id, count=len(chats), messages=messages,
                    chats=chat_names(ctx, chats), finish=await finish_text(ctx, item))


@schedule.handle
async def schedule_later(ctx: Context) -> None:
    """Schedule an announcement for a moment or on a repeating rule."""
    urgent, rest = take_flags(ctx.args)
    if not rest.strip():
        raise Refusal("announcements.usage.schedule")
    kind, rule, first, rest, said = read_when(ctx, rest)
    more_urgent, rest = take_flags(rest)
    chats, text = take_chats(ctx, rest, "schedule")
    text = await checked_text(ctx, text, "schedule")
    item = await ctx.tx.announcements.create(
        author_id=ctx.person.id, chats=chats, text=text, urgent=urgent or more_urgent, kind=kind,
        rule=rule, rule_text=said, now=ctx.ts, next_run=first.timestamp())
    await ctx.record("announcement.schedule", f"announcement:{item.id}", said)
    effective = effective_moment(ctx.config, item, first)
    ctx.core.wake_at(effective)
    key = "announcements.scheduled_repeat" if kind == "repeat" else "announcements.scheduled_once"
    await ctx.reply(key, number=item.id, when=format_moment(effective, ctx.lang), rule=said,
                    chats=chat_names(ctx, chats))
    if effective != first:
        await ctx.reply("announcements.note_quiet", quiet=quiet_text(ctx.config),
                        when=format_moment(effective, ctx.lang))


@schedules.handle
async def list_schedules(ctx: Context) -> None:
    """Show the announcements still to go out, soonest first, with their next run."""
    items = await ctx.tx.announcements.active()
    if not items:
        await ctx.reply("announcements.none_scheduled")
        return
    lines = [ctx.t("announcements.list_header", count=len(items))]
    for item in items:
        moment = effective_moment(ctx.config, item, at(ctx, item.next_run))
        lines.append(ctx.t("announcements.list_line", number=item.id,
                           rule=item.rule_text or ctx.t("announcements.once"),
                           when=format_moment(moment, ctx.lang), chats=chat_names(ctx, item.chats),
                           text=preview(item.text),
                           urgent=ctx.t("announcements.urgent_mark") if item.urgent else ""))
    await ctx.reply_text("\n".join(lines), key="announcements.list_header")


@unschedule.handle
async def cancel_schedule(ctx: Context) -> None:
    """Cancel a scheduled announcement (its author or the admin)."""
    number = number_of(ctx.args)
    item = await ctx.tx.announcements.get(number) if number else None
    if item is None:
        raise Refusal("announcements.not_found", number=number or ctx.args.strip()[:10])
    if item.status != "active":
        raise Refusal("announcements.not_active", number=item.id,
                      status=ctx.t(f"announcements.status.{item.status}"))
    if item.author_id != ctx.person.id and not ctx.has_role("admin"):
        raise Refusal("announcements.only_author", audit="denied",
                      target=f"announcement:{item.id}", number=item.id)
    await ctx.tx.announcements.cancel(item.id, ctx.person.id, ctx.ts)
    await ctx.record("announcement.cancel", f"announcement:{item.id}")
    await ctx.reply("announcements.cancelled", number=item.id,
                    rule=item.rule_text or ctx.t("announcements.once"),
                    chats=chat_names(ctx, item.chats))


# --- the sweep ----------------------------------------------------------------------------------
_woken: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@router.sweep("announcements.send")
async def send_due(core, now: datetime) -> None:
    """Send what is due (late within the grace window, older runs skipped and reported); re-arm wakes."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for item in await tx.announcements.due(now.timestamp()):
            skipped: list[datetime] = []
            await run_due(notifier, item, skipped)
            if skipped:
                await report_skipped(notifier, item, skipped)
        upcoming = await tx.announcements.active()
    woken = _woken.setdefault(core, set())
    for item in upcoming:
        moment = effective_moment(core.config, item, datetime.fromtimestamp(item.next_run, now.tzinfo))
        if moment > now and moment.timestamp() not in woken:
            woken.add(moment.timestamp())
            core.wake_at(moment)


async def run_due(notifier: Notifier, item: Announcement, skipped: list[datetime]) -> int:
    """Handle every scheduled moment of ``item`` up to now: post the latest one inside the grace
    window, skip the rest; move the announcement on.  Returns the outbox rows written."""
    now, tz = notifier.now, notifier.now.tzinfo
    grace = notifier.config.announcements.grace
    due: datetime | None = datetime.fromtimestamp(item.next_run, tz)
    to_send: datetime | None = None
    for _ in range(CATCH_UP_LIMIT):
        if due is None or due > now or effective_moment(notifier.config, item, due) > now:
            break
        if now - effective_moment(notifier.config, item, due) > grace:
            skipped.append(due)
        else:
            if to_send is not None:
                skipped.append(to_send)  # an earlier run in the window: only the latest goes out
            to_send = due
        due = next_moment(notifier.config, item, due)
    else:
        due = next_moment(notifier.config, item, now - grace)  # a very long outage: jump
    for moment in skipped:
        await notifier.tx.announcements.record_run(item.id, moment.timestamp(), notifier.ts,
                                                   "skipped", 0)
    messages = 0
    if to_send is not None:
        lateness = now - effective_moment(notifier.config, item, to_send)
        outcome = "late" if lateness > late_after(notifier.config) else "sent"
        if await notifier.tx.announcements.record_run(item.id, to_send.timestamp(), notifier.ts,
                                                      outcome, 0):
            messages = await post(notifier, item)
            await notifier.tx.announcements.set_messages(item.id, to_send.timestamp(), messages)
            await notifier.audit(None, None, f"announcement.{outcome}", f"announcement:{item.id}",
                                 to_send.isoformat())
    await notifier.tx.announcements.move_on(item.id, due.timestamp() if due else None)
    return messages


async def post(notifier: Notifier, item: Announcement) -> int:
    """Write the announcement to the outbox for each of its chats; return how many rows."""
    author = await notifier.tx.people.get(item.author_id)
    roles = notifier.core.roles_of(author) if author else frozenset()
    role = next((r for r in ANNOUNCERS if r in roles), None)
    written = 0
    for chat_key in item.chats:
        lang = notifier.core.language_of_chat(chat_key)
        by = author.name if author else "-"
        if role:
            by = t(lang, "announcements.by_role", name=by, role=t(lang, f"core.role.{role}"))
        key = "announcements.post_urgent" if item.urgent else "announcements.post"
        written += await notifier.post(chat_key, key, ref=f"announcement:{item.id}",
                                       text=item.text, by=by)
    return written


async def report_skipped(notifier: Notifier, item: Announcement, skipped: list[datetime]) -> None:
    """Tell the admin (and the author) privately which runs were too old to send."""
    admins = await notifier.core.person_ids(notifier.tx, notifier.core.people_with_role("admin"))
    for person_id in dict.fromkeys([*admins, item.author_id]):
        lang = await notifier.language_of(person_id)
        moments = join(lang, (format_moment(m, lang) for m in skipped[:5]))
        await notifier.tell(person_id, "announcements.skipped_report", number=item.id,
                            count=len(skipped), moments=moments, text=preview(item.text),
                            grace=int(notifier.config.announcements.grace.total_seconds() // 60))


# --- times --------------------------------------------------------------------------------------
def quiet_end(moment: datetime, quiet: tuple[time, time]) -> datetime | None:
    """When the quiet hours ``moment`` falls in end; None when it is not in quiet hours."""
    start, end = quiet
    clock = moment.timetz().replace(tzinfo=None)
    end_today = moment.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if start == end:
        return None
    if start < end:  # quiet inside one day, e.g. 12:00-14:00
        return end_today if start <= clock < end else None
    if clock >= start:
        return end_today + timedelta(days=1)
    if clock < end:
        return end_today
    return None


def effective_moment(config, item: Announcement, moment: datetime) -> datetime:
    """When a run scheduled for ``moment`` may actually go out (after the quiet hours)."""
    if item.urgent:
        return moment
    return quiet_end(moment, config.announcements.quiet_hours) or moment


def next_moment(config, item: Announcement, after: datetime) -> datetime | None:
    """The scheduled moment after ``after``: None for a one-off."""
    if item.kind != "repeat":
        return None
    trigger = CronTrigger(**item.rule, timezone=config.tz)
    return trigger.get_next_fire_time(None, after + timedelta(seconds=1))


def late_after(config) -> timedelta:
    """How late a run may be and still count as on time (a tick or two of the scheduler)."""
    return timedelta(seconds=max(60.0, 2 * config.scheduler.tick_seconds))


def read_when(ctx: Context, text: str) -> tuple[str, dict | None, datetime, str, str]:
    """(kind, cron fields, first moment, text after the time, the time as typed)."""
    try:
        repeat = parse_repeat(text, ctx.config.tz)
    except WhenProblem as problem:
        if problem.reason != "not_a_repeat":
            raise when_refusal(ctx, problem) from problem
    else:
        rule = {f.name: str(f) for f in repeat.trigger.fields if not f.is_default}
        first = repeat.trigger.get_next_fire_time(None, ctx.now + timedelta(seconds=1))
        if first is None:
            raise Refusal("announcements.never")
        rest = as_typed(text, repeat.rest)
        return "repeat", rule, first, rest, text.strip()[: len(text.strip()) - len(rest)].strip()
    try:
        moment = parse_moment(text, ctx.now)
    except WhenProblem as problem:
        raise when_refusal(ctx, problem) from problem
    rest = as_typed(text, moment.rest)
    return "once", None, moment.at, rest, text.strip()[: len(text.strip()) - len(rest)].strip()


def as_typed(text: str, rest: str) -> str:
    """The end of ``text`` that reads as ``rest`` once width-folded (the time parser folds full-width
    punctuation: the announcement keeps the author's own ，and ：)."""
    text, wanted = text.strip(), rest.strip()
    for start in range(len(text) + 1):
        if unicodedata.normalize("NFKC", text[start:]).strip() == wanted:
            return text[start:].strip()
    return wanted


def when_refusal(ctx: Context, problem: WhenProblem) -> Refusal:
    values = {"text": "", "when": "", "hour": ""}
    for name, value in problem.values.items():
        values[name] = format_moment(value, ctx.lang) if isinstance(value, datetime) else value
    return Refusal(f"announcements.when.{problem.reason}", **values)


def quiet_text(config) -> str:
    start, end = config.announcements.quiet_hours
    return f"{start:%H:%M}–{end:%H:%M}"


def at(ctx: Context, ts: float) -> datetime:
    return datetime.fromtimestamp(ts, ctx.config.tz)


# --- words --------------------------------------------------------------------------------------
def take_flags(text: str) -> tuple[bool, str]:
    """(urgent?, the text without the leading urgent flags)."""
    urgent = False
    rest = text.strip()
    while rest:
        head, tail = first_word(rest)
        if head.lower() in URGENT_WORDS:
            urgent, rest = True, tail.strip()
        elif rest.startswith("【紧急】"):
            urgent, rest = True, rest[len("【紧急】"):].strip()
        else:
            break
    return urgent, rest


def first_word(text: str) -> tuple[str, str]:
    """The first word of ``text`` and the rest (its line breaks kept)."""
    parts = text.split(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (text.strip(), "")


def chats_named(ctx: Context, word: str) -> list[str] | None:
    """The chat keys one word names (a key, a building, 全部), or None."""
    if word.lower() in ALL_WORDS:
        return list(ctx.config.chats)
    if word in ctx.config.chats:
        return [word]
    building = ctx.core.building_named(word)
    if building is None:
        return None
    chats = ctx.core.chats_of_building(building.key)
    if not chats:
        raise Refusal("announcements.no_group", building=building.name)
    return chats


def take_chats(ctx: Context, text: str, usage: str) -> tuple[list[str], str]:
    """The chats named at the start of ``text`` (one or more words), and the text after them."""
    chats: list[str] = []
    rest = text.strip()
    while rest:
        head, tail = first_word(rest)
        named = [chats_named(ctx, part) for part in _LIST_SPLIT.split(head) if part]
        if not named or any(n is None for n in named):
            break
        chats += [c for n in named for c in n]
        rest = tail.strip()
        if any(part.lower() in ALL_WORDS for part in _LIST_SPLIT.split(head)):
            break  # 全部 names every chat: "通知 全部 3栋电梯检修" keeps "3栋" in the text
    if not chats:
        if not text.strip():
            raise Refusal(f"announcements.usage.{usage}")
        raise Refusal("announcements.which_chats", word=text.split()[0][:20],
                      chats=", ".join(ctx.config.chats))
    return list(dict.fromkeys(chats)), rest


async def checked_text(ctx: Context, text: str, usage: str) -> str:
    """The announcement's text, refused when empty, too long, or carrying private numbers."""
    text = text.strip()
    if not text:
        raise Refusal(f"announcements.usage.{usage}")
    limit = ctx.config.announcements.max_length
    if len(text) > limit:
        raise Refusal("announcements.too_long", length=len(text), limit=limit)
    if ctx.core.carries_private(text):
        raise Refusal("announcements.private_detail")
    return text


def number_of(text: str) -> int | None:
    match = re.match(r"\s*[#＃]?\s*([0-9]{1,9})\b", text)
    return int(match.group(1)) if match else None


def chat_names(ctx: Context, chats) -> str:
    names = [ctx.config.chats[c].name or c if c in ctx.config.chats else c for c in chats]
    return join(ctx.lang, names)


def preview(text: str, length: int = 30) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= length and "\n" not in text.strip() else first[:length] + "…"


async def finish_text(ctx: Context, item: Announcement) -> str:
    """When the fan-out will have finished, given each platform's limits and what is queued."""
    limits = ctx.core.send_limits
    sends: dict[str, Counter] = {}
    for chat_key in item.chats:
        text = ctx.t("announcements.post", text=item.text, by="")
        for platform, address in ctx.core.group_addresses(chat_key):
            limit = limits[platform].max_text_length if platform in limits else None
            pieces = len(split_text(text, limit)) if limit else 1
            sends.setdefault(platform, Counter())[("group", address)] += pieces
    seconds = 0.0
    for platform, counter in sends.items():
        if platform not in limits:
            continue
        queued = await ctx.tx.outbox.count_pending([platform]) - sum(
            1 for chat in item.chats for p, _ in ctx.core.group_addresses(chat) if p == platform)
        seconds = max(seconds, estimate_seconds(limits[platform], counter, max(0, queued)))
    if seconds < 60:
        return ctx.t("announcements.finish_soon")
    return ctx.t("announcements.finish_at", when=format_moment(ctx.now + timedelta(seconds=seconds),
                                                                ctx.lang))
