"""Volunteer events (志愿活动): places, a waitlist, reminders, attendance and hours.

A coordinator creates an event — ``新活动 美化家园 周日 9点 2小时 中心花园 30人`` — or just says
``新活动`` and is asked for the title, the time, the length, the place and the number of places one
step at a time.  ``每周日 9点`` instead of a date makes a weekly template: its events are made a couple
of weeks ahead by a sweep.  The event is posted to its chats (its building's, or the compound-wide
ones) with 报名/取消 buttons.  Residents sign up (报名 N): a place while there is one, else the end of
the waitlist — decided by one SQL statement (and guarded by a trigger), so fifty people pressing at
once can never overfill it.  Cancelling (取消报名 N) promotes the first on the waitlist, who is told
privately; after the sign-up deadline the coordinator is told too.  Sweeps remind those going the
evening before and shortly before, and post events that still have free places two days ahead.
After the event the coordinator records who came (签到 N …); hours (志愿时长) add up from that.
A coordinator gets an event's sign-up list privately, with a CSV file (报名名单 N); an event called off
(取消活动 N) is announced in the groups it was posted to, and everyone on it is told privately.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import datetime, timedelta

from bot.commands import Router
from bot.context import BadAnswer, ButtonSpec, Context, Gather, Notifier, Refusal
from bot.format import hours, join, moment_with_weekday, repeat_line
from bot.i18n import t
from bot.messages import Attachment
from bot.parser import leading_number
from bot.when import WhenProblem, parse_day, parse_length, parse_moment, parse_repeat
from storage.volunteers import Event, EventFull, Template

COORDINATORS = ("coordinator",)  # admins pass every role check too
_CAPACITY = re.compile(r"^(?:(?:名额|限)\s*(?P<a>[-－−+＋]?[0-9０-９]+)\s*(?:人|名|个)?|"
                       r"(?P<b>[-－−+＋]?[0-9０-９]+)\s*"
                       r"(?:人|名|个名额|个人|places?|people|spots?|volunteers?)(?![a-z]))",
                       re.IGNORECASE)
_DEADLINE = re.compile(r"^(?:截止|报名截止|deadline|until)\s*[:：]?\s*", re.IGNORECASE)
_CANCEL_WORDS = {"取消", "算了", "退出", "cancel", "stop", "quit"}
STEPS = ("title", "when", "length", "place", "capacity")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so (OWASP)
MAX_HOURS = 24  # an event longer than this is a typo (99999小时), not an event

router = Router("volunteers")
events_command = router.command("events", zh=["活动", "活动列表"], en=["events"], group="volunteers")
join_command = router.command("join", zh=["报名"], en=["join", "signup"], needs_number=True,
                          group="volunteers")
leave = router.command("leave", zh=["取消报名"], en=["leave"], needs_number=True, group="volunteers")
my_events = router.command("myevents", zh=["我的活动"], en=["myevents"], group="volunteers")
hours_command = router.command("hours", zh=["志愿时长"], en=["hours"], group="volunteers")
attended = router.command("attended", zh=["签到"], en=["attended", "checkin"], roles=COORDINATORS,
                      needs_number=True, group="volunteers")
new_event = router.command("newevent", zh=["新活动", "发起活动"], en=["newevent"], roles=COORDINATORS,
                       group="volunteers")
cancel_event = router.command("cancelevent", zh=["取消活动"], en=["cancelevent"], roles=COORDINATORS,
                          needs_number=True, group="volunteers")
signups_command = router.command("signups", zh=["报名名单"], en=["signups"], roles=COORDINATORS,
                             needs_number=True, group="volunteers")


# --- residents -----------------------------------------------------------------------------------
@events_command.handle
async def list_events(ctx: Context) -> None:
    """Someone asks what is coming up: events with their free places, or one event in detail."""
    number = leading_number(ctx.args)
    if number is not None:
        await show_event(ctx, await event_from_args(ctx, "events"))
        return
    buildings = None if not ctx.chat_building else [ctx.chat_building, None]
    events = await ctx.tx.volunteers.upcoming(ctx.ts, buildings)
    if not events:
        await ctx.reply("volunteers.none_upcoming")
        return
    lines = [ctx.t("volunteers.upcoming_header", count=len(events))]
    lines += [await event_line(ctx, event, ctx.lang) for event in events]
    lines.append(ctx.t("volunteers.upcoming_footer"))
    await ctx.reply_text("\n".join(lines), key="volunteers.upcoming_header")


async def show_event(ctx: Context, event: Event) -> None:
    """One event in detail; its coordinator (privately) also sees who is going and waiting."""
    lines = [await event_line(ctx, event, ctx.lang)]
    if event.deadline:
        lines.append(ctx.t("volunteers.deadline_line", when=moment_with_weekday(
            event.deadline, ctx.config.tz, ctx.lang)))
    if not ctx.in_group and ctx.has_role("coordinator"):
        for status in ("going", "waiting"):
            names = [await ctx.name_of(s.person_id)
                     for s in await ctx.tx.volunteers.signups(event.id, status)]
            if names:
                lines.append(ctx.t(f"volunteers.names_{status}",
                                   names=join(ctx.lang, names)))
    await ctx.reply_text("\n".join(lines), key="volunteers.line", buttons=event_buttons(event))


@join_command.handle
async def sign_up(ctx: Context) -> None:
    """A resident signs up for event N: a place while there is one, else the waitlist."""
    event = await event_from_args(ctx, "join")
    await check_open_for_signup(ctx, event)
    mine = await ctx.tx.volunteers.signup_of(event.id, ctx.person.id)
    if mine is not None:
        if mine.status == "going":
            raise Refusal("volunteers.already_going", number=event.id, title=event.title)
        place = await ctx.tx.volunteers.waitlist_place(mine)
        raise Refusal("volunteers.already_waiting", number=event.id, title=event.title,
                      position=place)
    clash = await ctx.tx.volunteers.clash(ctx.person.id, event.starts_at, event.ends_at, event.id)
    if clash is not None:
        raise Refusal("volunteers.clash", number=event.id, other=clash.id, title=clash.title,
                      when=event_when(ctx, clash, ctx.lang))
    try:
        signup = await ctx.tx.volunteers.sign_up(event.id, ctx.person.id, ctx.ts)
    except EventFull as exc:
        raise Refusal("volunteers.full_try_again", number=event.id) from exc
    await ctx.record(f"event.{signup.status}", f"event:{event.id}")
    counts = await ctx.tx.volunteers.counts(event.id)
    values = dict(number=event.id, title=event.title, name=await ctx.display_name(ctx.person),
                  when=event_when(ctx, event, ctx.lang),
                  going=counts.going, capacity=event.capacity)
    if signup.status == "going":
        await answer(ctx, "volunteers.joined", **values,
                     gather=Gather(f"event:{event.id}:joined", "quiet.joined_many"))
    else:
        place = await ctx.tx.volunteers.waitlist_place(signup)
        await answer(ctx, "volunteers.waitlisted", position=place, **values,
                     gather=Gather(f"event:{event.id}:waitlisted", "quiet.waitlisted_many"))


@leave.handle
async def cancel_signup(ctx: Context) -> None:
    """A resident cancels: the first on the waitlist moves up and is told privately."""
    event = await event_from_args(ctx, "leave")
    mine = await ctx.tx.volunteers.signup_of(event.id, ctx.person.id)
    if mine is None:
        raise Refusal("volunteers.not_signed_up", number=event.id, title=event.title)
    if event.starts_at <= ctx.ts:
        raise Refusal("volunteers.already_started", number=event.id, title=event.title)
    await ctx.tx.volunteers.cancel(mine.id, ctx.ts)
    await ctx.record("event.cancel_signup", f"event:{event.id}", mine.status)
    if mine.status == "going":
        await promote(ctx, event)
    if event.deadline is not None and ctx.ts > event.deadline and event.created_by:
        name = await ctx.display_name(ctx.person, await ctx.language_of(event.created_by))
        await ctx.tell(event.created_by, "volunteers.late_cancel", ref=f"event:{event.id}",
                       number=event.id, title=event.title, name=name)
    await answer(ctx, "volunteers.left", number=event.id, title=event.title)


async def promote(ctx: Notifier, event: Event) -> None:
    """A place came free: the first on the waitlist takes it and hears so privately."""
    promoted = await ctx.tx.volunteers.promote_next(event.id, ctx.ts)
    if promoted is None:
        return
    await ctx.audit(promoted.person_id, None, "event.promoted", f"event:{event.id}")
    lang = await ctx.language_of(promoted.person_id)
    await ctx.tell(promoted.person_id, "volunteers.promoted", ref=f"event:{event.id}",
                   buttons=(ButtonSpec("volunteers.button.leave", "leave", str(event.id)),),
                   number=event.id, title=event.title,
                   when=event_when(ctx, event, lang),
                   place=event.place)


@my_events.handle
async def list_my_events(ctx: Context) -> None:
    """A resident asks for their upcoming sign-ups and waitlist places."""
    mine = await ctx.tx.volunteers.of_person(ctx.person.id, ctx.ts)
    if not mine:
        await ctx.reply_personal("volunteers.mine_none")
        return
    lines = [ctx.t("volunteers.mine_header", count=len(mine))]
    for event, signup in mine:
        when = event_when(ctx, event, ctx.lang)
        if signup.status == "going":
            lines.append(ctx.t("volunteers.mine_going", number=event.id, title=event.title,
                               when=when, place=event.place))
        else:
            place = await ctx.tx.volunteers.waitlist_place(signup)
            lines.append(ctx.t("volunteers.mine_waiting", number=event.id, title=event.title,
                               when=when, position=place))
    await ctx.reply_personal_text("\n".join(lines), key="volunteers.mine_header")


@hours_command.handle
async def volunteer_hours(ctx: Context) -> None:
    """Volunteer hours this month and year: one's own, or (for a coordinator) anyone's."""
    words = ctx.args.strip()
    name = words.lstrip("@＠")
    person = ctx.person
    if name:
        if not ctx.has_role("coordinator"):
            raise Refusal("volunteers.hours_only_own", audit="denied", target=f"hours:{name[:20]}",
                          who=ctx.core.describe_roles(COORDINATORS, ctx.lang))
        person = await ctx.person_named(words)  # asks which one when several go by the name
        if person is None:
            raise Refusal("volunteers.no_such_person", name=name[:20])
    month_start = ctx.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year_start = month_start.replace(month=1)
    month = await ctx.tx.volunteers.hours_of(person.id, month_start.timestamp(), ctx.ts + 1)
    year = await ctx.tx.volunteers.hours_of(person.id, year_start.timestamp(), ctx.ts + 1)
    no_shows = await ctx.tx.volunteers.no_shows(person.id)
    # someone else's record (their no-shows) goes to the coordinator privately, not to the group
    answer = ctx.reply if person.id == ctx.person.id else ctx.reply_private
    await answer("volunteers.hours", name=await ctx.display_name(person), month=hours(month),
                 year=hours(year), no_shows=no_shows, month_number=ctx.now.month,
                 year_number=ctx.now.year)


# --- coordinators --------------------------------------------------------------------------------
@attended.handle
async def record_attendance(ctx: Context) -> None:
    """The coordinator records who came (签到 N 名字…/全部); the others going were no-shows."""
    event = await event_from_args(ctx, "attended")
    if event.starts_at > ctx.ts:
        raise Refusal("volunteers.not_started", number=event.id, title=event.title,
                      when=moment_with_weekday(event.starts_at, ctx.config.tz, ctx.lang))
    going = await ctx.tx.volunteers.signups(event.id, "going")
    names = name_words(re.sub(r"^\s*[#＃]?\s*[0-9０-９]+", "", ctx.args))
    if not names:
        raise Refusal("volunteers.usage.attended")
    if names[0].lower() in ("全部", "都来了", "all", "everyone"):
        came = [s.person_id for s in going]
    else:
        # each name among those going: a name several of them go by is asked about (Refusal)
        going_ids = [s.person_id for s in going]
        came, unknown = [], []
        for name in names:
            person = await ctx.person_named(name, among=going_ids)
            if person is None:
                unknown.append(name.lstrip("@＠"))
            elif person.id not in came:
                came.append(person.id)
        if unknown:
            raise Refusal("volunteers.not_going_names", number=event.id,
                          names=join(ctx.lang, unknown[:10]))
    marked = await ctx.tx.volunteers.mark_attendance(event.id, came)
    missing = [await ctx.name_of(s.person_id) for s in going if s.person_id not in came]
    await ctx.record("event.attendance", f"event:{event.id}", f"{marked}/{len(going)}")
    await ctx.reply("volunteers.attendance", number=event.id, title=event.title, came=marked,
                    hours=hours(event.hours),
                    missing=join(ctx.lang, missing) or "-")


@cancel_event.handle
async def cancel_whole_event(ctx: Context) -> None:
    """A coordinator calls an event off: everyone signed up or waiting is told privately, and the
    groups it was posted to hear it (its title and time)."""
    event = await event_from_args(ctx, "cancelevent")
    if event.status != "open" or event.starts_at <= ctx.ts:
        raise Refusal("volunteers.cannot_cancel_event", number=event.id, title=event.title)
    await ctx.tx.volunteers.update(event.id, status="cancelled", remind_eve_at=None,
                                   remind_soon_at=None, advertise_at=None)
    reason = re.sub(r"^\s*[#＃]?\s*[0-9０-９]+\s*", "", ctx.args).strip()
    signups = await ctx.tx.volunteers.signups(event.id)
    for signup in signups:
        lang = await ctx.language_of(signup.person_id)
        await ctx.tell(signup.person_id, "volunteers.event_cancelled", ref=f"event:{event.id}",
                       number=event.id, title=event.title, reason=reason or "-",
                       when=event_when(ctx, event, lang))
    for chat_key in await ctx.tx.volunteers.posted_chats(event.id):
        lang = ctx.core.language_of_chat(chat_key)
        await ctx.post(chat_key, "volunteers.event_cancelled_post", ref=f"event:{event.id}",
                       number=event.id, title=event.title, reason=reason or "-",
                       when=event_when(ctx, event, lang))
    await ctx.record("event.cancel", f"event:{event.id}", reason)
    await ctx.reply("volunteers.cancelled_event", number=event.id, title=event.title,
                    count=len(signups))


@signups_command.handle
async def send_signup_list(ctx: Context) -> None:
    """A coordinator gets an event's sign-up list privately — who is going and who is waiting, by
    name (never a unit; phone numbers hidden) — with a CSV file of it; asked in a group, the list
    goes privately and the group gets a one-line pointer."""
    event = await event_from_args(ctx, "signups")
    signups = await ctx.tx.volunteers.signups(event.id)
    signups = [s for s in signups if s.status == "going"] + [s for s in signups if s.status != "going"]
    names = {s.person_id: await listed_name(ctx, s.person_id, ctx.lang) for s in signups}
    lines = [ctx.t("volunteers.signups_header", number=event.id, title=event.title,
                   when=event_when(ctx, event, ctx.lang),
                   going=sum(s.status == "going" for s in signups), capacity=event.capacity,
                   waiting=sum(s.status == "waiting" for s in signups))]
    for status in ("going", "waiting"):
        lines.append(ctx.t(f"volunteers.names_{status}", names=join(
            ctx.lang, [names[s.person_id] for s in signups if s.status == status]) or "-"))
    attachment = Attachment("document", filename=f"event-{event.id}-signups.csv",
                            content=signups_csv(ctx, signups, names),
                            caption=ctx.t("volunteers.signups_caption", number=event.id,
                                          count=len(signups)))
    text = "\n".join(lines)
    if not ctx.in_group:
        await ctx.reply_text(text, key="volunteers.signups_header", attachments=(attachment,))
    elif await ctx.tell_text(ctx.person.id, text, key="volunteers.signups_header",
                             attachments=(attachment,)):
        await ctx.reply("volunteers.signups_in_private", number=event.id)
    else:
        await ctx.reply("volunteers.signups_write_privately", number=event.id)
        return
    await ctx.record("event.signups", f"event:{event.id}", str(len(signups)))


async def listed_name(ctx: Notifier, person_id: int, lang: str) -> str:
    """A person's name for a list a coordinator keeps: any phone or unit number in it hidden."""
    return ctx.core.redact_values(lang, {"name": await ctx.name_of(person_id, lang)})["name"]


def signups_csv(ctx: Notifier, signups: list, names: dict[int, str]) -> str:
    """The sign-ups as CSV (number, name, status, signed up at), every cell safe to open in a
    spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("number", "name", "status", "signed up at"))
    for number, signup in enumerate(signups, 1):
        signed_up = datetime.fromtimestamp(signup.created_at, ctx.config.tz)
        writer.writerow([spreadsheet_safe(str(cell)) for cell in (
            number, names[signup.person_id], signup.status, f"{signed_up:%Y-%m-%d %H:%M}")])
    return buffer.getvalue()


def spreadsheet_safe(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP: CSV injection)."""
    if value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


@new_event.handle
async def create_event(ctx: Context) -> None:
    """A coordinator creates an event; whatever the words leave out is asked for step by step."""
    draft: dict = {"building": ctx.chat_building, "lang": ctx.lang}
    problem, notes = None, []
    try:
        read_event_words(ctx, ctx.args, draft, notes)
    except WhenProblem as exc:
        if exc.reason == "no_such_date":
            raise Refusal("volunteers.when.no_such_date", **exc.values) from exc
        problem = exc
    for step in ("title", "place"):  # posted to groups: asked for again, the rest is kept
        if draft.get(step) and ctx.core.carries_private(draft[step]):
            draft[step] = None
            notes.append((f"volunteers.private_{step}", {}))
    await continue_dialogue(ctx, draft, problem, notes)


@router.reply("volunteers.newevent")
async def dialogue_answer(ctx: Context) -> None:
    """The coordinator answers one question of the 新活动 dialogue."""
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    draft = dict(prompt.payload) if prompt else {}
    ctx.lang = draft.get("lang") or ctx.lang  # the dialogue goes on in the language it began in
    text = ctx.msg.text.strip()
    if text.lower() in _CANCEL_WORDS:
        await ctx.done_asking()
        await ctx.reply("volunteers.dialogue_cancelled")
        return
    step = draft.get("step", "title")
    if step in ("title", "place") and ctx.core.carries_private(text):
        await ctx.reply(f"volunteers.private_{step}")  # asked again: the answers so far are kept
        await ask_step(ctx, draft, step, None)
        return
    try:
        read_step(ctx, step, text, draft)
    except WhenProblem as problem:
        await ask_step(ctx, draft, step, problem)
        return
    except BadAnswer as bad:
        await ctx.reply(bad.key, **bad.values)
        await ask_step(ctx, draft, step, None)
        return
    except ValueError:
        await ctx.reply(f"volunteers.bad.{step}", given=text[:30])
        await ask_step(ctx, draft, step, None)
        return
    await continue_dialogue(ctx, draft, None)


async def continue_dialogue(ctx: Context, draft: dict, problem: WhenProblem | None,
                            notes: list[tuple[str, dict]] = ()) -> None:
    """Say what was wrong with the words given (``notes``), then ask the next missing thing, or
    make the event when nothing is missing."""
    for key, values in notes:
        await ctx.reply(key, **values)
    missing = next((s for s in STEPS if draft.get(s) is None), None)
    if problem is not None:
        missing = "when"
    if missing is not None:
        await ask_step(ctx, draft, missing, problem)
        return
    await ctx.done_asking()
    await make_from_draft(ctx, draft)


async def ask_step(ctx: Context, draft: dict, step: str, problem: WhenProblem | None) -> None:
    """Ask for one piece of the event (after saying what was wrong with the last answer)."""
    await ctx.ask_step("volunteers.newevent", draft, step, problem, title=draft.get("title") or "")


def read_event_words(ctx: Context, text: str, draft: dict, notes: list[tuple[str, dict]]) -> None:
    """Fill ``draft`` from ``新活动`` words: title first, then the time, then the rest in any order.
    What cannot be used is left out of the draft (so it is asked for) and said in ``notes``."""
    text = text.strip()
    if not text:
        return
    title, _, rest = text.partition(" ")
    if starts_with_time(ctx, text, title):  # 新活动 周六 上午10点 …: the title was left out
        notes.append(("volunteers.need_title", {"word": title[:20]}))
        rest = text
    else:
        draft["title"] = title[:40]
    if not rest.strip():
        return
    rest = read_when(ctx, rest, draft)
    place_words = []
    while rest:
        rest = rest.strip()
        deadline = _DEADLINE.match(rest)
        length = parse_length(rest)
        capacity = _CAPACITY.match(rest)
        head, _, tail = rest.partition(" ")
        if deadline:
            moment = parse_moment(rest[deadline.end():], ctx.now)
            draft["deadline"] = moment.at.timestamp()
            rest = moment.rest
        elif length:
            if length[0] > timedelta(hours=MAX_HOURS):
                notes.append(("volunteers.too_long", {"given": rest[:len(rest) - len(length[1])]
                                                      .strip()[:20], "max": MAX_HOURS}))
            else:
                draft["length"] = int(length[0].total_seconds() // 60)
            rest = length[1]
        elif capacity:
            number = signed_number(capacity.group("a") or capacity.group("b"))
            if 1 <= number <= 500:
                draft["capacity"] = number
            else:
                notes.append(("volunteers.bad.capacity", {"given": capacity.group(0).strip()[:20]}))
            rest = rest[capacity.end():]
        elif ctx.core.building_named(head) is not None:
            draft["building"] = ctx.core.building_named(head).key
            rest = tail
        else:
            place_words.append(head.lstrip("@＠"))
            rest = tail
    if place_words:
        draft["place"] = " ".join(place_words)[:60]


def signed_number(text: str) -> int:
    """``5``, ``-5``, ``－５`` → int."""
    text = unicodedata.normalize("NFKC", text).replace("−", "-")
    return int(text)


def starts_with_time(ctx: Context, text: str, word: str) -> bool:
    """Whether the first word of 新活动's words is a time (周六, 明天, 上午10点, 每周日 …), not a title."""
    try:
        parse_repeat(text, ctx.config.tz)
        return True
    except WhenProblem:
        pass  # 每天读书会 is a title
    try:
        if not parse_day(word, ctx.now, allow_past=True)[1]:
            return True
    except WhenProblem as problem:
        if problem.reason == "no_such_date":
            return True
    try:
        return not parse_moment(word, ctx.now, allow_past=True).rest
    except WhenProblem as problem:
        return problem.reason == "ambiguous_hour"


def read_when(ctx: Context, text: str, draft: dict) -> str:
    """The start (or the weekly repeat) at the start of ``text``; the rest of the text."""
    try:
        repeat = parse_repeat(text, ctx.config.tz)
    except WhenProblem as problem:
        if problem.reason != "not_a_repeat":
            raise
    else:
        if repeat.hour < 0:
            raise WhenProblem("not_a_time")
        draft["repeat"] = repeat_line(repeat)
        draft["when"] = repeat.next_after(ctx.now).timestamp()
        return repeat.rest
    moment = parse_moment(text, ctx.now)
    draft["when"] = moment.at.timestamp()
    draft["repeat"] = None
    return moment.rest


def read_step(ctx: Context, step: str, text: str, draft: dict) -> None:
    """Read one answer of the dialogue into ``draft``; ValueError or WhenProblem if unusable."""
    if step == "title":
        if not text or len(text) > 40:
            raise ValueError(step)
        draft["title"] = text
    elif step == "when":
        read_when(ctx, text, draft)
    elif step == "length":
        length = parse_length(text)
        if length is None:
            raise ValueError(step)
        if length[0] > timedelta(hours=MAX_HOURS):
            raise BadAnswer("volunteers.too_long", given=text[:20], max=MAX_HOURS)
        draft["length"] = int(length[0].total_seconds() // 60)
    elif step == "place":
        draft["place"] = text[:60]
    elif step == "capacity":
        number = leading_number(text)
        if number is None or not 1 <= number <= 500:
            raise ValueError(step)
        draft["capacity"] = number


async def make_from_draft(ctx: Context, draft: dict) -> None:
    """Create the event (or the template and its first events) and post it to its chats."""
    if draft.get("deadline") and draft["deadline"] > draft["when"]:
        raise Refusal("volunteers.deadline_after_start")
    if ctx.core.carries_private(draft["title"], draft["place"]):
        raise Refusal("volunteers.private_detail")  # the event is posted to groups
    fields = dict(title=draft["title"], minutes=int(draft["length"]), place=draft["place"],
                  capacity=int(draft["capacity"]), building=draft.get("building"))
    if draft.get("repeat"):
        template = await ctx.tx.volunteers.create_template(
            repeat=draft["repeat"], created_by=ctx.person.id, now=ctx.ts, **fields)
        made = await make_template_events(ctx, template)
        await ctx.record("event.template", f"template:{template.id}", draft["repeat"])
        if not made:
            raise Refusal("volunteers.template_made_nothing")
        event = made[0]
    else:
        start = datetime.fromtimestamp(draft["when"], ctx.config.tz)
        event = await add_event(ctx, start, draft.get("deadline"), created_by=ctx.person.id,
                                **fields)
        made = [event]
    await ctx.record("event.create", f"event:{event.id}", event.title)
    key = "volunteers.created_weekly" if draft.get("repeat") else "volunteers.created"
    await ctx.reply(key, number=event.id, title=event.title, count=len(made),
                    when=event_when(ctx, event, ctx.lang),
                    place=event.place, capacity=event.capacity,
                    where=where_text(ctx, event.building, ctx.lang))
    start = datetime.fromtimestamp(event.starts_at, ctx.config.tz)
    if not draft.get("repeat") and start.year > ctx.now.year and start - ctx.now > timedelta(days=60):
        # 5月1日 said on 1 June: that day has passed this year, so it is next year's
        await ctx.reply("volunteers.next_year", number=event.id, title=event.title, year=start.year,
                        when=event_when(ctx, event, ctx.lang))
    for chat_key in event_chats(ctx, event):
        await post_event(ctx, chat_key, event, "volunteers.post_new")


async def add_event(ctx: Notifier, start: datetime, deadline: float | None, *, title: str,
                    minutes: int, place: str, capacity: int, building: str | None,
                    created_by: int | None, template_id: int | None = None) -> Event | None:
    """Store one event with its reminder and post moments (those already past are skipped)."""
    settings = ctx.config.volunteers
    evening = (start - timedelta(days=1)).replace(
        hour=settings.remind_evening.hour, minute=settings.remind_evening.minute, second=0,
        microsecond=0)
    soon = start - settings.remind_before
    advertise = start - settings.advertise_before

    def future(moment: datetime) -> float | None:
        return moment.timestamp() if moment > ctx.now else None

    return await ctx.tx.volunteers.create(
        title=title, starts_at=start.timestamp(),
        ends_at=(start + timedelta(minutes=minutes)).timestamp(), place=place, capacity=capacity,
        building=building, deadline=deadline, created_by=created_by, now=ctx.ts,
        remind_eve_at=future(evening), remind_soon_at=future(soon),
        advertise_at=future(advertise), template_id=template_id)


async def make_template_events(ctx: Notifier, template: Template) -> list[Event]:
    """Make the template's events up to ``[volunteers] make_ahead`` from now."""
    repeat = parse_repeat(template.repeat, ctx.config.tz)
    until = ctx.now + ctx.config.volunteers.make_ahead
    moment = max(datetime.fromtimestamp(template.made_until, ctx.config.tz), ctx.now)
    made = []
    while True:
        start = repeat.next_after(moment + timedelta(seconds=1))
        if start is None or start > until:
            break
        event = await add_event(ctx, start, None, title=template.title, minutes=template.minutes,
                                place=template.place, capacity=template.capacity,
                                building=template.building, created_by=template.created_by,
                                template_id=template.id)
        if event is not None:
            made.append(event)
        moment = start
    await ctx.tx.volunteers.template_made_until(template.id, moment.timestamp())
    return made


# --- sweeps --------------------------------------------------------------------------------------
@router.sweep("volunteers.templates")
async def make_weekly_events(core, now: datetime) -> None:
    """Weekly templates always have their events made a couple of weeks ahead (each is posted
    two days before, like any event with free places)."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for template in await tx.volunteers.templates():
            if template.made_until < (now + core.config.volunteers.make_ahead).timestamp() - 3600:
                await make_template_events(notifier, template)


@router.sweep("volunteers.reminders")
async def remind_volunteers(core, now: datetime) -> None:
    """Those going are reminded the evening before and shortly before the start."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for column, key in (("remind_eve_at", "volunteers.remind_eve"),
                            ("remind_soon_at", "volunteers.remind_soon")):
            for event in await tx.volunteers.due(column, notifier.ts):
                await tx.volunteers.update(event.id, **{column: None})
                if event.status != "open" or event.starts_at <= notifier.ts:
                    continue
                for signup in await tx.volunteers.signups(event.id, "going"):
                    lang = await notifier.language_of(signup.person_id)
                    await notifier.tell(
                        signup.person_id, key, ref=f"event:{event.id}",
                        buttons=(ButtonSpec("volunteers.button.leave", "leave", str(event.id)),),
                        number=event.id, title=event.title, place=event.place,
                        when=event_when(notifier, event, lang))


@router.sweep("volunteers.advertise")
async def advertise_free_places(core, now: datetime) -> None:
    """Two days before, an event that still has free places is posted to its chats."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for event in await tx.volunteers.due("advertise_at", notifier.ts):
            await tx.volunteers.update(event.id, advertise_at=None)
            if event.status != "open" or event.starts_at <= notifier.ts or (
                    event.deadline is not None and event.deadline <= notifier.ts):
                continue
            counts = await tx.volunteers.counts(event.id)
            if counts.going >= event.capacity:
                continue
            for chat_key in event_chats(notifier, event):
                await post_event(notifier, chat_key, event, "volunteers.post_free")


# --- helpers -------------------------------------------------------------------------------------
async def post_event(ctx: Notifier, chat_key: str, event: Event, key: str) -> None:
    """Post an event to a group chat with its 报名/取消 buttons."""
    lang = ctx.core.language_of_chat(chat_key)
    counts = await ctx.tx.volunteers.counts(event.id)
    if await ctx.post(chat_key, key, ref=f"event:{event.id}", buttons=event_buttons(event),
                      number=event.id, title=event.title, place=event.place,
                      when=event_when(ctx, event, lang),
                      going=counts.going, capacity=event.capacity,
                      free=max(0, event.capacity - counts.going),
                      where=where_text(ctx, event.building, lang)):
        await ctx.tx.volunteers.remember_posted(event.id, chat_key)


def event_buttons(event: Event) -> tuple[ButtonSpec, ...]:
    return (ButtonSpec("volunteers.button.join", "join", str(event.id)),
            ButtonSpec("volunteers.button.leave", "leave", str(event.id)))


def event_chats(ctx: Notifier, event: Event) -> list[str]:
    """Where an event is posted: its building's chats, else the compound-wide ones."""
    if event.building:
        chats = ctx.core.chats_of_building(event.building)
        if chats:
            return chats
    return list(ctx.config.volunteers.chats) or [
        k for k, c in ctx.config.chats.items() if c.building is None]


async def event_line(ctx: Notifier, event: Event, lang: str) -> str:
    counts = await ctx.tx.volunteers.counts(event.id)
    key = "volunteers.line_full" if counts.going >= event.capacity else "volunteers.line"
    return t(lang, key, number=event.id, title=event.title, place=event.place,
             when=event_when(ctx, event, lang), going=counts.going,
             capacity=event.capacity, free=max(0, event.capacity - counts.going),
             waiting=counts.waiting)


def name_words(text: str) -> list[str]:
    """The names in a list someone typed (``李阿姨，alice、李阿姨 (resident)``): split at spaces and
    commas, a mark in brackets kept with the name before it."""
    text = re.sub(r"\s+(?=[（(])", "", text)
    return [w for w in re.split(r"[\s,，、;；]+", text) if w.strip("@＠")]


async def event_from_args(ctx: Context, command: str) -> Event:
    """The event a command names by number, or a refusal saying how to name one."""
    number = ctx.number_in("volunteers", command)
    event = await ctx.tx.volunteers.get(number)
    if event is None:
        raise Refusal("volunteers.not_found", number=number)
    return event


async def check_open_for_signup(ctx: Context, event: Event) -> None:
    if event.status != "open":
        raise Refusal("volunteers.event_cancelled_already", number=event.id, title=event.title)
    if event.starts_at <= ctx.ts:
        raise Refusal("volunteers.already_started", number=event.id, title=event.title)
    if event.deadline is not None and event.deadline <= ctx.ts:
        raise Refusal("volunteers.deadline_passed", number=event.id, title=event.title,
                      when=moment_with_weekday(event.deadline, ctx.config.tz, ctx.lang))


async def answer(ctx: Context, key: str, gather: Gather | None = None, **values: object) -> None:
    """Answer where asked — but a button pressed under a group post is answered privately, so
    the post itself stays for everyone else.  In a group, ``gather`` lets the answers to many
    people gather into one message (see bot/context.py)."""
    if ctx.msg.callback and ctx.in_group:
        await ctx.tell(ctx.person.id, key, **values)
    else:
        await ctx.reply(key, gather=gather, **values)


def event_when(ctx: Notifier, event: Event, lang: str) -> str:
    """When an event is: ``12月6日 周日 09:00–11:00``; with the end's date when it ends on another
    day, and the year of any date not in this year (``2027年5月1日 周六 10:00–11:00``)."""
    tz, year = ctx.config.tz, ctx.now.year
    start = datetime.fromtimestamp(event.starts_at, tz)
    end = datetime.fromtimestamp(event.ends_at, tz)
    text = day_and_time(start, lang, start.year != year)
    if end.date() == start.date():
        return f"{text}–{end:%H:%M}"
    return f"{text} – {day_and_time(end, lang, end.year != year)}"


def day_and_time(moment: datetime, lang: str, with_year: bool) -> str:
    """``12月6日 周日 09:00`` / ``Sun Dec 6 09:00`` (as ``moment_with_weekday``), with the year if
    asked: ``2027年5月1日 周六 10:00`` / ``Sat May 1 2027 10:00``."""
    weekday = t(lang, f"core.weekday.{moment.weekday()}")
    if lang == "zh":
        year = f"{moment.year}年" if with_year else ""
        return f"{year}{moment.month}月{moment.day}日 {weekday} {moment:%H:%M}"
    year = f" {moment.year}" if with_year else ""
    return f"{weekday} {moment:%b} {moment.day}{year} {moment:%H:%M}"


def where_text(ctx: Notifier, building: str | None, lang: str) -> str:
    found = ctx.core.building(building) if building else None
    return found.name if found else t(lang, "volunteers.compound_wide")
