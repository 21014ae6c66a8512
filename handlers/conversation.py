"""Conversation: nobody who writes to the bot is left without an answer.

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

import re
from functools import cache

from pypinyin import lazy_pinyin
from rapidfuzz.distance import OSA

from bot.commands import Command, Registry, Router
from bot.context import Context
from bot.i18n import has

router = Router("conversation")
_ASCII_HEAD = re.compile(r"[/／]?\s*([A-Za-z]{2,20})")
_CJK_HEAD = re.compile(r"[\u3400-\u9fff]{2,6}")


@router.reply("unknown_command")
async def did_you_mean(ctx: Context) -> None:
    """``/reprot …`` or ``@邻里 报休 …``: suggest the closest command, else say there is none."""
    guess = closest_command(ctx.core.registry, ctx.parsed.word if ctx.parsed else ctx.msg.text)
    if guess is None:
        await ctx.reply("core.unknown_command", word=ctx.parsed.word if ctx.parsed else "")
        return
    await suggest(ctx, ctx.parsed.word, guess)


@router.reply("private")
async def answer_in_private(ctx: Context) -> None:
    """A private message that is no command: a near miss gets a suggestion, anything else a pointer."""
    text = ctx.msg.text.strip()
    guess = closest_command(ctx.core.registry, text)
    if guess is not None:
        await suggest(ctx, head_of(text), guess)
        return
    await ctx.reply("conversation.pointer", compound=ctx.config.compound.name)


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
