"""Conversation: residents talk, Linli understands; nobody who writes to it is left without an answer.

* A group message that reports a problem in plain words ("3栋电梯又坏了 有没有人管") gets an offer —
  what Linli understood and how to confirm with one word (是 / 好 / 对 / yes); the confirmation files
  it exactly as ``报修`` would, and no confirmation within ``OFFER_MINUTES`` files nothing and says
  nothing more.  Said to the bot (an @mention), it is filed at once.  A question in plain words
  ("1号报修怎么样了", "今天谁值班") is answered by the command that answers it.  Everything else in a
  group is chatter: never answered.  The reading is ``bot.intake.classify``.

* A word after ``/`` or an @mention that is no command, and the first word of a private message,
  are compared with every command word: a near miss (``/reprot``, ``报休``, ``抱修`` — edit distance
  for letters, the same pinyin for sound-alike characters) gets "你是想说「报修」吗？" with an example.
* A private message that is no command and no answer to a question gets a short, friendly pointer to
  what Linli can do (never silence: someone who writes privately has addressed the bot).
* A voice message gets, once a day per person and privately where possible, a note that Linli cannot
  listen yet and how to type the same thing.

In a group, a message without ``/`` or a mention is not for the bot: these listeners never see it.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from functools import cache

from rapidfuzz.distance import OSA

from bot.categories import DEFAULTS, category_of
from bot.commands import Command, Registry, Router
from bot.context import Context
from bot.i18n import has
from bot.intake import Reading, classify, strip_mentions, ticket_category
from bot.messages import Attachment
from bot.quotes import ticket_just_reported, ticket_quoted

router = Router("conversation")
OFFER_MINUTES = 10
YES = {"是", "是的", "好", "好的", "对", "对的", "要", "嗯", "嗯嗯", "可以", "yes", "y", "ok", "okay", "sure"}
NO = {"不", "不是", "不用", "不要", "算了", "no", "n", "nope"}
_ASCII_HEAD = re.compile(r"[/／]?\s*([A-Za-z]{2,20})")
_CJK_HEAD = re.compile(r"[\u3400-\u9fff]{2,6}")
# "me too", the way residents say it (a quote-reply to a receipt, or just after a report)
METOO = re.compile(r"^\s*(?:[+＋]\s*1|同问|同求|我家也是|我们家也是|我也是|我们也是|我这也是|"
                   r"我这里也是|一样|一样的|同样|俺家也是|me too|same here|same|same problem|\+\+)"
                   r"\s*[!！。.~～，,]*\s*"
                   r"(?:[+＋]\s*1|[\U0001F300-\U0001FAFF\u2600-\u27bf]+)?\s*$", re.IGNORECASE)


@router.reply("unknown_command")
async def did_you_mean(ctx: Context) -> None:
    """``/reprot …`` or ``@邻里 报休 …``: suggest the closest command, else say there is none."""
    guess = closest_command(ctx.core.registry, ctx.parsed.word if ctx.parsed else ctx.msg.text)
    if guess is not None:
        await suggest(ctx, ctx.parsed.word, guess)
        return
    text = bare_text(ctx)
    reading = classify(text)
    if reading.kind == "report":  # said to the bot: "@邻里 地下车库漏水了"
        await ctx.emit("report.requested", text=text)
    elif reading.kind == "question" and await answer_question(ctx, reading):
        return
    else:
        await ctx.reply("core.unknown_command", word=ctx.parsed.word if ctx.parsed else "")


@router.reply("private")
async def answer_in_private(ctx: Context) -> None:
    """A private message that is no command: a near miss gets a suggestion, anything else a pointer."""
    text = ctx.msg.text.strip()
    guess = closest_command(ctx.core.registry, text)
    if guess is not None:
        await suggest(ctx, head_of(text), guess)
        return
    reading = classify(text)
    if reading.kind == "report":
        await offer(ctx, text, reading)
        return
    if reading.kind == "question" and await answer_question(ctx, reading):
        return
    await ctx.reply("conversation.pointer", compound=ctx.config.compound.name)


@router.reply("group_text")
async def heard_in_a_group(ctx: Context) -> None:
    """Plain words in a group: "me too" to a report, an offer to file one, an answer to a question,
    or silence."""
    text = ctx.msg.text.strip()
    if METOO.match(text):
        quoted = await ticket_quoted(ctx.tx, ctx.msg, ctx.ts)
        number = quoted if quoted is not None else await ticket_just_reported(ctx.tx, ctx.msg, ctx.ts)
        ticket = await ctx.tx.tickets.get(number) if number is not None else None
        # a bare 同问 after one's own report is chatter; quoting one's own receipt is told why not
        if ticket is not None and (quoted is not None or ticket.reporter_id != ctx.person.id):
            await ctx.core.run_command(ctx, "metoo", str(number))
        return
    reading = classify(text)
    if reading.kind == "report":
        await offer(ctx, text, reading)
    elif reading.kind == "question":
        await answer_question(ctx, reading)


@router.reply("captioned")
async def photo_with_caption(ctx: Context) -> None:
    """A photo whose caption reads as a report starts one (offered like free text, the photo kept for
    the ticket); any other photo is what ``attachment`` makes of it (added to the sender's report of
    the last minutes, if any)."""
    text = ctx.msg.text.strip()
    recent = await ctx.tx.tickets.latest_of_reporter_since(ctx.person.id, ctx.ts - 600)
    reading = classify(text) if recent is None else None
    if reading is not None and reading.kind == "report":
        await offer(ctx, text, reading)
        return
    listener = ctx.core.registry.replies.get("attachment")
    if listener is not None:
        await listener(ctx)


@router.reply("conversation.offer")
async def offer_answered(ctx: Context) -> None:
    """是 files the offered report; 不 drops it; anything else is read as a new message."""
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    await ctx.done_asking()
    word = re.sub(r"[\s。，,.!！~～👌👍]+", "", ctx.msg.text).lower()
    if word in YES or ctx.msg.text.strip() in ("👍", "👌"):
        photos = tuple(Attachment(kind, file_id, media=media, origin=origin)
                       for kind, file_id, media, origin in
                       ((*photo, "", "")[:4] for photo in prompt.payload.get("photos", ())))
        if photos:  # the offer came with a photo: the ticket gets it (file_report attaches ctx.msg's)
            ctx.msg = replace(ctx.msg, attachments=photos)
        await ctx.emit("report.requested", text=prompt.payload["text"])
    elif word in NO:
        if not ctx.in_group:
            await ctx.reply("conversation.offer_dropped")
    elif ctx.in_group:
        await heard_in_a_group(ctx)
    else:
        await answer_in_private(ctx)


async def offer(ctx: Context, text: str, reading: Reading) -> None:
    """Say what was understood and how to confirm it with one word."""
    # as 报修 will route it: a building named as one, else a common area, else the chat's or home's
    named = ctx.core.find_building(text)
    area = None if named else ctx.core.find_area(text)
    building = named or ctx.core.building(ctx.chat_building) or ctx.core.building(ctx.person.building)
    place = named.name if named else area.name if area else building.name if building else \
        (reading.area_hint or ctx.t("tickets.no_building"))
    code = category_of(text, ctx.config.category_list())
    if code in DEFAULTS:  # the free-text reading knows the default categories better than their words
        code = ticket_category(reading)
    category = ctx.config.category_name(code, ctx.lang)
    # the stored photo too (storage/media.py): the core keeps it while this offer waits for 是
    photos = [[a.kind, a.file_id, a.media, a.origin] for a in ctx.msg.attachments
              if a.kind in ("photo", "document") and a.file_id]
    await ctx.ask("conversation.offer", {"text": text[:500], "photos": photos}, minutes=OFFER_MINUTES)
    key = "conversation.offer_urgent" if reading.urgent else "conversation.offer"
    await ctx.reply(key, place=place, category=category)


async def answer_question(ctx: Context, reading: Reading) -> bool:
    """A question in plain words, answered by the command that answers it; False if none does."""
    question = reading.question
    if question == "ticket_status" and reading.number is not None:
        await ctx.core.run_command(ctx, "ticket", str(reading.number))
    elif question == "my_ticket":
        await ctx.core.run_command(ctx, "mine", "")
    elif question in ("rota_today", "rota_tomorrow"):
        await ctx.core.run_command(ctx, "rota", "" if question == "rota_today" else "明天")
    elif question == "events_free":
        await ctx.core.run_command(ctx, "events", "")
    elif question == "faq":
        answer = faq_answer(ctx, ctx.msg.text)
        if answer is None:
            return False
        # the operator's own public answer (a front desk's number is no one's private detail)
        await ctx.reply_text(answer, key="conversation.faq")
    else:
        return False
    return True


def faq_answer(ctx: Context, text: str) -> str | None:
    """The ``[faq]`` answer whose question words appear in ``text`` (the longest match wins)."""
    best = None
    for words, answer in ctx.config.faq.items():
        for word in (w.strip() for w in re.split(r"[,，、/|]", words) if w.strip()):
            if word in text and (best is None or len(word) > best[0]):
                best = (len(word), answer)
    return best[1] if best else None


def bare_text(ctx: Context) -> str:
    """The message without the @mention of the bot."""
    return strip_mentions(ctx.msg.text, tuple(ctx.config.compound.bot_names) or ("邻里",)).strip()


@router.reply("voice")
async def voice_message(ctx: Context) -> None:
    """A voice message: once a day per person, say how to type it instead."""
    flag = f"voice-hint:{ctx.person.id}"
    today = ctx.now.date().isoformat()
    if await ctx.tx.kv.get(flag) == today:
        return
    await ctx.tx.kv.put(flag, today)
    await ctx.reply_private("conversation.voice")


async def suggest(ctx: Context, typed: str, command: Command) -> None:
    word = command.zh[0] if ctx.lang == "zh" or not command.en else "/" + command.en[0]
    example = ctx.t(f"help.example.{command.name}") if has(ctx.lang, f"help.example.{command.name}") \
        else word
    await ctx.reply("conversation.did_you_mean", typed=typed[:20], word=word, example=example)


def head_of(text: str) -> str:
    match = _ASCII_HEAD.match(text) or _CJK_HEAD.match(text)
    return match.group(match.lastindex or 0) if match else text[:6]


@cache
def pinyin(text: str) -> tuple[str, ...]:
    """The pinyin of a few characters.  pypinyin is imported on first use, without its phrase
    tables (60 MB and 0.3 s at start-up; single characters are all a command word needs)."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(text))


def closest_command(registry: Registry, text: str) -> Command | None:
    """The command a near miss at the start of ``text`` most likely meant, or None."""
    text = text.strip().lstrip("/／#＃").strip()
    ascii_head = re.match(r"[A-Za-z]{2,20}", text)
    best: tuple[int, int, Command] | None = None  # (distance, -length, command)
    for command in registry.commands.values():
        if ascii_head:
            typed = ascii_head.group(0).lower()
            for word in command.en:
                limit = 1 if len(word) <= 4 else 2
                distance = OSA.distance(typed, word.lower(), score_cutoff=limit)
                if distance <= limit and (best is None or (distance, -len(word)) < best[:2]):
                    best = (distance, -len(word), command)
            continue
        for word in command.zh:
            if len(word) < 2 or not _CJK_HEAD.match(word):
                continue
            typed = text[:len(word)]
            if typed == word:
                continue  # the parser would have found it: this is something else
            if pinyin(typed) == pinyin(word):
                distance = 0  # 报休, 抱修 → 报修
            elif len(word) >= 3 and OSA.distance(typed, word, score_cutoff=1) <= 1:
                distance = 1  # 我的报休 → 我的报修
            else:
                continue
            if best is None or (distance, -len(word)) < best[:2]:
                best = (distance, -len(word), command)
    return best[2] if best else None
