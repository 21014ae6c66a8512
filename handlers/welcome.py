"""Welcome (欢迎): people who join a group the config knows hear three commands to try.

An adapter that sees someone join a group (WeChat's room-join event; only when ``[wechat] welcome``
is on) hands the core an :class:`~bot.messages.Inbound` with ``joined`` set to the newcomers' names,
their platform ids in ``mentions``, and no text.  The core routes it here.  The welcome goes to the
group in the group's language, starting with the newcomers' names so that the platform can make the
first one a mention; it names the building of a building's group in its example.
"""

from __future__ import annotations

from bot.commands import Router
from bot.context import Context, Mention
from bot.format import join

MAX_NAMES = 5  # a whole batch joining at once is greeted together, by the first few names
router = Router("welcome")


@router.reply("joined")
async def welcome(ctx: Context) -> None:
    """Newcomers joined a configured group: greet them with the three commands to try."""
    if not ctx.in_group or not ctx.msg.joined or ctx.chat_key is None:
        return
    lang = ctx.core.language_of_chat(ctx.chat_key)
    names = [n.strip()[:32] for n in ctx.msg.joined if n.strip()][:MAX_NAMES]
    # a display name like "张三13812345678" is not repeated with its number into the group
    names = list(ctx.core.redact_values(lang, {str(i): n for i, n in enumerate(names)}).values())
    if not names:
        return
    building = ctx.core.building(ctx.chat_building) or (ctx.core.buildings[0] if ctx.core.buildings
                                                         else None)
    chat = ctx.config.chats[ctx.chat_key]
    mention_ids = ctx.msg.mentions[:1] or (ctx.msg.sender_id,)
    await ctx.reply("welcome.hello", lang=lang, ref=f"welcome:{ctx.chat_key}",
                    mention=Mention(tuple(mention_ids), names[0]), names=join(lang, names),
                    chat=chat.name or ctx.chat_key,
                    bot=(ctx.config.compound.bot_names or ["Linli"])[0],
                    building=building.name if building else "")
    await ctx.record("welcome", f"chat:{ctx.chat_key}", str(len(ctx.msg.joined)))
