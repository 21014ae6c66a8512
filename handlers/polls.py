"""Polls (投票 / 意见征集): the owners' committee, property or the office consult the residents.

``发起投票 更换消防门？ 选项 同意、不同意、弃权 截止 周五 20点 范围 3栋,5栋 每户一票 不公开`` (or
``/poll Replace the fire doors? options yes, no until Friday 8pm scope 3,5 per household secret``)
starts poll #N and posts it, with a button per option, to the groups of the buildings in scope (else
to the compound-wide groups); WeChat users type ``投票 N A``, the line under the buttons says so.
Whatever the one-line form leaves out (the question, the options) is asked for step by step, and the
deadline too (default: seven days, at 20:00).  The scope defaults to the building of the group it
was started in, else the whole compound (``范围 全部``).

``投票 N A`` (an option's letter, number or words) votes; voting again changes the vote until the
deadline.  By default (每户一票) a registered household — the building and unit of 登记 — has one
vote: two residents registered in the same unit share it, the later vote replaces the earlier and
both are told privately; an unregistered resident is asked to 登记 first.  ``每人一票`` counts people
instead.  Turnout is the share of registered households in scope.  ``投票结果 N`` shows the counts so
far (and, to staff, per building); ``结束投票 N`` (its author or the admin) closes it early.  A day
before the deadline each building's captains get, privately, the registered units that have not
voted, for door-to-door reminders; at the deadline the result is posted where the poll was posted,
once (closing and posting are one transaction guarded by the poll's status, so restarts never post
twice), with a chart of the counts drawn as the weekly digest draws its own (``bot.digest``; the
sweep renders it before it takes the write lock).  ``linli export polls`` writes the results.

**Secret polls (不公开).**  Who voted and what was chosen are stored apart (storage/polls.py):
``poll_voters`` holds the household (for turnout and the captains' lists) and never an option;
``poll_ballots`` holds the option under a ballot key ``HMAC-SHA256(secret_key, household)``, where
``secret_key`` is 32 random bytes made for this poll alone.  While the poll is open the bot can find
a household's ballot again — only to change it — and no command shows it; at the close the key is
dropped (set to NULL), and from then on the ballots are bare counts: nobody, staff, the board and
whoever reads the database or a backup included, can tell who voted what.  Nothing else keeps the
link either: the confirmation a voter gets does not name the option, the audit row has no option, per
building only turnout is shown (never counts), and the stored text of the vote message itself is
blanked.  What remains is what no bot can hide: an operator who copies the live database during the
poll (key and all) and hashes every household could match them; SQLite may keep old page images (WAL)
until they are overwritten; and a vote typed in a group is seen by that group (the post asks for
votes by button or in a private chat).

**Floor area.**  With the units' floor areas in the config (``[buildings] floor_areas``: building →
unit → m²), the result also says what share of the floor area in scope belongs to households that
voted (every listed unit counts, registered or not, as the Civil Code counts all owners); staff also
see, privately, the area behind each option of a poll per household that is not secret — never in a
group, where one flat's area could tell which way it voted.

**Not a legal vote.**  A chat poll is a consultation (意见征集).  It is not the vote of an owners'
assembly (业主大会) under the Civil Code (民法典 art. 278), which counts owners and their floor area,
needs a quorum and its own procedure; the result post says so.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import unicodedata
import weakref
from datetime import datetime, timedelta

from bot.commands import Router
from bot.context import BadAnswer, ButtonSpec, Context, Notifier, Refusal
from bot.digest import render_poll_chart
from bot.format import join, moment_with_weekday, name_range
from bot.i18n import t
from bot.messages import Attachment
from bot.when import WhenProblem, parse_day, parse_moment
from storage.polls import Poll

log = logging.getLogger(__name__)
AUTHORS = ("committee", "property", "admin")
STAFF = ("committee", "property", "admin", "captain")
LETTERS = "ABCDEFGHIJ"  # at most ten options
MAX_QUESTION = 200
MAX_OPTION = 40
DEFAULT_DAYS = 7
DEFAULT_HOUR = 20
REMIND_BEFORE = timedelta(days=1)
ALL_WORDS = {"全部", "所有", "全体", "全小区", "all", "everyone", "compound"}
_CANCEL_WORDS = {"取消", "算了", "退出", "cancel", "stop", "quit"}
_SKIP_WORDS = {"默认", "跳过", "不用", "default", "skip", "-"}
_SPLIT = re.compile(r"\s*[、,，;；/|｜]\s*")
_BOUNDARY = r"(?:(?<=[\s?？。，,;；:：!！])|^)"
_MARKER = re.compile(_BOUNDARY + r"(?:(?P<zh>选项|截止时间|截止|范围)|(?P<en>options?|choices|deadline|"
                     r"until|scope)(?![A-Za-z]))\s*[:：]?", re.IGNORECASE)
_FLAG_WORDS = {
    "每户一票": ("per_household", True), "一户一票": ("per_household", True),
    "per household": ("per_household", True), "per-household": ("per_household", True),
    "--household": ("per_household", True),
    "每人一票": ("per_household", False), "一人一票": ("per_household", False),
    "per person": ("per_household", False), "per-person": ("per_household", False),
    "--person": ("per_household", False),
    "不公开": ("secret", True), "无记名": ("secret", True), "匿名": ("secret", True),
    "secret": ("secret", True), "--secret": ("secret", True), "anonymous": ("secret", True),
}
_FLAGS = re.compile(r"(?:(?<=[\s，,、。])|^)(" + "|".join(
    re.escape(w) for w in sorted(_FLAG_WORDS, key=len, reverse=True)) + r")(?=[\s，,、。.]|$)",
    re.IGNORECASE)
_OPTION_MARK = re.compile(r"^(?:[A-Ja-j]|[1-9]|10)\s*[.．、:：)）]\s*")
STEPS = ("question", "options", "deadline")

router = Router("polls")
poll_command = router.command("poll", zh=["发起投票", "意见征集"], en=["poll"], roles=AUTHORS,
                              group="announcements")
vote_command = router.command("vote", zh=["投票"], en=["vote"], needs_number=True, group="general")
result_command = router.command("pollresult", zh=["投票结果"], en=["pollresult", "pollresults"],
                                needs_number=True, group="general")
close_command = router.command("closepoll", zh=["结束投票"], en=["closepoll"], roles=AUTHORS,
                               needs_number=True, group="announcements")


# --- starting a poll -----------------------------------------------------------------------------
@poll_command.handle
async def start_poll(ctx: Context) -> None:
    """Staff start a poll; what the words leave out is asked for step by step."""
    draft: dict = {"lang": ctx.lang, "per_household": True, "secret": False,
                   "buildings": [ctx.chat_building] if ctx.chat_building else []}
    notes: list[tuple[str, dict]] = []
    problem = None
    try:
        read_poll_words(ctx, ctx.args, draft, notes)
    except WhenProblem as exc:
        problem = exc
    for step in ("question", "options"):
        if draft.get(step) and ctx.core.carries_private(*as_list(draft[step])):
            draft[step] = None
            notes.append(("polls.private_detail", {}))
    if draft.get("question") is None or draft.get("options") is None or problem is not None:
        draft["dialogue"] = True
    await continue_dialogue(ctx, draft, problem, notes)


@router.reply("polls.new")
async def dialogue_answer(ctx: Context) -> None:
    """The author answers one question of the 发起投票 dialogue."""
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    draft = dict(prompt.payload) if prompt else {}
    ctx.lang = draft.get("lang") or ctx.lang
    text = ctx.msg.text.strip()
    if text.lower() in _CANCEL_WORDS:
        await ctx.done_asking()
        await ctx.reply("polls.dialogue_cancelled")
        return
    step = draft.get("step", "question")
    try:
        await read_step(ctx, step, text, draft)
    except WhenProblem as problem:
        await ask_step(ctx, draft, step, problem)
        return
    except BadAnswer as bad:
        await ctx.reply(bad.key, **bad.values)
        await ask_step(ctx, draft, step, None)
        return
    await continue_dialogue(ctx, draft, None)


async def continue_dialogue(ctx: Context, draft: dict, problem: WhenProblem | None,
                            notes: list[tuple[str, dict]] = ()) -> None:
    for key, values in notes:
        await ctx.reply(key, **values)
    if problem is not None:
        await ask_step(ctx, draft, "deadline", problem)
        return
    missing = next((s for s in STEPS if draft.get(s) is None
                    and (s != "deadline" or draft.get("dialogue"))), None)
    if missing is not None:
        await ask_step(ctx, draft, missing, None)
        return
    await ctx.done_asking()
    await make_poll(ctx, draft)


async def ask_step(ctx: Context, draft: dict, step: str, problem: WhenProblem | None) -> None:
    await ctx.ask_step("polls.new", draft, step, problem, question=draft.get("question") or "")


async def read_step(ctx: Context, step: str, text: str, draft: dict) -> None:
    if step == "question":
        if not text or len(text) > MAX_QUESTION:
            raise BadAnswer("polls.bad_question", max=MAX_QUESTION)
        if ctx.core.carries_private(text):
            raise BadAnswer("polls.private_detail")
        draft["question"] = text
    elif step == "options":
        options = split_options(text)
        check_options(options)
        if ctx.core.carries_private(*options):
            raise BadAnswer("polls.private_detail")
        draft["options"] = options
    elif step == "deadline":
        draft["deadline"] = default_deadline(ctx) if text.lower() in _SKIP_WORDS else \
            read_deadline(ctx, text)


def read_poll_words(ctx: Context, text: str, draft: dict, notes: list[tuple[str, dict]]) -> None:
    """Fill ``draft`` from the one-line form; a bad deadline raises WhenProblem (asked again)."""
    text = text.strip()
    for match in _FLAGS.finditer(text):
        name, value = _FLAG_WORDS[match.group(1).lower()]
        draft[name] = value
    text = _FLAGS.sub(" ", text).strip()
    markers = list(_MARKER.finditer(text))
    question = (text[:markers[0].start()] if markers else text).strip()
    if question:
        if len(question) > MAX_QUESTION:
            raise Refusal("polls.bad_question", max=MAX_QUESTION)
        draft["question"] = question
    deadline = None
    for i, match in enumerate(markers):
        value = text[match.end():markers[i + 1].start() if i + 1 < len(markers) else len(text)]
        value = value.strip(" \t\n:：")
        kind = (match.group("zh") or match.group("en")).lower()
        if kind in ("选项", "option", "options", "choices"):
            options = split_options(value)
            try:
                check_options(options)
            except BadAnswer as bad:
                notes.append((bad.key, bad.values))
            else:
                draft["options"] = options
        elif kind in ("范围", "scope"):
            draft["buildings"] = read_scope(ctx, value)
        else:
            deadline = value
    if deadline is not None:
        draft["deadline"] = read_deadline(ctx, deadline)
    elif draft.get("question") and draft.get("options"):
        draft["deadline"] = default_deadline(ctx)


def split_options(text: str) -> list[str]:
    parts = [p for p in _SPLIT.split(text.strip()) if p.strip()]
    if len(parts) == 1 and len(parts[0].split()) > 1:
        parts = parts[0].split()
    return [_OPTION_MARK.sub("", p).strip() or p.strip() for p in parts]


def check_options(options: list[str]) -> None:
    if len(options) < 2:
        raise BadAnswer("polls.too_few_options")
    if len(options) > len(LETTERS):
        raise BadAnswer("polls.too_many_options", max=len(LETTERS))
    if any(len(o) > MAX_OPTION for o in options):
        raise BadAnswer("polls.option_too_long", max=MAX_OPTION)
    if len({fold(o) for o in options}) < len(options):
        raise BadAnswer("polls.same_options")


def read_scope(ctx: Context, text: str) -> list[str]:
    words = [w for w in re.split(r"[\s,，、+＋/]+", text) if w]
    if not words or any(w.lower() in ALL_WORDS for w in words):
        return []
    buildings = []
    for word in words:
        building = ctx.core.building_named(word)
        if building is None:
            raise Refusal("polls.unknown_building", name=word[:20],
                          buildings=name_range([b.name for b in ctx.core.buildings], ctx.lang))
        buildings.append(building.key)
    return list(dict.fromkeys(buildings))


def read_deadline(ctx: Context, text: str) -> float:
    """A moment (``周五 20点``) or a day (``12月10日``: at 20:00); WhenProblem when unusable."""
    try:
        moment = parse_moment(text, ctx.now)
        if moment.rest.strip():
            raise WhenProblem("not_a_time")
        return moment.at.timestamp()
    except WhenProblem as problem:
        if problem.reason != "no_time":
            raise
    day, rest = parse_day(text, ctx.now)
    at = day.replace(hour=DEFAULT_HOUR, minute=0, second=0, microsecond=0)
    if rest.strip():
        raise WhenProblem("not_a_time")
    if at <= ctx.now:
        raise WhenProblem("past", when=at)
    return at.timestamp()


def default_deadline(ctx: Context) -> float:
    return (ctx.now + timedelta(days=DEFAULT_DAYS)).replace(
        hour=DEFAULT_HOUR, minute=0, second=0, microsecond=0).timestamp()


async def make_poll(ctx: Context, draft: dict) -> None:
    """Store the poll and post it to the groups in scope."""
    buildings = list(draft.get("buildings") or [])
    chats = poll_chats(ctx, buildings)
    closes_at = float(draft["deadline"])
    remind = closes_at - REMIND_BEFORE.total_seconds()
    poll = await ctx.tx.polls.create(
        author_id=ctx.person.id, question=draft["question"], options=list(draft["options"]),
        buildings=buildings, chats=chats, per_household=bool(draft.get("per_household", True)),
        secret=bool(draft.get("secret")), lang=ctx.lang, now=ctx.ts, closes_at=closes_at,
        remind_at=remind if remind > ctx.ts else None)
    await ctx.record("poll.create", f"poll:{poll.id}", ",".join(buildings) or "all")
    for moment in (closes_at, poll.remind_at):
        if moment:
            ctx.core.wake_at(datetime.fromtimestamp(moment, ctx.config.tz))
    await ctx.reply("polls.created", number=poll.id, question=poll.question,
                    when=moment_with_weekday(closes_at, ctx.config.tz, ctx.lang),
                    scope=scope_text(ctx, poll, ctx.lang), count=len(chats),
                    kind=ctx.t("polls.kind.household" if poll.per_household else "polls.kind.person"),
                    secret=ctx.t("polls.kind.secret") if poll.secret else "")
    for chat_key in chats:
        await post_poll(ctx, chat_key, poll)


def poll_chats(ctx: Notifier, buildings: list[str]) -> list[str]:
    """The groups of the buildings in scope; else (or when none has a group) the compound-wide ones."""
    chats = [c for b in buildings for c in ctx.core.chats_of_building(b)]
    return list(dict.fromkeys(chats)) or [k for k, c in ctx.config.chats.items() if c.building is None]


async def post_poll(ctx: Notifier, chat_key: str, poll: Poll) -> None:
    lang = ctx.core.language_of_chat(chat_key)
    lines = [t(lang, "polls.post_header", number=poll.id, question=poll.question)]
    lines += [t(lang, "polls.option_line", letter=LETTERS[i], option=o)
              for i, o in enumerate(poll.options)]
    lines.append(t(lang, "polls.post_deadline",
                   when=moment_with_weekday(poll.closes_at, ctx.config.tz, lang),
                   scope=scope_text(ctx, poll, lang)))
    lines.append(t(lang, "polls.post_household" if poll.per_household else "polls.post_person"))
    if poll.secret:
        lines.append(t(lang, "polls.post_secret"))
    lines.append(t(lang, "polls.consultation"))
    await ctx.post_text(chat_key, "\n".join(lines), key="polls.post_header", ref=f"poll:{poll.id}",
                        buttons=poll_buttons(poll), lang=lang)


def poll_buttons(poll: Poll) -> list[ButtonSpec]:
    return [ButtonSpec(f"polls.button.{LETTERS[i].lower()}", "vote", f"{poll.id} {LETTERS[i]}")
            for i in range(len(poll.options))]


# --- voting --------------------------------------------------------------------------------------
@vote_command.handle
async def cast_vote(ctx: Context) -> None:
    """A resident in scope votes (or changes their household's vote) until the deadline."""
    try:
        await _cast_vote(ctx)
    except Refusal as refusal:
        if ctx.in_group and ctx.msg.callback:  # a button under the post: the post stays as it is
            await ctx.tell(ctx.person.id, refusal.key, **refusal.values)
            return
        raise


async def _cast_vote(ctx: Context) -> None:
    poll = await poll_from_args(ctx, "vote")
    if poll.status != "open" or poll.closes_at <= ctx.ts:
        raise Refusal("polls.closed", number=poll.id)
    said = re.sub(r"^\s*[#＃]?\s*[0-9０-９]+", "", ctx.args).strip()
    options = options_text(poll, ctx.lang)
    if not said:
        raise Refusal("polls.which_option", number=poll.id, options=options)
    option = pick_option(poll, said)
    if option is None:
        raise Refusal("polls.no_such_option", number=poll.id, given=said[:20], options=options)
    person = ctx.person
    if poll.buildings and person.building not in poll.buildings:
        if person.building is None:
            raise Refusal("polls.register_first", number=poll.id)
        raise Refusal("polls.not_in_scope", number=poll.id, scope=scope_text(ctx, poll, ctx.lang))
    if poll.per_household:
        if person.building is None or person.unit is None:
            raise Refusal("polls.register_first", number=poll.id)
        voter = f"h:{person.building}/{person.unit}"
    else:
        voter = f"p:{person.id}"
    before = await ctx.tx.polls.vote(poll.id, voter, option, building=person.building,
                                     unit=person.unit, person_id=person.id)
    if poll.secret:  # the message itself ("投票 3 A") is not kept beside the sender
        await ctx.tx.polls.forget_words(ctx.msg.platform, ctx.msg.chat_id, ctx.msg.message_id,
                                        f"{ctx.parsed.word if ctx.parsed else ''} {poll.id}")
    await ctx.record("poll.vote", f"poll:{poll.id}")  # never the option
    values = dict(number=poll.id, question=poll.question)
    if not poll.secret:
        values.update(letter=LETTERS[option], option=poll.options[option])
    suffix = "_secret" if poll.secret else ""
    if before is None:
        await answer(ctx, f"polls.voted{suffix}", **values)
    elif before.person_id == person.id:
        await answer(ctx, f"polls.changed{suffix}", **values)
    else:
        other_lang = await ctx.language_of(before.person_id)
        await answer(ctx, f"polls.voted_replacing{suffix}",
                     other=await ctx.display_name(before.person_id), **values)
        await ctx.tell(before.person_id, f"polls.replaced_by{suffix}", ref=f"poll:{poll.id}",
                       name=await ctx.display_name(person, other_lang), **values)


async def answer(ctx: Context, key: str, **values: object) -> None:
    """A vote is answered privately: nobody in the group sees what someone chose."""
    if ctx.in_group:
        await ctx.tell(ctx.person.id, key, **values)
    else:
        await ctx.reply(key, **values)


def fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def pick_option(poll: Poll, said: str) -> int | None:
    """The option ``said`` names: its words, its letter (A) or its number (1)."""
    word = fold(said).strip(".。!！")
    for i, option in enumerate(poll.options):
        if fold(option) == word:
            return i
    if len(word) == 1 and word.upper() in LETTERS[:len(poll.options)]:
        return LETTERS.index(word.upper())
    if word.isdigit() and 1 <= int(word) <= len(poll.options):
        return int(word) - 1
    return None


# --- results and closing -------------------------------------------------------------------------
@result_command.handle
async def show_result(ctx: Context) -> None:
    """Turnout and counts so far; staff also get them per building (privately)."""
    poll = await poll_from_args(ctx, "pollresult")
    staff = any(ctx.has_role(r) for r in STAFF)
    if not staff and poll.buildings and ctx.person.building not in poll.buildings:
        if ctx.person.building is None:
            raise Refusal("polls.register_first", number=poll.id)
        raise Refusal("polls.not_in_scope", number=poll.id, scope=scope_text(ctx, poll, ctx.lang))
    text = await result_text(ctx, poll, ctx.lang)
    if not staff:
        await ctx.reply_text(text, key="polls.progress_header")
        return
    detail = await building_lines(ctx, poll, ctx.lang)
    if ctx.in_group:
        await ctx.reply_text(text, key="polls.progress_header")
        await ctx.tell_text(ctx.person.id, "\n".join([text, *detail]), key="polls.by_building_header")
    else:
        await ctx.reply_text("\n".join([text, *detail]), key="polls.by_building_header")


@close_command.handle
async def close_early(ctx: Context) -> None:
    """Its author (or the admin) closes a poll before its deadline; the result is posted."""
    poll = await poll_from_args(ctx, "closepoll")
    if poll.author_id != ctx.person.id and not ctx.has_role("admin"):
        raise Refusal("polls.only_author", audit="denied", target=f"poll:{poll.id}", number=poll.id)
    if poll.status != "open":
        raise Refusal("polls.closed", number=poll.id)
    await finish(ctx, poll, ctx.person.id)
    await ctx.record("poll.close", f"poll:{poll.id}")
    await ctx.reply("polls.closed_early", number=poll.id, question=poll.question,
                    count=len(poll.chats))


async def finish(ctx: Notifier, poll: Poll, by: int | None,
                 charts: dict[str, Attachment] | None = None) -> bool:
    """Close the poll (its secret key goes) and post the result, with its chart, where it was
    posted — once.  ``charts`` (by language) were drawn beforehand from the same counts; any
    missing is drawn here."""
    if not await ctx.tx.polls.close(poll.id, ctx.ts, by):
        return False
    poll = await ctx.tx.polls.get(poll.id)
    await ctx.audit(by, None, "poll.closed", f"poll:{poll.id}", "early" if by else "deadline")
    charts = dict(charts or {})
    for chat_key in poll.chats:
        lang = ctx.core.language_of_chat(chat_key)
        if lang not in charts:
            charts[lang] = await chart_of(ctx, poll, lang)
        text = "\n".join([await result_text(ctx, poll, lang), t(lang, "polls.consultation")])
        await ctx.post_text(chat_key, text, key="polls.result_header", ref=f"poll:{poll.id}",
                            lang=lang, attachments=[charts[lang]] if charts[lang] else [])
    return True


async def chart_of(ctx: Notifier, poll: Poll, lang: str) -> Attachment | None:
    """The result as a chart in the digest's style: counts per option and the turnout (drawn off
    the event loop); None if it cannot be drawn (the result is posted without it)."""
    counts = await ctx.tx.polls.counts(poll.id)
    _, turnout = await result_lines(ctx, poll, lang)
    try:
        chart = await asyncio.to_thread(
            render_poll_chart, t(lang, "polls.chart_title", number=poll.id, question=poll.question),
            [f"{LETTERS[i]}. {o}" for i, o in enumerate(poll.options)],
            [counts.get(i, 0) for i in range(len(poll.options))], t(lang, "polls.chart_votes"),
            turnout)
    except Exception:
        log.exception("poll %s: the result chart could not be drawn", poll.id)
        return None
    return Attachment("photo", caption=t(lang, "polls.chart_caption", number=poll.id),
                      filename=f"poll-{poll.id}.png",
                      content=base64.b64encode(chart.png).decode("ascii"))


async def result_text(ctx: Notifier, poll: Poll, lang: str) -> str:
    lines, _ = await result_lines(ctx, poll, lang)
    return "\n".join(lines)


async def result_lines(ctx: Notifier, poll: Poll, lang: str) -> tuple[list[str], str]:
    """The result's lines, and its turnout line (the chart's subtitle)."""
    counts = await ctx.tx.polls.counts(poll.id)
    votes = sum(counts.values())
    if poll.status == "open":
        lines = [t(lang, "polls.progress_header", number=poll.id, question=poll.question,
                   when=moment_with_weekday(poll.closes_at, ctx.config.tz, lang))]
    else:
        lines = [t(lang, "polls.result_header", number=poll.id, question=poll.question)]
    for i, option in enumerate(poll.options):
        count = counts.get(i, 0)
        lines.append(t(lang, "polls.result_line", letter=LETTERS[i], option=option, count=count,
                       percent=percent(count, votes), bar=bar(count, votes)))
    households = await ctx.tx.people.households(poll.buildings)
    total = sum(len(units) for units in households.values())
    voted = await ctx.tx.polls.voters_by_building(poll.id)
    in_scope = {b: v for b, v in voted.items() if b in households}
    homes = sum(h for _, h in in_scope.values())
    if poll.per_household:
        turnout = t(lang, "polls.turnout_household", voted=homes, total=total,
                    percent=percent(homes, total))
    else:
        turnout = t(lang, "polls.turnout_person", voters=votes, voted=homes, total=total,
                    percent=percent(homes, total))
    lines.append(turnout)
    lines += await area_lines(ctx, poll, lang)
    return lines, turnout


async def area_lines(ctx: Notifier, poll: Poll, lang: str, by_option: bool = False) -> list[str]:
    """With units' floor areas in the config ([buildings] floor_areas): the share of the floor area
    in scope whose households voted and (``by_option``, for staff only: an area can point at one
    flat) for a poll per household that is not secret, behind each option — what the Civil Code
    counts besides heads (a consultation still, not a legal vote)."""
    areas = {b: units for b, units in ctx.config.buildings.floor_areas.items()
             if not poll.buildings or b in poll.buildings}
    total = sum(sum(units.values()) for units in areas.values())
    if not total:
        return []
    if not by_option:
        voted = sum(areas.get(b, {}).get(u, 0.0)
                    for b, u in await ctx.tx.polls.voted_households(poll.id))
        return [t(lang, "polls.area_turnout", voted=square_metres(voted),
                  total=square_metres(total), percent=percent(voted, total))]
    if poll.secret or not poll.per_household:
        return []
    behind = [0.0] * len(poll.options)
    for building, unit, option in await ctx.tx.polls.household_choices(poll.id):
        behind[option] += areas.get(building, {}).get(unit, 0.0)
    return [t(lang, "polls.area_options", options=t(lang, "core.list_separator").join(
        t(lang, "polls.area_option", letter=LETTERS[i], area=square_metres(area),
          percent=percent(area, total)) for i, area in enumerate(behind)))]


def square_metres(area: float) -> str:
    return f"{area:,.1f}".rstrip("0").rstrip(".")


async def building_lines(ctx: Notifier, poll: Poll, lang: str) -> list[str]:
    """Turnout per building (and, for a poll that is not secret, the counts)."""
    households = await ctx.tx.people.households(poll.buildings)
    voted = await ctx.tx.polls.voters_by_building(poll.id)
    by_building = {} if poll.secret else await ctx.tx.polls.counts_by_building(poll.id)
    keys = list(poll.buildings) or sorted(set(households) | {b for b in voted if b},
                                          key=lambda k: (len(k), k))
    lines = [t(lang, "polls.by_building_header")]
    for key in keys:
        building = ctx.core.building(key)
        total = len(households.get(key, []))
        homes = voted.get(key, (0, 0))[1]
        counts = by_building.get(key, {})
        shown = "" if poll.secret else t(lang, "core.list_separator").join(
            f"{LETTERS[i]} {counts.get(i, 0)}" for i in range(len(poll.options)))
        lines.append(t(lang, "polls.building_line", building=building.name if building else key,
                       voted=homes, total=total, percent=percent(homes, total), counts=shown))
    return lines + await area_lines(ctx, poll, lang, by_option=True)


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


def bar(part: int, whole: int, width: int = 10) -> str:
    filled = round(width * part / whole) if whole else 0
    return "▇" * filled + "▁" * (width - filled)


# --- sweeps --------------------------------------------------------------------------------------
_woken: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@router.sweep("polls.deadlines")
async def close_due_polls(core, now: datetime) -> None:
    """At the deadline the result is posted (once); a day before, captains get the units that
    have not voted."""
    drawn: dict[int, tuple[dict[int, int], dict[str, Attachment]]] = {}
    async with core.db.read() as tx:  # the charts are drawn before the write lock is taken
        reader = Notifier(core, tx, now)
        for poll in await tx.polls.due("closes_at", reader.ts):
            langs = {core.language_of_chat(k) for k in poll.chats}
            drawn[poll.id] = (await tx.polls.counts(poll.id),
                              {lang: await chart_of(reader, poll, lang) for lang in langs})
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for poll in await tx.polls.due("closes_at", notifier.ts):
            counts, charts = drawn.get(poll.id, (None, None))
            same = counts == await tx.polls.counts(poll.id)  # a vote since: draw it again
            await finish(notifier, poll, None, charts if same else None)
        for poll in await tx.polls.due("remind_at", notifier.ts):
            if await tx.polls.reminded(poll.id):
                await remind_captains(notifier, poll)
        moments = await tx.polls.upcoming_moments()
    woken = _woken.setdefault(core, set())
    for moment in moments:
        if moment > now.timestamp() and moment not in woken:
            woken.add(moment)
            core.wake_at(datetime.fromtimestamp(moment, now.tzinfo))


async def remind_captains(ctx: Notifier, poll: Poll) -> None:
    """Each building's captains get, privately, its registered units that have not voted."""
    async def voted(key: str) -> set[str]:
        return await ctx.tx.polls.voted_units(poll.id, key)

    for key, captains, missing, total in await ctx.units_not_done(poll.buildings, voted):
        building = ctx.core.building(key)
        for person_id in captains:
            lang = await ctx.language_of(person_id)
            await ctx.tell(person_id, "polls.not_voted", ref=f"poll:{poll.id}", number=poll.id,
                           question=poll.question, building=building.name if building else key,
                           count=len(missing), total=total, units=join(lang, missing),
                           when=moment_with_weekday(poll.closes_at, ctx.config.tz, lang))


# --- helpers -------------------------------------------------------------------------------------
async def poll_from_args(ctx: Context, command: str) -> Poll:
    number = ctx.number_in("polls", command)
    poll = await ctx.tx.polls.get(number)
    if poll is None:
        raise Refusal("polls.not_found", number=number)
    return poll


def options_text(poll: Poll, lang: str) -> str:
    return join(lang, (f"{LETTERS[i]}. {o}" for i, o in enumerate(poll.options)))


def scope_text(ctx: Notifier, poll: Poll, lang: str) -> str:
    if not poll.buildings:
        return t(lang, "polls.whole_compound")
    names = [b.name if (b := ctx.core.building(k)) else k for k in poll.buildings]
    return join(lang, names)


def as_list(value) -> list[str]:
    return list(value) if isinstance(value, list | tuple) else [value]

