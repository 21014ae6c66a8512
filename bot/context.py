"""What a handler gets: who said what, where, in which language, and ways to answer.

Every answer goes to the outbox inside the handler's transaction (never to a platform directly):

* ``await ctx.reply(key, **values)`` — to the chat the message came from;
* ``await ctx.tell(person_id, key, **values)`` — privately, in that person's language;
* ``await ctx.post(chat_key, key, **values)`` — to a configured group chat on every platform it is on;
* ``raise Refusal(key, **values)`` — undo what the handler changed and answer with ``key``.

A :class:`Notifier` is the same without an inbound message: sweeps (escalations, reminders,
broadcasts) use it to tell people things.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.i18n import t
from bot.messages import Attachment, Button, Inbound, Outbound

if TYPE_CHECKING:
    from bot.commands import Command
    from bot.core import Core
    from bot.parser import Parsed
    from storage import Tx
    from storage.people import Person

log = logging.getLogger(__name__)


class Refusal(Exception):
    """Stop the handler, undo its changes, and answer with a catalogue text.

    ``audit`` names an audit action to record after the undo (e.g. a role check that failed).
    """

    def __init__(self, key: str, *, audit: str | None = None, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.audit = audit
        self.values = values


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    """A button before translation: its label's catalogue key, and the command (by name) with its
    argument that pressing it types, e.g. ``ButtonSpec("tickets.button.ack", "ack", "12")``."""

    label_key: str
    command: str
    arg: str = ""

    def typed(self, lang: str) -> str:
        """What a person would type for this button in ``lang``: ``受理 12`` or ``/ack 12``."""
        from bot.commands import COMMANDS

        command = COMMANDS[self.command]
        word = command.zh[0] if lang == "zh" or not command.en else "/" + command.en[0]
        return f"{word} {self.arg}".strip()


def render_buttons(specs: Sequence[ButtonSpec], lang: str) -> tuple[tuple[Button, ...], str]:
    """Buttons in ``lang``, and the line that says what to type instead of pressing them."""
    if not specs:
        return (), ""
    buttons = tuple(Button(t(lang, b.label_key), b.typed(lang)) for b in specs)
    typed = [b.command for b in buttons]
    commands = "、".join(f"「{c}」" for c in typed) if lang == "zh" else ", ".join(
        f'"{c}"' for c in typed)
    return buttons, t(lang, "core.reply_with", commands=commands)


class Notifier:
    """Sends things through the outbox inside a transaction, in each recipient's language."""

    def __init__(self, core: Core, tx: Tx, now: datetime) -> None:
        self.core = core
        self.tx = tx
        self.now = now
        self.ts = now.timestamp()
        self.config = core.config

    async def language_of(self, person_id: int) -> str:
        person = await self.tx.people.get(person_id)
        return self.core.language_of_person(person)

    async def tell(self, person_id: int, key: str, *, ref: str = "",
                   buttons: Sequence[ButtonSpec] = (),
                   attachments: Iterable[Attachment] = (), not_before: float | None = None,
                   **values: object) -> bool:
        """Send a private message to a person in their language; False if they cannot be reached."""
        person = await self.tx.people.get(person_id)
        if person is None:
            return False
        lang = self.core.language_of_person(person)
        address = await self.core.private_address(self.tx, person_id)
        if address is None:
            log.warning("no way to reach person %s for %s", person_id, key)
            await self.tx.audit.record(self.ts, None, None, "undeliverable", f"person:{person_id}",
                                       key)
            return False
        platform, external_id = address
        rendered, hint = render_buttons(buttons, lang)
        message = Outbound(platform, external_id, "private", t(lang, key, **values), rendered, hint,
                           tuple(attachments), person_id=person_id)
        await self.tx.outbox.add(message, self.ts, ref, not_before)
        return True

    async def post(self, chat_key: str, key: str, *, ref: str = "",
                   attachments: Iterable[Attachment] = (), not_before: float | None = None,
                   buttons: Sequence[ButtonSpec] = (), **values: object) -> int:
        """Post to a configured group chat on every running platform it is on; return how many."""
        lang = self.core.language_of_chat(chat_key)
        text = t(lang, key, **values)
        return await self.post_text(chat_key, text, ref=ref, attachments=attachments,
                                    not_before=not_before, buttons=buttons, lang=lang)

    async def post_text(self, chat_key: str, text: str, *, ref: str = "",
                        attachments: Iterable[Attachment] = (), not_before: float | None = None,
                        buttons: Sequence[ButtonSpec] = (), lang: str | None = None) -> int:
        """Post ready text to a configured group chat (see :meth:`post`)."""
        lang = lang or self.core.language_of_chat(chat_key)
        rendered, hint = render_buttons(buttons, lang)
        sent = 0
        for platform, address in self.core.group_addresses(chat_key):
            message = Outbound(platform, address, "group", text, rendered, hint, tuple(attachments),
                               chat_key=chat_key)
            await self.tx.outbox.add(message, self.ts, ref, not_before)
            sent += 1
        return sent

    async def audit(self, actor_id: int | None, platform: str | None, action: str, target: str = "",
                    detail: str = "") -> None:
        await self.tx.audit.record(self.ts, actor_id, platform, action, target, detail)


class Context(Notifier):
    """One inbound message being handled."""

    def __init__(self, core: Core, tx: Tx, now: datetime, msg: Inbound, person: Person,
                 lang: str, parsed: Parsed | None, chat_key: str | None) -> None:
        super().__init__(core, tx, now)
        self.msg = msg
        self.person = person
        self.lang = lang
        self.parsed = parsed
        self.command: Command | None = parsed.command if parsed else None
        self.args = parsed.args if parsed else msg.text
        self.chat_key = chat_key
        self.roles = core.roles_of(person)

    # --- who and where -------------------------------------------------------------------------
    @property
    def in_group(self) -> bool:
        return self.msg.chat_kind == "group"

    @property
    def chat_building(self) -> str | None:
        """The building whose group this is, if it is a building's group."""
        return self.core.building_of_chat(self.chat_key)

    def has_role(self, role: str, building: str | None = None) -> bool:
        """True when the sender holds ``role`` (for a captain: of ``building``, if given)."""
        return self.core.has_role(self.roles, role, building)

    def t(self, key: str, **values: object) -> str:
        return t(self.lang, key, **values)

    def number_in(self, domain: str, command: str, text: str | None = None) -> int:
        """The number a command starts with (``受理 12``, ``报名 #3``), or a refusal in ``domain``'s
        words: its usage line when nothing is given, ``not_a_number`` when something else is."""
        args = (self.args if text is None else text).strip()
        if not args:
            raise Refusal(f"{domain}.usage.{command}")
        from bot.parser import leading_number

        number = leading_number(args)
        if number is None:
            raise Refusal(f"{domain}.not_a_number", given=args.split()[0][:20],
                          usage=self.t(f"{domain}.usage.{command}"))
        return number

    # --- answering -----------------------------------------------------------------------------
    async def reply(self, key: str, *, ref: str = "", **values: object) -> None:
        """Answer in the chat the message came from, in the sender's language."""
        await self.reply_text(self.t(key, **values), ref=ref)

    async def reply_text(self, text: str, *, ref: str = "",
                         buttons: Sequence[ButtonSpec] = ()) -> None:
        rendered, hint = render_buttons(buttons, self.lang)
        message = Outbound(
            self.msg.platform, self.msg.chat_id, self.msg.chat_kind, text, rendered, hint,
            person_id=self.person.id if not self.in_group else None, chat_key=self.chat_key,
            mention_ids=(self.msg.sender_id,) if self.in_group else (),
            edit_of=self.msg.button_message_id if self.msg.callback else None,
        )
        await self.tx.outbox.add(message, self.ts, ref)

    async def reply_private(self, key: str, *, ref: str = "", **values: object) -> None:
        """Answer the sender privately (the same chat, if it already is private)."""
        if not self.in_group:
            await self.reply(key, ref=ref, **values)
        else:
            await self.tell(self.person.id, key, ref=ref, **values)

    async def ask(self, kind: str, payload: dict, *, minutes: int = 30) -> None:
        """Wait for this person's next plain message in this chat; ``on_reply(kind)`` gets it."""
        expires = (self.now + timedelta(minutes=minutes)).timestamp()
        await self.tx.prompts.ask(self.person.id, self.msg.platform, self.msg.chat_id, kind,
                                  payload, expires)

    async def done_asking(self) -> None:
        await self.tx.prompts.done(self.person.id, self.msg.platform, self.msg.chat_id)

    async def record(self, action: str, target: str = "", detail: str = "") -> None:
        """Write an audit row for something the sender did."""
        await self.audit(self.person.id, self.msg.platform, action, target, detail)
