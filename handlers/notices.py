"""Notices that must be confirmed (通知确认): the way captains make sure every household heard one.

``通知确认 3栋,5栋 明天9点到12点停水，请提前储水`` (``/notice 3,5 …``; no building: the whole compound;
``提醒 12小时`` / ``remind 12h`` before the text sets when captains are told, default 24 hours) posts
the notice to the groups in scope (their buildings' groups, else the compound-wide ones) asking
residents to reply ``收到`` (also ``已阅``, ``确认收到``; ``/received`` in English; a button on
Telegram).  Each registered household counts once (building and unit of 登记: a second resident of
the same unit is told it was already confirmed); someone not registered counts as a person, apart.

``收到`` alone confirms the latest notice of the group it is said in (privately: the latest in the
sender's scope); ``收到 N`` names one.  A 收到 in a group gets no answer of its own: the first one
starts a short window (``ACK_WINDOW``) after which one message says how many households have
confirmed so far — one message however many replied meanwhile.  A 收到 in a private chat is answered
there.  ``通知进度 N`` / ``/noticestatus N`` (staff) shows confirmations per building; after the
reminder time each captain gets, privately, the registered units of their building that have not
confirmed, for door-to-door visits.

``好的``, ``ok`` and ``👍`` confirm too, but they are no command words: they answer the bot's other
questions (是否报修, 换班) as yes, and in a group they are mostly chatter.  So they count only when
nothing else can mean them (``@router.hear``: a plain group message, no question of the bot's
pending): the message is that word and nothing else (``好的！``, ``👍👍``, ``OK.``), and the sender has
a notice posted in that very group within ``PLAIN_WITHIN`` (3 days) that their household has not
confirmed yet.  ``好的 明天见``, or ``好的`` in a group with no such notice, is left alone.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from datetime import datetime, timedelta

from bot.commands import Router
from bot.context import ButtonSpec, Context, Notifier, Refusal
from bot.format import format_span, join, name_range
from bot.i18n import t
from bot.parser import leading_number
from bot.when import parse_length
from storage.notices import Notice

AUTHORS = ("committee", "property", "admin")
STAFF = ("committee", "property", "admin", "captain")
REMIND_AFTER = timedelta(hours=24)
ACK_WINDOW = timedelta(minutes=5)
ACTIVE_FOR = timedelta(days=7)  # a bare 收到 confirms a notice at most this old
PLAIN_WITHIN = timedelta(days=3)  # a bare 好的 / ok / 👍 confirms a notice at most this old
PLAIN_WORDS = ("好的", "ok", "okay", "👍")
# what may surround a plain word: spaces, punctuation, skin tones and emoji variation selectors
_PLAIN_NOISE = re.compile(r"[\s。，,.!！~～、…\u3002\ufe0f\U0001F3FB-\U0001F3FF]+")
MAX_LENGTH = 2000
ALL_WORDS = {"全部", "所有", "全体", "全小区", "all", "everyone"}
_REMIND = re.compile(r"^(?:提醒|催办|remind|--remind)\s*[:：]?\s*", re.IGNORECASE)
_FILLER = re.compile(r"^[\s了啦啊呀哈，,。.!！~～👍👌🙏谢谢多谢thanks]*$", re.IGNORECASE)

router = Router("notices")
notice_command = router.command("notice", zh=["通知确认", "需确认通知"], en=["notice"], roles=AUTHORS,
                                group="announcements")
received_command = router.command("received", zh=["收到", "已阅", "确认收到"],
                                  en=["received", "gotit"], group="general")
status_command = router.command("noticestatus", zh=["通知进度"], en=["noticestatus"], roles=STAFF,
                                needs_number=True, group="announcements")


@notice_command.handle
async def post_notice(ctx: Context) -> None:
    """Staff post a notice that each household is asked to confirm."""
    rest = ctx.args.strip()
    buildings: list[str] | None = None
    remind = REMIND_AFTER
    while rest:
        head, _, tail = rest.partition(" ")
        remind_word = _REMIND.match(rest)
        if remind_word:
            length = parse_length(rest[remind_word.end():])
            if length is None or not timedelta(minutes=10) <= length[0] <= timedelta(days=14):
                raise Refusal("notices.bad_remind")
            remind, rest = length[0], as_typed(rest, length[1].strip())
            continue
        named = scope_words(ctx, head)
        if named is None:
            break
        buildings = (buildings or []) + named
        rest = tail.strip()
    if not rest:
        raise Refusal("notices.usage.notice")
    if len(rest) > MAX_LENGTH:
        raise Refusal("notices.too_long", length=len(rest), limit=MAX_LENGTH)
    if ctx.core.carries_private(rest):
        raise Refusal("notices.private_detail")
    buildings = list(dict.fromkeys(buildings or []))
    chats = notice_chats(ctx, buildings)
    notice = await ctx.tx.notices.create(author_id=ctx.person.id, text=rest, buildings=buildings,
                                         chats=chats, now=ctx.ts,
                                         remind_at=ctx.ts + remind.total_seconds())
    await ctx.record("notice.create", f"notice:{notice.id}", ",".join(buildings) or "all")
    ctx.core.wake_at(ctx.now + remind)
    for chat_key in chats:
        lang = ctx.core.language_of_chat(chat_key)
        await ctx.post(chat_key, "notices.post", ref=f"notice:{notice.id}",
                       buttons=[ButtonSpec("notices.button.received", "received", str(notice.id))],
                       number=notice.id, text=notice.text, by=await ctx.display_name(ctx.person, lang))
    await ctx.reply("notices.posted", number=notice.id, count=len(chats),
                    scope=scope_text(ctx, notice, ctx.lang), after=format_span(remind, ctx.lang))


def as_typed(original: str, folded_rest: str) -> str:
    """The tail of ``original`` that ``folded_rest`` (NFKC-folded by parse_length) came from: the
    notice keeps its full-width punctuation (``停水，请…``, not ``停水,请…``)."""
    for start in range(min(len(original), 60) + 1):
        tail = original[start:].strip()
        if unicodedata.normalize("NFKC", tail) == folded_rest:
            return tail
    return folded_rest


def scope_words(ctx: Context, word: str) -> list[str] | None:
    """The buildings one word names (``3栋``, ``3栋,5栋``, ``全部`` → []), or None."""
    parts = [p for p in re.split(r"[,，、+＋]", word) if p]
    if not parts:
        return None
    if any(p.lower() in ALL_WORDS for p in parts):
        return []
    found = [ctx.core.building_named(p) for p in parts]
    if any(b is None for b in found):
        if len(parts) > 1 and any(b is not None for b in found):
            bad = next(p for p, b in zip(parts, found, strict=True) if b is None)
            raise Refusal("notices.unknown_building", name=bad[:20],
                          buildings=name_range([b.name for b in ctx.core.buildings], ctx.lang))
        return None
    return [b.key for b in found]


def notice_chats(ctx: Notifier, buildings: list[str]) -> list[str]:
    chats = [c for b in buildings for c in ctx.core.chats_of_building(b)]
    return list(dict.fromkeys(chats)) or [k for k, c in ctx.config.chats.items() if c.building is None]


# --- confirming ---------------------------------------------------------------------------------
@received_command.handle
async def confirm_notice(ctx: Context) -> None:
    """收到: the sender's household confirms a notice; in a group, silently (one answer later)."""
    args = ctx.args.strip()
    number = leading_number(args)
    quiet = ctx.in_group
    if number is None and not _FILLER.match(args):
        return  # "收到快递了": chatter, not a confirmation
    if number is not None:
        notice = await ctx.tx.notices.get(number)
        if notice is None:
            if quiet and not ctx.msg.callback:
                return
            raise Refusal("notices.not_found", number=number)
    else:
        notice = await latest_for(ctx)
        if notice is None:
            if not quiet:
                await ctx.reply("notices.nothing_to_confirm")
            return
    person = ctx.person
    if notice.buildings and person.building not in notice.buildings:
        if not quiet:
            await ctx.reply("notices.not_in_scope", number=notice.id,
                            scope=scope_text(ctx, notice, ctx.lang))
        return
    household = household_of(ctx)
    fresh = await record_confirmation(ctx, notice, household)
    if quiet:
        return
    if fresh:
        await ctx.reply("notices.confirmed", number=notice.id)
        return
    by = await ctx.tx.notices.confirmed_by(notice.id, household)
    if by == person.id:
        await ctx.reply("notices.already_confirmed", number=notice.id)
    else:
        await ctx.reply("notices.household_confirmed", number=notice.id, name=await ctx.name_of(by))


def household_of(ctx: Context) -> str:
    person = ctx.person
    return f"h:{person.building}/{person.unit}" if person.building and person.unit \
        else f"p:{person.id}"


async def record_confirmation(ctx: Context, notice: Notice, household: str) -> bool:
    """Count the sender's household (once); in a group, the coalesced answer comes later."""
    person = ctx.person
    fresh = await ctx.tx.notices.confirm(notice.id, household, building=person.building,
                                         unit=person.unit, person_id=person.id, now=ctx.ts)
    if fresh:
        await ctx.record("notice.confirm", f"notice:{notice.id}")
        if ctx.in_group and ctx.chat_key in notice.chats:
            due = ctx.now + ACK_WINDOW
            await ctx.tx.notices.ack_later(notice.id, ctx.chat_key, due.timestamp())
            ctx.core.wake_at(due)
    return fresh


def is_plain_confirmation(text: str) -> bool:
    """``好的`` / ``OK!`` / ``👍👍`` and nothing else (one word, repeated at most)."""
    folded = _PLAIN_NOISE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    if not folded or len(folded) > 24:
        return False
    for word in PLAIN_WORDS:
        if folded == word * (len(folded) // len(word)):
            return True
    return False


@router.hear("notices.plain_confirmation")
async def plain_confirmation(ctx: Context) -> bool:
    """A bare 好的 / ok / 👍 in a group confirms the newest notice of that group (3 days at most)
    that the sender's household has not confirmed; anything else is left to the others."""
    if not ctx.in_group or ctx.chat_key is None or not is_plain_confirmation(ctx.msg.text):
        return False
    household = household_of(ctx)
    since = ctx.ts - PLAIN_WITHIN.total_seconds()
    for notice in await ctx.tx.notices.latest(since, ctx.chat_key):
        if notice.buildings and ctx.person.building not in notice.buildings:
            continue
        if await ctx.tx.notices.confirmed_by(notice.id, household) is None:
            await record_confirmation(ctx, notice, household)
            return True
    return False


async def latest_for(ctx: Context) -> Notice | None:
    since = ctx.ts - ACTIVE_FOR.total_seconds()
    if ctx.in_group:
        found = await ctx.tx.notices.latest(since, ctx.chat_key)
        return found[0] if found else None
    for notice in await ctx.tx.notices.latest(since):
        if not notice.buildings or ctx.person.building in notice.buildings:
            return notice
    return None


# --- progress -----------------------------------------------------------------------------------
@status_command.handle
async def show_progress(ctx: Context) -> None:
    """Staff see how many households of each building confirmed."""
    number = ctx.number_in("notices", "noticestatus")
    notice = await ctx.tx.notices.get(number)
    if notice is None:
        raise Refusal("notices.not_found", number=number)
    households = await ctx.tx.people.households(notice.buildings)
    confirmed = await ctx.tx.notices.by_building(notice.id)
    keys = list(notice.buildings) or sorted(set(households) | {b for b in confirmed if b},
                                            key=lambda k: (len(k), k))
    total = sum(len(households.get(k, [])) for k in keys)
    done = sum(confirmed.get(k, 0) for k in keys)
    lines = [ctx.t("notices.progress_header", number=notice.id, text=preview(notice.text),
                   done=done, total=total, percent=percent(done, total))]
    for key in keys:
        building = ctx.core.building(key)
        count, of = confirmed.get(key, 0), len(households.get(key, []))
        lines.append(ctx.t("notices.progress_line", building=building.name if building else key,
                           done=count, total=of, percent=percent(count, of)))
    if confirmed.get(None):
        lines.append(ctx.t("notices.progress_unregistered", count=confirmed[None]))
    await ctx.reply_text("\n".join(lines), key="notices.progress_header")


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


# --- sweep --------------------------------------------------------------------------------------
_woken: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@router.sweep("notices.follow_up")
async def follow_up(core, now: datetime) -> None:
    """Coalesced acknowledgements in the groups, and the captains' not-yet-confirmed lists."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for notice_id, chat_key, said in await tx.notices.due_acks(notifier.ts):
            count = await tx.notices.count(notice_id)
            if await tx.notices.acked(notice_id, chat_key, count) and count > said:
                await notifier.post(chat_key, "notices.acknowledged", ref=f"notice:{notice_id}",
                                    number=notice_id, count=count, new=count - said)
        for notice in await tx.notices.due_reminders(notifier.ts):
            if await tx.notices.reminded(notice.id):
                await remind_captains(notifier, notice)
        moments = await tx.notices.upcoming_moments()
    woken = _woken.setdefault(core, set())
    for moment in moments:
        if moment > now.timestamp() and moment not in woken:
            woken.add(moment)
            core.wake_at(datetime.fromtimestamp(moment, now.tzinfo))


async def remind_captains(ctx: Notifier, notice: Notice) -> None:
    async def confirmed(key: str) -> set[str]:
        return await ctx.tx.notices.confirmed_units(notice.id, key)

    for key, captains, missing, total in await ctx.units_not_done(notice.buildings, confirmed):
        building = ctx.core.building(key)
        for person_id in captains:
            lang = await ctx.language_of(person_id)
            await ctx.tell(person_id, "notices.not_confirmed", ref=f"notice:{notice.id}",
                           number=notice.id, text=preview(notice.text), count=len(missing),
                           total=total, building=building.name if building else key,
                           units=join(lang, missing))


def scope_text(ctx: Notifier, notice: Notice, lang: str) -> str:
    if not notice.buildings:
        return t(lang, "notices.whole_compound")
    return join(lang, (b.name if (b := ctx.core.building(k)) else k for k in notice.buildings))


def preview(text: str, length: int = 30) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= length and "\n" not in text.strip() else first[:length] + "…"
