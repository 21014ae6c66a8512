"""Which ticket a "me too" is about: the report whose receipt a resident quoted, else the latest report
made in the same chat a few minutes before (issue 13 §4: "+1", "同问", "我家也是", "一样").

A quote carries the platform message id of the bot's message (Telegram's reply_to_message; the outbox
row the dispatcher marked sent with that id has the ref 'ticket:N'), or only the quoted text (WeChat
puppets: ``Inbound.reply_to`` is "text:…"), matched against the latest ticket messages sent to the chat.
"""

from __future__ import annotations

import re

from bot.messages import Inbound

JUST_NOW = 600  # seconds: a bare 同问 within this of a report in the same chat follows it
QUOTED_REPORT_AGE = 7 * 86400  # seconds: a quoted report's own words are looked for this far back
_NUMBER = re.compile(r"[#＃](\d{1,6})")
_MENTION = re.compile(r"^[@＠][^\s\u2005]{1,40}[\s\u2005]+")


async def ticket_quoted(tx, msg: Inbound, ts: float) -> int | None:
    """The ticket the message quotes, or None: a message of the bot's about it (a receipt in the
    group), or the resident's own words that filed it (their receipt went to them privately)."""
    if not msg.reply_to:
        return None
    if msg.reply_to.startswith("text:"):
        # as shown in the chat: after the @mention the bot put before it, maybe cut short
        quoted = _MENTION.sub("", msg.reply_to[5:].strip()).strip()[:30]
        if not quoted:
            return None
        for ref, text in await tx.outbox.refs_sent_recently(msg.platform, msg.chat_id, "ticket:"):
            if quoted in text:
                return _number(ref)
        found = _NUMBER.search(quoted)  # the receipt's own "#12", if the quote kept it
        if found:
            return int(found.group(1))
        message_id = await tx.inbound.message_quoted(msg.platform, msg.chat_id, quoted,
                                                     ts - QUOTED_REPORT_AGE)
        return await _filed_by(tx, msg, message_id) if message_id else None
    ref = await tx.outbox.ref_of_sent(msg.platform, msg.chat_id, msg.reply_to)
    return _number(ref) if ref else await _filed_by(tx, msg, msg.reply_to)


async def _filed_by(tx, msg: Inbound, message_id: str) -> int | None:
    return await tx.tickets.filed_by_message(msg.platform, msg.chat_id, message_id)


async def ticket_in_question(tx, msg: Inbound, ts: float) -> int | None:
    """The quoted ticket, else (in a group) the latest report made in this chat in the last minutes
    (also when what is quoted is no message of the bot's: the resident's own words of the report)."""
    quoted = await ticket_quoted(tx, msg, ts)
    if quoted is not None or msg.chat_kind != "group":
        return quoted
    return await ticket_just_reported(tx, msg, ts)


async def ticket_just_reported(tx, msg: Inbound, ts: float) -> int | None:
    """The latest report made in this chat in the last ``JUST_NOW`` seconds, if any."""
    ticket = await tx.tickets.latest_in_chat_since(msg.platform, msg.chat_id, ts - JUST_NOW)
    return ticket.id if ticket else None


def _number(ref: str) -> int | None:
    kind, _, number = ref.partition(":")
    return int(number) if kind == "ticket" and number.isdigit() else None
