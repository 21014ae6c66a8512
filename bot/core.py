"""The platform-neutral core: one inbound message in, state changes and outbox rows out.

The data path reads in one direction::

    adapter → Inbound → Parser → handler (Context) → storage + outbox (one transaction)
            → Dispatcher → adapter

``Core.handle`` claims the message (a redelivered one stops here), finds or creates the sender,
checks the command's roles, and runs the handler inside a savepoint: a :class:`Refusal` or a bug
undoes the handler's changes and the sender still gets an answer.  ``Core.perform`` does the same
for a command that does not come from a chat (the office board, ``linli do``): a known person, a
command and its arguments in, the answers back to the caller.  ``Core.tick`` runs the sweeps
(escalations, auto-close, reminders, broadcasts) the scheduler asks for, and
``Core.delivery_failed`` decides what happens when a platform refuses a message for good.

What the core works with is handed to its constructor: the config, the database, the clock, the
registry of commands (built by the app from ``handlers.MODULES``), each platform's send limits and
a way to wake the scheduler.  It imports no handler module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from bot.adapters.base import PermanentError, SendLimits
from bot.commands import Command, Registry
from bot.config import Area, Building, Config, normalize_name
from bot.context import Context, Mention, Notifier, Refusal, fallback_message
from bot.format import join
from bot.i18n import catalogue, t
from bot.messages import Attachment, Inbound, Outbound
from bot.parser import Parsed, Parser, clean, guess_language
from bot.privacy import Redactor, has_digit
from storage import Database, Tx
from storage.media import MediaProblem, MediaStore
from storage.people import Person

log = logging.getLogger(__name__)
ROLE_ORDER = ("captain", "property", "committee", "coordinator", "admin")
# An identity's last-seen time (which platform reaches a person first) is refreshed at most this
# often: a resident typing ten messages a minute costs one UPDATE, not ten.
SEEN_EVERY = 60.0
FETCH_SECONDS = 120.0  # downloading one photo a person sent


class Core:
    """Everything Linli knows and does, with no idea which chat platform it runs on."""

    def __init__(self, config: Config, db: Database, clock, platforms: Iterable[str],
                 registry: Registry, *, send_limits: Mapping[str, SendLimits] | None = None,
                 wake_at: Callable[[datetime], None] | None = None,
                 media: MediaStore | None = None) -> None:
        self.config = config
        self.media = media  # the media folder: photos people attach are kept there
        self.db = db
        self.clock = clock
        self.platforms = list(platforms)  # the platforms whose adapters run: where to deliver
        self.registry = registry
        self.send_limits = dict(send_limits or {})  # what the core may promise about delivery
        self.wake_at = wake_at or (lambda moment: None)  # run the sweeps at that moment too
        self.parser = Parser(list(registry.commands.values()), config.compound.bot_names)
        self.outbox_changed = asyncio.Event()
        self.buildings = config.building_list()
        self._building_by_alias = {normalize_name(a): b for b in self.buildings for a in b.aliases}
        self._building_by_alias.update({normalize_name(b.key): b for b in self.buildings})
        self._building_by_key = {b.key: b for b in self.buildings}
        self._building_pattern = _alias_pattern(self._building_by_alias)
        self.areas = config.area_list()
        self._area_by_alias = {normalize_name(a): area for area in self.areas for a in area.aliases}
        self._area_by_words = {_words(a): area for area in self.areas for a in area.aliases}
        self._area_pattern = _area_pattern(self._area_by_words)
        self._chat_by_address: dict[tuple[str, str], str] = {}
        for key, chat in config.chats.items():
            self._chat_by_address[("console", key)] = key
            if chat.telegram is not None:
                self._chat_by_address[("telegram", str(chat.telegram))] = key
            if chat.wechat is not None:
                self._chat_by_address[("wechat", chat.wechat)] = key
        self._roles_by_key = {key: frozenset(p.roles) for key, p in config.people.items()}
        self._keys_by_role: dict[str, list[str]] = {}  # every report asks who its captains are
        for key, roles in self._roles_by_key.items():
            for role in roles:
                self._keys_by_role.setdefault(role, []).append(key)
        self._unknown_chats_logged: set[tuple[str, str]] = set()
        self._last_group: dict[tuple[str, str], str] = {}  # (platform, sender) → chat key
        # (platform, chat, kind) → when this process last wrote a gathering acknowledgement of it
        self.gathered_at: dict[tuple[str, str, str], float] = {}
        self.redactor = Redactor()  # registered units, loaded on start, kept current by 登记
        # the catalogue's examples and the operator's [faq] answers (a front desk's public number)
        self._fixed_texts = _fixed_private_looking_texts(self.redactor, config.faq.values())

    # --- start-up ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bring the people listed in the config into the database, with their identities."""
        now = self.clock.now().timestamp()
        async with self.db.transaction() as tx:
            self.redactor.update(await tx.people.registered_units())
            for key, person in self.config.people.items():
                person_id = await tx.people.upsert_listed(key, person.name or key, person.language,
                                                          now)
                await tx.identities.link("console", key, person_id, None)
                if person.telegram is not None:
                    await tx.identities.link("telegram", str(person.telegram), person_id, None)
                if person.wechat is not None:
                    await tx.identities.link("wechat", person.wechat, person_id, None)

    # --- directory: chats, buildings, people ---------------------------------------------------
    def chat_key_of(self, platform: str, chat_id: str, title: str = "") -> str | None:
        key = self._chat_by_address.get((platform, chat_id))
        if key is None and title:
            key = self._chat_by_address.get((platform, title))
        return key

    def building_of_chat(self, chat_key: str | None) -> str | None:
        if chat_key is None:
            return None
        chat = self.config.chats.get(chat_key)
        return chat.building if chat else None

    def chats_of_building(self, building: str) -> list[str]:
        return [k for k, c in self.config.chats.items() if c.building == building]

    def group_addresses(self, chat_key: str) -> list[tuple[str, str]]:
        chat = self.config.chats.get(chat_key)
        if chat is None:
            return []
        out = []
        for platform in self.platforms:
            if platform == "console":
                out.append(("console", chat_key))
            elif platform == "telegram" and chat.telegram is not None:
                out.append(("telegram", str(chat.telegram)))
            elif platform == "wechat" and chat.wechat is not None:
                out.append(("wechat", chat.wechat))
        return out

    async def private_address(self, tx: Tx, person_id: int) -> tuple[str, str] | None:
        """Where a private message to this person goes: the running platform they used last."""
        identities = await tx.identities.of_person(person_id)
        for platform, external_id, _ in identities:
            if platform in self.platforms:
                return platform, external_id
        return (identities[0][0], identities[0][1]) if identities else None

    async def home_chats(self, tx: Tx, person_id: int) -> list[str]:
        """The group chats where a person can be reached in public: their building's, else the
        compound-wide ones."""
        person = await tx.people.get(person_id)
        buildings = set()
        if person is not None:
            if person.building:
                buildings.add(person.building)
            buildings |= {r.split(":", 1)[1] for r in self.roles_of(person)
                          if r.startswith("captain:")}
        chats = [k for b in sorted(buildings) for k in self.chats_of_building(b)]
        return chats or [k for k, c in self.config.chats.items() if c.building is None]

    def building(self, key: str | None) -> Building | None:
        return self._building_by_key.get(key)

    def building_named(self, text: str) -> Building | None:
        """The building a whole word names (``3栋``, ``３座``, ``B3``, ``building 3``, ``3``)."""
        return self._building_by_alias.get(normalize_name(text))

    def find_building(self, text: str) -> Building | None:
        """The first building named inside free text ("3栋电梯坏了" → 3栋)."""
        if self._building_pattern is None:
            return None
        match = self._building_pattern.search(normalize_name(text))
        if match is None:  # "the lift in B3 is broken": with the spaces gone, "inb3is" names nothing
            match = self._building_pattern.search(_spaced(text))
        return self._building_by_alias[match.group(0)] if match else None

    def area(self, key: str | None) -> Area | None:
        return next((a for a in self.areas if a.key == key), None)

    def area_named(self, text: str) -> Area | None:
        """The common area a whole word names (``东门``, ``east gate``, ``车库``)."""
        return self._area_by_alias.get(normalize_name(text))

    def find_area(self, text: str) -> Area | None:
        """The first common area ([areas]) named inside free text ("小区东门路灯坏了" → 东门)."""
        match = self._area_pattern.search(_words(text)) if self._area_pattern else None
        return self._area_by_words[match.group(0)] if match else None

    def area_answerers(self, area: Area) -> list[str]:
        """Config keys of the people who answer for a common area: its ``answers`` (person keys,
        or everyone holding a role), else property."""
        keys: list[str] = []
        for who in area.answers:
            for key in [who] if who in self.config.people else self.people_with_role(who):
                if key not in keys:
                    keys.append(key)
        return keys

    def roles_of(self, person: Person) -> frozenset[str]:
        return self._roles_by_key.get(person.key or "", frozenset())

    @staticmethod
    def has_role(roles: frozenset[str], role: str, building: str | None = None) -> bool:
        if "admin" in roles:
            return True
        if role == "captain":
            if building is None:
                return any(r.startswith("captain:") for r in roles)
            return f"captain:{building}" in roles
        return role in roles

    @staticmethod
    def sees_private(roles: frozenset[str], building: str | None, *,
                     anonymous: bool = False) -> bool:
        """Whether someone with ``roles`` may see a resident's unit and phone number on a matter
        of ``building``: that building's captains, property and the community office may; other
        staff (other buildings' captains, the committee, coordinators) see the building only.  An
        anonymous report (报修 匿名) shows who reported it to property and the office only."""
        return "admin" in roles or "property" in roles or (
            not anonymous and building is not None and f"captain:{building}" in roles)

    def people_with_role(self, role: str) -> list[str]:
        """Config keys of the people holding ``role`` exactly (``captain:3``, ``property``…)."""
        return list(self._keys_by_role.get(role, ()))

    async def person_ids(self, tx: Tx, keys: Iterable[str]) -> list[int]:
        ids = []
        for key in keys:
            person = await tx.people.by_key(key)
            if person is not None:
                ids.append(person.id)
        return ids

    def language_of_person(self, person: Person | None) -> str:
        if person is not None and person.lang in ("zh", "en"):
            return person.lang
        return self.config.compound.language

    def language_of_chat(self, chat_key: str) -> str:
        chat = self.config.chats.get(chat_key)
        return (chat.language if chat and chat.language else None) or self.config.compound.language

    # --- handling one message ------------------------------------------------------------------
    async def handle(self, msg: Inbound) -> None:
        """Act on one inbound message (see module docstring)."""
        # what is stored and echoed is what a person can see (no lone surrogates or controls)
        text, name = clean(msg.text), clean(msg.sender_name)
        if text != msg.text or name != msg.sender_name:
            msg = replace(msg, text=text, sender_name=name)
        private = msg.chat_kind == "private"
        chat_key = None if private else self.chat_key_of(msg.platform, msg.chat_id, msg.chat_title)
        if not private and chat_key is None:
            if (msg.platform, msg.chat_id) not in self._unknown_chats_logged:
                self._unknown_chats_logged.add((msg.platform, msg.chat_id))
                log.info("ignoring %s chat %s: not in the config", msg.platform, msg.chat_id)
            return
        if chat_key is not None:  # where to ask them to open a private chat, if it comes to that
            self._last_group[(msg.platform, msg.sender_id)] = chat_key
            if len(self._last_group) > 100_000:
                self._last_group.pop(next(iter(self._last_group)))
        if any(a.fetch is not None for a in msg.attachments):
            msg = replace(msg, attachments=await self.take_media(msg))
            try:
                await self._handle(msg, private, chat_key)
            finally:  # a photo no handler took (chatter in a group) is not kept
                await self.forget_unattached([a.media for a in msg.attachments if a.media])
            return
        await self._handle(msg, private, chat_key)

    async def _handle(self, msg: Inbound, private: bool, chat_key: str | None) -> None:
        parsed = self.parser.parse(msg.text, private=private, mentioned=msg.mentions_bot,
                                   cleaned=True)  # handle() cleaned it
        now = self.clock.now()
        ts = now.timestamp()
        listener = None
        async with self.db.transaction() as tx:
            person, seen_now = await self._sender(tx, msg, ts, parsed)
            if parsed is None:
                prompt = await tx.prompts.pending(person.id, msg.platform, msg.chat_id, ts)
                replies = self.registry.replies
                listener = replies.get(prompt.kind) if prompt else None
                if listener is None and any(a.kind == "voice" for a in msg.attachments):
                    listener = replies.get("voice")  # handlers/conversation.py
                elif listener is None and msg.attachments:  # a photo: with a caption, maybe a report
                    listener = (replies.get("captioned") if msg.text.strip() else None) or \
                        replies.get("attachment")
                if listener is None and msg.joined:
                    listener = replies.get("joined")  # someone joined a group (handlers/welcome.py)
                if listener is None and private and msg.text:
                    listener = replies.get("private")  # a private message always gets an answer
                if listener is None and not private and msg.text:
                    listener = self._plain_group_text if self.registry.hearers else \
                        replies.get("group_text")  # free text: a report in plain words?
                if listener is None:
                    return
            if not await tx.inbound.claim(msg.platform, msg.chat_id, msg.message_id, ts,
                                          msg.text[:2000], person.id):
                log.info("redelivered %s message %s ignored", msg.platform, msg.message_id)
                return
            if not seen_now:
                await tx.identities.seen(msg.platform, msg.sender_id, ts)
            lang = self._language(parsed, person, msg)
            if parsed is not None and parsed.lang is not None:
                await tx.people.set_language(person.id, parsed.lang)
            elif parsed is not None and person.lang not in ("zh", "en"):
                # "/join 1" says nothing in its arguments, but an unknown person who types English
                # commands wants private messages (promotions, reminders) in English too
                await tx.people.set_language(person.id, lang)
            ctx = Context(self, tx, now, msg, person, lang, parsed, chat_key, ts=ts)
            await self._run(ctx, parsed, listener)
        self.outbox_changed.set()

    async def take_media(self, msg: Inbound) -> tuple[Attachment, ...]:
        """Download the photos a message carries and keep them in the media folder, before any
        transaction begins: each comes back with ``media`` (its stored name) or ``problem``
        ("too_big", "not_image").  One that cannot be downloaded keeps only its platform id."""
        taken = []
        for attachment in msg.attachments:
            fetch, attachment = attachment.fetch, replace(attachment, fetch=None,
                                                          origin=attachment.origin or msg.platform)
            if fetch is None or self.media is None or attachment.kind not in ("photo", "document"):
                taken.append(attachment)
                continue
            limit = self.media.max_bytes
            try:
                if attachment.size > limit:
                    raise MediaProblem("too_big")
                data = await asyncio.wait_for(fetch(limit), FETCH_SECONDS)
                kept = await asyncio.to_thread(self.media.keep, data)
                taken.append(replace(attachment, media=kept.name, size=kept.size))
            except MediaProblem as problem:
                log.info("%s %s from %s not kept: %s", msg.platform, attachment.kind,
                         msg.sender_id, problem.reason)
                taken.append(replace(attachment, problem=problem.reason))
            except Exception as exc:  # the platform did not give it: forwarded by id, as before
                log.warning("%s %s %r could not be downloaded: %r", msg.platform, attachment.kind,
                            attachment.file_id[:40], exc)
                taken.append(attachment)
        return tuple(taken)

    async def forget_unattached(self, names: Iterable[str]) -> None:
        """Delete stored photos that no ticket has (kept while a message was handled, then not
        taken): the media folder holds what residents reported, not everything they posted."""
        names = [n for n in names if n]
        if not names or self.media is None:
            return
        now = self.clock.now().timestamp()
        async with self.db.read() as tx:  # a photo a report offer waits with (是) is kept too
            unused = [n for n in names if await tx.media.ticket_of(n.split(".", 1)[0]) is None
                      and not await tx.prompts.mention(n, now)]
        for name in unused:
            await asyncio.to_thread(self.media.forget, name)

    async def _run(self, ctx: Context, parsed: Parsed | None, listener) -> None:
        try:
            async with ctx.tx.savepoint():
                if parsed is None:
                    await listener(ctx)
                elif parsed.command is None:
                    unknown = self.registry.replies.get("unknown_command")
                    if unknown is not None:
                        await unknown(ctx)
                    else:
                        await ctx.reply("core.unknown_command", word=parsed.word)
                else:
                    await self._command(ctx, parsed.command)
        except Refusal as refusal:
            if refusal.audit:
                await ctx.record(refusal.audit, str(refusal.values.get("target", "")), refusal.key)
            await ctx.reply(refusal.key, **refusal.values)  # in a group, the gate hides numbers
        except Exception:
            log.exception("handler failed on %r", ctx.msg.text[:200])
            await ctx.reply("core.oops")

    async def _plain_group_text(self, ctx: Context) -> None:
        """Plain words in a group: the hearers first (``好的`` under a notice to confirm), then the
        free-text listener (a report in plain words?)."""
        for hear in self.registry.hearers:
            if await hear(ctx):
                return
        listener = self.registry.replies.get("group_text")
        if listener is not None:
            await listener(ctx)

    def carries_private(self, *texts: str) -> bool:
        """True when any text has a phone number or a registered unit number in it: such text is
        refused for anything that is posted to a group (an event's title, a rota's name …)."""
        return any(self.redactor.carries_private(text) for text in texts if text)

    # --- privacy: the one gate every group message passes --------------------------------------
    def remember_unit(self, unit: str | None) -> None:
        """A resident registered a unit: from now on it is hidden from every group."""
        if unit:
            self.redactor.add(unit)

    def redact_values(self, lang: str, values: dict[str, object]) -> dict[str, object]:
        """The values a group text is filled with, without phone or unit numbers."""
        hidden = t(lang, "core.hidden")
        redact = self.redactor.redact
        # a value without a digit has nothing to hide: not even a call (most are names and words)
        return {k: redact(v, hidden) if isinstance(v, str) and has_digit(v) else v
                for k, v in values.items()}

    def privacy_gate(self, message: Outbound) -> Outbound:
        """A group message as it may go out: phone and unit numbers hidden, whoever wrote it.

        The catalogue's own examples (``登记 3栋 1203``) and the bot's references (``#12``, a
        ticket's number) are the bot's words, not anyone's details: they pass as written.
        """
        text = message.text
        if not text or not self.redactor.spans(text):  # nothing private-looking at all (cached)
            return message
        kept: list[str] = []

        def keep(match: re.Match) -> str:
            kept.append(match.group(0))
            return f"\ue000{len(kept) - 1}\ue001"

        guarded = self._fixed_texts.sub(keep, text) if self._fixed_texts else text
        guarded = _REFERENCE.sub(keep, guarded)
        lang = self.language_of_chat(message.chat_key) if message.chat_key else \
            self.config.compound.language
        redacted = self.redactor.redact(guarded, t(lang, "core.hidden"))
        if redacted == guarded:
            return message
        restored = _KEPT.sub(lambda m: kept[int(m.group(1))], redacted)
        log.info("privacy gate: hid a number in %s to %s", message.key or "a message",
                 message.chat_key or message.address)
        return replace(message, text=restored)

    async def run_command(self, ctx: Context, name: str, args: str) -> None:
        """Answer ``ctx`` as if its sender had typed command ``name`` with ``args`` (a question in
        plain words, "1号报修怎么样了", is answered by 进度 1), with the same role checks."""
        command = self.registry.commands.get(name)
        if command is None:
            return
        word = command.zh[0] if ctx.lang == "zh" or not command.en else command.en[0]
        ctx.parsed = Parsed(command, word, args, ctx.lang, False, f"{word} {args}".strip())
        ctx.command, ctx.args = command, args
        await self._command(ctx, command)

    async def _command(self, ctx: Context, command: Command) -> None:
        if command.roles is not None and not any(ctx.has_role(r) for r in command.roles):
            raise Refusal("core.not_allowed", audit="denied", target=f"command:{command.name}",
                          word=ctx.parsed.word, who=self.describe_roles(command.roles, ctx.lang))
        if command.private_only and ctx.in_group:
            raise Refusal("core.private_only", word=ctx.parsed.word)
        if command.handler is None:
            raise Refusal("core.unknown_command", word=ctx.parsed.word)
        await command.handler(ctx)

    def describe_roles(self, roles: Iterable[str], lang: str) -> str:
        """Who may use a command, the way the reader's language says it: ``志愿者协调人或社区管理员``,
        ``building captains, property management or the community office``."""
        names = [t(lang, f"core.role.{r}") for r in ROLE_ORDER if r in set(roles) | {"admin"}]
        if len(names) < 2:
            return join(lang, names)
        return join(lang, names[:-1]) + t(lang, "core.role_or") + names[-1]

    async def _sender(self, tx: Tx, msg: Inbound, ts: float,
                      parsed: Parsed | None) -> tuple[Person, bool]:
        """The person behind the sender's identity, created on their first message; and whether
        the identity's last-seen time is recent enough to leave as it is (within SEEN_EVERY)."""
        person, seen = await tx.people.sender(msg.platform, msg.sender_id)
        if person is not None:
            return person, seen is not None and 0 <= ts - seen < SEEN_EVERY
        name = (msg.sender_name or msg.sender_id).strip()[:64] or msg.sender_id
        # a command tells us their language at once (what handle() would otherwise set next)
        lang = self._language(parsed, None, msg) if parsed is not None else None
        person = await tx.people.create(name, ts, lang=lang)
        await tx.identities.link(msg.platform, msg.sender_id, person.id, ts)
        return person, True

    def _language(self, parsed: Parsed | None, person: Person | None, msg: Inbound) -> str:
        if parsed is not None and parsed.lang:
            return parsed.lang
        if person is not None and person.lang in ("zh", "en"):
            return person.lang
        hint = (msg.language_hint or "")[:2].lower()
        if hint in ("zh", "en"):
            return hint
        if parsed is not None and parsed.word.isascii():
            return "en"  # "/help" from someone we know nothing about yet
        if parsed is None and msg.text:
            return guess_language(msg.text) or self.config.compound.language  # "hello there"
        return self.config.compound.language

    # --- a command from outside the chats (the office board, ``linli do``) ----------------------
    async def perform(self, person_key: str, command_name: str, args: str = "", *,
                      lang: str | None = None,
                      attachments: tuple[Attachment, ...] = ()) -> list[Outbound]:
        """Do ``command_name`` with ``args`` on behalf of the configured person ``person_key``,
        through the same path as a chat message (role checks, audit, notifications, one
        transaction) and return the answers the person would have seen, instead of sending them."""
        command = self.registry.commands.get(command_name)
        if command is None:
            raise KeyError(f"no command {command_name!r}")
        now = self.clock.now()
        answers: list[Outbound] = []
        async with self.db.transaction() as tx:
            person = await tx.people.by_key(person_key)
            if person is None:
                raise KeyError(f"no person {person_key!r} in [people]")
            lang = lang or self.language_of_person(person)
            word = command.zh[0] if lang == "zh" or not command.en else command.en[0]
            args = clean(args)
            msg = Inbound(platform="office", chat_id=f"person:{person.id}", chat_kind="private",
                          sender_id=person_key, sender_name=person.name, text=f"{word} {args}",
                          message_id=f"office:{now.timestamp()}", attachments=attachments)
            parsed = Parsed(command, word, args, lang, True, msg.text)
            ctx = Context(self, tx, now, msg, person, lang, parsed, None, answers=answers)
            await self._run(ctx, parsed, None)
        self.outbox_changed.set()
        return answers

    # --- delivery: what happens when a platform refuses a message for good ---------------------
    async def delivery_failed(self, message: Outbound, error: PermanentError) -> bool:
        """A platform refused ``message`` for good; True when another way was arranged.

        A person who never started the bot (Telegram) is asked, in the group they last wrote in
        (else their building's), to open a private chat; the message is held until they do.
        A private answer given instead of a group reply (``Context.reply_quietly``) is posted in
        the group after all, in the same outbox row.
        Anything else is given up on by the dispatcher (and audited there).
        """
        if message.kind == "private" and message.fallback:
            async with self.db.transaction() as tx:
                await tx.outbox.instead(message.outbox_id, fallback_message(message),
                                        self.clock.now().timestamp())
            self.outbox_changed.set()
            return True
        if error.reason != "not_started" or message.kind != "private" or \
                message.person_id is None:
            return False
        now = self.clock.now()
        async with self.db.transaction() as tx:
            await tx.outbox.hold(message.outbox_id, f"waiting for /start: {error}")
            flag = f"{message.platform}:asked-start:{message.address}"
            if await tx.kv.get(flag):
                return True  # asked already; the held message goes once they start the bot
            await tx.kv.put(flag, str(now.timestamp()))
            person = await tx.people.get(message.person_id)
            notifier = Notifier(self, tx, now)
            last = self._last_group.get((message.platform, message.address))
            chat_keys = [last] if last else await self.home_chats(tx, message.person_id)
            posted = 0
            for chat_key in chat_keys:
                lang = self.language_of_chat(chat_key)
                # a display name can hold a phone or unit number: never into a group
                name = self.redactor.redact((person.name if person else "") or "?",
                                            t(lang, "core.hidden"))
                posted += await notifier.post(
                    chat_key, f"{message.platform}.start_me", ref=f"start-me:{message.address}",
                    mention=Mention((message.address,), name), platform=message.platform,
                    person=name, link=error.link)
            if not posted:
                log.warning("%s: %s has not started the bot and is in no configured group there; "
                            "their private messages wait until they do", message.platform,
                            message.address)
        self.outbox_changed.set()
        return True

    async def reachable_again(self, platform: str, address: str) -> None:
        """Someone opened a private chat with the bot: send what was held for them."""
        now = self.clock.now().timestamp()
        async with self.db.transaction() as tx:
            released = await tx.outbox.release(platform, address, now)
            flag = f"{platform}:asked-start:{address}"
            if released and await tx.kv.get(flag):
                await tx.kv.put(flag, "")  # ask again if it recurs
        if released:
            log.info("%s: released %s held message(s) for %s", platform, released, address)
            self.outbox_changed.set()

    # --- adapters' health ----------------------------------------------------------------------
    async def note_health(self, platform: str, state: str, detail: str = "") -> None:
        """An adapter's connection state ("connected", "disconnected", …), kept for ``linli status``."""
        value = json.dumps({"state": state, "detail": detail[:300], "at": time.time()},
                           ensure_ascii=False)
        async with self.db.transaction() as tx:
            await tx.kv.put(f"health:{platform}", value)

    # --- time ----------------------------------------------------------------------------------
    async def tick(self) -> None:
        """Run every registered sweep once, each in its own transaction."""
        now = self.clock.now()
        for name, sweep in self.registry.sweeps.items():
            try:
                await sweep(self, now)
            except Exception:
                log.exception("sweep %s failed", name)
        self.outbox_changed.set()


def _alias_pattern(aliases: dict[str, Building]) -> re.Pattern | None:
    if not aliases:
        return None
    names = sorted((a for a in aliases if not a.isdigit()), key=len, reverse=True)
    # not a level of the car park: 地下车库B1, 地库b2, B1层 name a floor below ground, not building 1
    return re.compile(r"(?<![0-9a-z])(?<!车库)(?<!地库)(?:" + "|".join(map(re.escape, names))
                      + r")(?![0-9层])")


def _spaced(text: str) -> str:
    """Free text folded as building names are, but with its words apart: "in B3 is" → "in b3 is",
    "building 3" → "building3" (a word and the number after it stay together)."""
    spaced = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).lower()
    return re.sub(r"(?<=[a-z.])\s+(?=\d)", "", spaced)


def _words(text: str) -> str:
    """Text folded for finding an area in it: full-width to ASCII, lower case, one space between
    words (kept, so that "east gate" is found as words and not inside "the beast gates")."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def _area_pattern(aliases: dict[str, Area]) -> re.Pattern | None:
    """Longest alias first; a Latin alias only as a whole word ("east gate", not "beast gates")."""
    if not aliases:
        return None
    parts = [(r"(?<![a-z])" + re.escape(a) + r"(?![a-z])") if re.match(r"[a-z0-9]", a)
             else re.escape(a) for a in sorted(aliases, key=len, reverse=True)]
    return re.compile("|".join(parts))


_REFERENCE = re.compile(r"[#＃][0-9]{1,9}(?![0-9])")  # the bot's own references: ticket #12
_KEPT = re.compile("\ue000([0-9]+)\ue001")


def _fixed_private_looking_texts(redactor: Redactor, extra: Iterable[str] = ()) -> re.Pattern | None:
    """The catalogue's own words that look like a phone or unit number (``登记 3栋 1203`` in the
    help), in either language: one pattern, so the privacy gate passes them as written."""
    fixed: set[str] = {line.strip() for text in extra for line in text.splitlines()
                       if line.strip() and redactor.redact(line, "") != line}
    for lang in ("zh", "en"):
        for template in catalogue(lang).values():
            for literal in re.split(r"\{[^{}]*\}", template):
                for line in literal.splitlines():
                    if line.strip() and redactor.redact(line, "") != line:
                        fixed.add(line.strip())
    if not fixed:
        return None
    return re.compile("|".join(map(re.escape, sorted(fixed, key=len, reverse=True))))
