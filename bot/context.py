"""What a handler gets: who said what, where, in which language, and one way to answer.

Every answer goes to the outbox inside the handler's transaction (never to a platform directly),
by catalogue key with its values:

* ``await ctx.reply(key, **values)`` — to the chat the message came from;
* ``await ctx.reply_private(key, **values)`` — to the sender, privately;
* ``await ctx.tell(person_id, key, **values)`` — privately, in that person's language;
* ``await ctx.tell_role(role, key, **values)`` — privately, to everyone holding a role;
* ``await ctx.post(chat_key, key, **values)`` — to a configured group chat on every platform it is on;
* ``raise Refusal(key, **values)`` — undo what the handler changed and answer with ``key``.

Each takes ``buttons=[ButtonSpec(...)]`` (rendered in the reader's language, with the line that
says what to type instead), ``attachments=[...]`` and ``ref=`` (what the message is about).  A text
made of several catalogue lines goes as ``reply_text(text, key=...)`` (``tell_text``, ``post_text``):
``key`` names the message for tests and the simulation.  Every message bound for a group passes one
privacy gate on its way into the outbox (``Notifier._queue``): the values of a text made from a key,
or the whole of a ready text, lose phone and unit numbers, whichever handler wrote it.

A group acknowledgement that many people trigger one after another (sign-ups to one event, 同问 on
one report) passes ``gather=Gather(kind, many_key)``: the first goes at once, those of the same kind
in the same group within ``[quiet] window`` of the first gather into one message (``many_key``, with
``names``, ``people``, the latest counts) that goes ``[quiet] hold`` after the last one — in the
outbox all along, so a crash loses nothing; on Telegram it edits the sent one in place
(``Outbound.replaces``).
What one command says in a group goes as one message: a second reply to the same group (a report's
receipt, then "the same as #7?") joins the first (its key and values in ``gathered["parts"]``).
A personal answer asked for in a group (我的报修) goes privately with a short pointer in the group
(``reply_personal``).

A :class:`Notifier` is the same without an inbound message: sweeps (escalations, reminders,
broadcasts) use it to tell people things.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.format import when_values
from bot.i18n import t
from bot.messages import Attachment, Button, Inbound, Outbound
from bot.parser import leading_number

if TYPE_CHECKING:
    from bot.commands import Command, Registry
    from bot.core import Core
    from bot.parser import Parsed
    from storage import Tx
    from storage.people import Person

log = logging.getLogger(__name__)
_SPACES = re.compile(r"\s+")
_STAFF_NAMES: dict[int, tuple[object, frozenset[str]]] = {}  # id(config) → (config, folded names)


class BadAnswer(ValueError):
    """An answer in a step-by-step dialogue that cannot be used, with the catalogue key (and its
    values) that says why; the dialogue asks the same step again."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


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

    def typed(self, registry: Registry, lang: str) -> str:
        """What a person would type for this button in ``lang``: ``受理 12`` or ``/ack 12``."""
        command = registry.commands[self.command]
        word = command.zh[0] if lang == "zh" or not command.en else "/" + command.en[0]
        return f"{word} {self.arg}".strip()


@dataclass(frozen=True, slots=True)
class Mention:
    """Whom a group message @mentions: platform ids, and the name the text starts with (which the
    platform turns into a mention of the first id)."""

    ids: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class Gather:
    """How a group acknowledgement gathers with others of its kind: ``kind`` says what they are
    about (``event:12:joined``), ``many`` is the catalogue key of the gathered message; it gets
    ``names`` (the first few), ``people`` (how many) and the latest message's values."""

    kind: str
    many: str


GATHERED_NAMES = 5  # names shown in a gathered message; the rest are in its count


def render_buttons(specs: Sequence[ButtonSpec], registry: Registry,
                   lang: str) -> tuple[tuple[Button, ...], str]:
    """Buttons in ``lang``, and the line that says what to type instead of pressing them."""
    if not specs:
        return (), ""
    buttons = tuple(Button(t(lang, b.label_key), b.typed(registry, lang)) for b in specs)
    typed = [b.command for b in buttons]
    commands = "、".join(f"「{c}」" for c in typed) if lang == "zh" else ", ".join(
        f'"{c}"' for c in typed)
    return buttons, t(lang, "core.reply_with", commands=commands)


def fallback_body(message: Outbound) -> dict:
    """What a private answer keeps of its group copy (see ``Context.reply_quietly``)."""
    return {"platform": message.platform, "address": message.address, "text": message.text,
            "chat_key": message.chat_key, "mention_ids": list(message.mention_ids),
            "mention_name": message.mention_name, "key": message.key, "values": message.values}


def fallback_message(message: Outbound) -> Outbound:
    """The group copy a refused private answer carries, ready to go in its outbox row."""
    body = message.fallback
    return Outbound(body["platform"], body["address"], "group", body["text"],
                    outbox_id=message.outbox_id, chat_key=body.get("chat_key"),
                    mention_ids=tuple(body.get("mention_ids", ())),
                    mention_name=body.get("mention_name", ""), key=body.get("key", ""),
                    values=body.get("values") or {})


_PLAIN = (str, int, float)  # bool is an int


def _kept_values(values: dict[str, object]) -> dict[str, object]:
    """The values an outbound message keeps beside its key (what tests and the simulation read)."""
    return {k: v for k, v in values.items() if isinstance(v, _PLAIN)}


class Notifier:
    """Sends things through the outbox inside a transaction, in each recipient's language."""

    def __init__(self, core: Core, tx: Tx, now: datetime, ts: float | None = None) -> None:
        self.core = core
        self.tx = tx
        self.now = now
        self.ts = now.timestamp() if ts is None else ts  # ``now`` as Unix seconds
        self.config = core.config

    # --- the one way into the outbox -----------------------------------------------------------
    async def _queue(self, message: Outbound, ref: str = "", not_before: float | None = None,
                     *, values_redacted: bool = False) -> None:
        """Write one message to the outbox; a group's passes the privacy gate first (its values
        already did when it was rendered from a key: the template around them is ours)."""
        if message.kind == "group" and not values_redacted:
            message = self.core.privacy_gate(message)
        if message.merge_key and message.kind == "group":
            await self._gather(message, ref)
            return
        await self.tx.outbox.add(message, self.ts, ref, not_before)

    async def _gather(self, message: Outbound, ref: str) -> None:
        """A group acknowledgement of a kind (``message.merge_key``): join the one of its kind not
        yet sent in this chat, or follow the sent one after the hold, or go at once (see the module
        docstring).  It is in the outbox whichever way it goes."""
        quiet = self.config.quiet
        # This process writes every acknowledgement of a kind (one instance per database), so when
        # none was written here within the window there is nothing to look up: the first sign-up
        # to an event costs no query.  (After a restart the first one goes on its own: one message
        # more at worst.)
        kind = (message.platform, message.address, message.merge_key)
        written = self.core.gathered_at.get(kind)
        self.core.gathered_at[kind] = self.ts
        if len(self.core.gathered_at) > 10_000:
            self.core.gathered_at.pop(next(iter(self.core.gathered_at)))
        last = None
        if written is not None and self.ts - written < quiet.window.total_seconds():
            last = await self.tx.outbox.last_gathered(message.platform, message.address,
                                                      message.merge_key)
        if last is not None:
            previous, status, created, sent_at, platform_id, claimed_until = last
            wall = time.time()
            # a message gathers what comes within the window from its first one: on Telegram
            # nobody's acknowledgement is an edit of a message from long ago
            since = previous.gathered.get("since", created)
            if self.ts - since < quiet.window.total_seconds():
                if status == "pending" and (claimed_until is None or claimed_until < wall):
                    joined = self._joined(previous, message, previous.mention_ids)
                    if await self.tx.outbox.regather(previous.outbox_id, joined, wall):
                        return
                if status == "sent":  # an update of the sent one, after the hold
                    update = replace(self._joined(previous, message, ()), replaces=platform_id)
                    await self.tx.outbox.add(update, self.ts, ref,
                                             max(self.ts, (sent_at or self.ts)
                                                 + quiet.hold.total_seconds()))
                    return
                if status == "pending":  # on its way right now: the next one waits the hold
                    await self.tx.outbox.add(message, self.ts, ref,
                                             self.ts + quiet.hold.total_seconds())
                    return
        await self.tx.outbox.add(message, self.ts, ref)

    def _joined(self, earlier: Outbound, later: Outbound, mentions: Sequence[str]) -> Outbound:
        """One message carrying both: the gathered text of everyone's names and the latest values."""
        before, now = earlier.gathered, later.gathered
        names = list(dict.fromkeys([*before.get("names", ()), *now.get("names", ())]))
        lang, many = now["lang"], now["many"]
        # counts are the latest; words (a title, a date in the first one's language) stay
        values = dict(before.get("values", {}))
        values.update((k, v) for k, v in now.get("values", {}).items()
                      if not isinstance(v, str) or k not in values)
        shown = dict(values, names=t(lang, "core.list_separator").join(names[:GATHERED_NAMES]),
                     people=len(names))
        text = self._render(lang, many, shown, group=True)
        return replace(later, text=text, key=many, values=_kept_values(shown),
                       mention_ids=tuple(dict.fromkeys([*mentions, *later.mention_ids]))[:20],
                       mention_name="", replaces=earlier.replaces,
                       gathered=dict(now, names=names, values=values,
                                     since=before.get("since", now.get("since"))))

    def _render(self, lang: str, key: str, values: dict[str, object], group: bool) -> str:
        if group:
            values = self.core.redact_values(lang, values)
        return t(lang, key, **values)

    # --- people --------------------------------------------------------------------------------
    async def language_of(self, person_id: int) -> str:
        person = await self.tx.people.get(person_id)
        return self.core.language_of_person(person)

    # A resident may go by the name (or config key) of a staff member — a person listed in
    # [people] with roles — on purpose or not.  Wherever names are shown such a resident is marked
    # (李阿姨（居民）), and a name that picks a person asks which one is meant when it fits several:
    # the marked form picks the resident, the config key picks the staff member.
    @staticmethod
    def fold_name(text: str) -> str:
        """A name as compared with another: full-width to ASCII, lower case, no spaces."""
        return _SPACES.sub("", unicodedata.normalize("NFKC", text)).casefold()

    @staticmethod
    def marked_name(word: str) -> str | None:
        """The name in a marked word (``李阿姨（居民）``, ``李阿姨(居民)``, ``李阿姨 (resident)``), or
        None when the word carries no mark."""
        import re

        from bot.i18n import LANGUAGES

        marks = "|".join(re.escape(t(lang, "core.same_name.word")) for lang in LANGUAGES)
        match = re.match(rf"^(?P<name>.+?)\s*[（(]\s*(?:{marks})\s*[)）]$", word.strip(), re.IGNORECASE)
        return match.group("name").strip() if match else None

    def staff_names(self) -> frozenset[str]:
        """The configured names and keys of staff members, folded (see :meth:`fold_name`); worked
        out once per config (it is asked for every name shown)."""
        known = _STAFF_NAMES.get(id(self.config))
        if known is None or known[0] is not self.config:
            names = frozenset(self.fold_name(n) for key, p in self.config.people.items() if p.roles
                              for n in (key, p.name))
            known = _STAFF_NAMES[id(self.config)] = (self.config, names)
        return known[1]

    def is_lookalike(self, person: Person) -> bool:
        """True for a resident going by a staff member's name (or config key)."""
        return person.key is None and self.fold_name(person.name) in self.staff_names()

    def _reader_lang(self, lang: str | None) -> str:
        return lang or getattr(self, "lang", None) or self.config.compound.language

    async def display_name(self, person: Person | int | None, lang: str | None = None) -> str:
        """The name to show for a person (or a person's id) in ``lang`` (the sender's, by
        default): their name, marked when a resident goes by a staff member's name."""
        if isinstance(person, int):
            person = await self.tx.people.get(person)
        return self.shown_name(person, lang)

    def shown_name(self, person: Person | None, lang: str | None = None) -> str:
        """:meth:`display_name` of a person already loaded (nothing to await: a 值班 table shows
        some forty)."""
        if person is None:
            return "?"
        if self.is_lookalike(person):
            return t(self._reader_lang(lang), "core.same_name.mark", name=person.name)
        return person.name

    async def name_of(self, person_id: int | None, lang: str | None = None) -> str:
        return await self.display_name(person_id, lang)

    async def people_named(self, word: str, among: Iterable[int] | None = None) -> list[Person]:
        """Everyone a word may name (of ``among``, a list of person ids, if given): the staff
        member whose config key it is; else, for the marked form (李阿姨（居民）/李阿姨 (resident)),
        the residents going by that staff member's name; else everyone going by the name."""
        word = word.strip().lstrip("@＠").strip()
        if not word:
            return []
        match = self.marked_name(word)
        base = match or word
        if among is None:
            pool = await self.tx.people.named(base)
            if match:
                pool += await self.tx.people.named(word)  # someone whose name has the mark in it
        else:
            pool = [p for p in [await self.tx.people.get(i) for i in among] if p is not None]
        folded, found = self.fold_name(word), []
        if match:
            base_folded = self.fold_name(base)
            found = [p for p in pool if self.is_lookalike(p) and self.fold_name(p.name) == base_folded]
        else:
            found = [p for p in pool if p.key is not None and p.key.lower() == word.lower()]
            if found:
                return found[:1]
        found += [p for p in pool if self.fold_name(p.name) == folded]
        return list({p.id: p for p in found}.values())

    async def person_named(self, word: str, among: Iterable[int] | None = None) -> Person | None:
        """The one person a word names (see :meth:`people_named`), or None.  When it fits several,
        an @mention of one of them in the message picks that one; else a :class:`Refusal` lists
        them as they are shown and says what to write instead."""
        people = await self.people_named(word, among)
        if len(people) <= 1:
            return people[0] if people else None
        msg = getattr(self, "msg", None)
        if msg is not None and msg.mentions and word.strip()[:1] in ("@", "＠"):
            mentioned = {p.id for i in msg.mentions
                         if (p := await self.tx.people.by_identity(msg.platform, i)) is not None}
            picked = [p for p in people if p.id in mentioned]
            if len(picked) == 1:
                return picked[0]
        lang = self._reader_lang(None)
        shown = [await self.display_name(p, lang) for p in people]
        choices = [t(lang, "core.same_name.staff_choice", key=p.key, name=name) if p.key
                   else t(lang, "core.same_name.resident_choice", name=name)
                   for p, name in zip(people, shown, strict=True)
                   if p.key or shown.count(name) == 1]
        name = word.strip().lstrip("@＠").strip()[:20]
        values = dict(name=name, count=len(people),
                      candidates=t(lang, "core.list_separator").join(shown))
        if len(choices) < len(people) - 1 or not choices:  # some can only be told apart by @
            raise Refusal("core.same_name.ambiguous_mention", **values)
        raise Refusal("core.same_name.ambiguous", choices=t(lang, "core.same_name.or").join(choices),
                      **values)

    # --- private messages ----------------------------------------------------------------------
    async def tell(self, person_id: int, key: str, *, ref: str = "",
                   buttons: Sequence[ButtonSpec] = (),
                   attachments: Iterable[Attachment] = (), not_before: float | None = None,
                   **values: object) -> bool:
        """Send a private message to a person in their language; False if they cannot be reached."""
        return await self._tell(person_id, key, None, values, ref=ref, buttons=buttons,
                                attachments=attachments, not_before=not_before)

    async def tell_text(self, person_id: int, text: str, *, key: str, ref: str = "",
                        buttons: Sequence[ButtonSpec] = (), attachments: Iterable[Attachment] = (),
                        not_before: float | None = None, values: dict | None = None,
                        fallback: Outbound | None = None) -> bool:
        """Send ready text (made of catalogue lines; ``key`` names it) privately to a person;
        ``fallback`` is posted instead if the platform refuses it (see :meth:`reply_quietly`)."""
        return await self._tell(person_id, key, text, values or {}, ref=ref, buttons=buttons,
                                attachments=attachments, not_before=not_before, fallback=fallback)

    async def _tell(self, person_id: int, key: str, text: str | None, values: dict, *, ref: str,
                    buttons: Sequence[ButtonSpec], attachments: Iterable[Attachment],
                    not_before: float | None, fallback: Outbound | None = None) -> bool:
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
        rendered, hint = render_buttons(buttons, self.core.registry, lang)
        message = Outbound(platform, external_id, "private",
                           text if text is not None else t(lang, key, **values), rendered, hint,
                           tuple(attachments), person_id=person_id, key=key,
                           values=_kept_values(values),
                           fallback=fallback_body(fallback) if fallback is not None else {})
        await self._queue(message, ref, not_before)
        return True

    async def tell_role(self, role: str, key: str, *, ref: str = "",
                        buttons: Sequence[ButtonSpec] = (), **values: object) -> int:
        """Tell everyone who holds ``role`` (``property``, ``captain:3`` …); return how many."""
        told = 0
        for person_id in await self.core.person_ids(self.tx, self.core.people_with_role(role)):
            told += await self.tell(person_id, key, ref=ref, buttons=buttons, **values)
        return told

    async def units_not_done(self, buildings: Iterable[str], done) -> list[tuple[str, list[int],
                                                                                   list[str], int]]:
        """For door-to-door reminders: per building in ``buildings`` (every building when empty),
        its captains' person ids, its registered units that ``await done(building)`` does not
        list (a poll's voters, a notice's confirmations), and how many units it has; buildings
        with no captain, no unit or nothing missing are left out."""
        households = await self.tx.people.households(list(buildings))
        out = []
        for key in list(buildings) or [b.key for b in self.core.buildings]:
            captains = await self.core.person_ids(self.tx, self.core.people_with_role(f"captain:{key}"))
            units = households.get(key, [])
            if not captains or not units:
                continue
            finished = await done(key)
            missing = [u for u in units if u not in finished]
            if missing:
                out.append((key, captains, missing, len(units)))
        return out

    # --- group posts ---------------------------------------------------------------------------
    async def post(self, chat_key: str, key: str, *, ref: str = "",
                   attachments: Iterable[Attachment] = (), not_before: float | None = None,
                   buttons: Sequence[ButtonSpec] = (), mention: Mention | None = None,
                   platform: str | None = None, **values: object) -> int:
        """Post to a configured group chat on every running platform it is on (or only on
        ``platform``); return how many posts were written."""
        lang = self.core.language_of_chat(chat_key)
        text = self._render(lang, key, values, group=True)
        return await self._post(chat_key, text, key, values, ref=ref, attachments=attachments,
                                not_before=not_before, buttons=buttons, lang=lang,
                                mention=mention, platform=platform, values_redacted=True)

    async def post_text(self, chat_key: str, text: str, *, key: str, ref: str = "",
                        attachments: Iterable[Attachment] = (), not_before: float | None = None,
                        buttons: Sequence[ButtonSpec] = (), lang: str | None = None) -> int:
        """Post ready text (made of catalogue lines; ``key`` names it) to a configured group chat."""
        return await self._post(chat_key, text, key, {}, ref=ref, attachments=attachments,
                                not_before=not_before, buttons=buttons,
                                lang=lang or self.core.language_of_chat(chat_key))

    async def _post(self, chat_key: str, text: str, key: str, values: dict, *, ref: str,
                    attachments: Iterable[Attachment], not_before: float | None,
                    buttons: Sequence[ButtonSpec], lang: str, mention: Mention | None = None,
                    platform: str | None = None, values_redacted: bool = False) -> int:
        rendered, hint = render_buttons(buttons, self.core.registry, lang)
        sent = 0
        for where, address in self.core.group_addresses(chat_key):
            if platform is not None and where != platform:
                continue
            message = Outbound(where, address, "group", text, rendered, hint, tuple(attachments),
                               chat_key=chat_key, key=key, values=_kept_values(values),
                               mention_ids=mention.ids if mention else (),
                               mention_name=mention.name if mention else "")
            await self._queue(message, ref, not_before, values_redacted=values_redacted)
            sent += 1
        return sent

    async def audit(self, actor_id: int | None, platform: str | None, action: str, target: str = "",
                    detail: str = "") -> None:
        await self.tx.audit.record(self.ts, actor_id, platform, action, target, detail)


class Context(Notifier):
    """One inbound message being handled (or one command performed for the office, in which case
    the answers are collected in ``answers`` instead of going to a chat)."""

    def __init__(self, core: Core, tx: Tx, now: datetime, msg: Inbound, person: Person,
                 lang: str, parsed: Parsed | None, chat_key: str | None,
                 answers: list[Outbound] | None = None, ts: float | None = None) -> None:
        super().__init__(core, tx, now, ts)
        self.msg = msg
        self.person = person
        self.lang = lang
        self.parsed = parsed
        self.command: Command | None = parsed.command if parsed else None
        self.args = parsed.args if parsed else msg.text
        self.chat_key = chat_key
        self.roles = core.roles_of(person)
        self.answers = answers
        self._said_in_group: tuple[int, Outbound] | None = None  # this command's group reply

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
        number = leading_number(args)
        if number is None:
            raise Refusal(f"{domain}.not_a_number", given=args.split()[0][:20],
                          usage=self.t(f"{domain}.usage.{command}"))
        return number

    async def emit(self, event: str, **values: object) -> None:
        """Tell the other capabilities that something happened (``@router.on(event)`` listens),
        inside this transaction: e.g. ``resident.registered`` lets a waiting report go on."""
        for listener in self.core.registry.listeners.get(event, ()):
            await listener(self, **values)

    # --- answering -----------------------------------------------------------------------------
    async def reply(self, key: str, *, ref: str = "", buttons: Sequence[ButtonSpec] = (),
                    attachments: Iterable[Attachment] = (), mention: Mention | None = None,
                    lang: str | None = None, gather: Gather | None = None,
                    **values: object) -> None:
        """Answer in the chat the message came from, in the sender's language (or ``lang``);
        in a group, ``gather`` lets it gather with others of its kind (see :class:`Gather`)."""
        text = self._render(lang or self.lang, key, values, group=self.in_group)
        gathered = None
        if gather is not None and self.in_group:
            name = values.get("name")
            gathered = {"many": gather.many, "kind": gather.kind,
                        "names": [str(name) if name else await self.display_name(self.person)],
                        "lang": self.core.language_of_chat(self.chat_key) if self.chat_key
                        else (lang or self.lang), "values": _kept_values(values),
                        "since": self.ts}
        await self._reply(text, key, values, ref=ref, buttons=buttons, attachments=attachments,
                          mention=mention, lang=lang, values_redacted=self.in_group,
                          gathered=gathered)

    async def reply_text(self, text: str, *, key: str, ref: str = "",
                         buttons: Sequence[ButtonSpec] = (),
                         attachments: Iterable[Attachment] = ()) -> None:
        """Answer with ready text made of catalogue lines (``key`` names it)."""
        await self._reply(text, key, {}, ref=ref, buttons=buttons, attachments=attachments)

    async def _reply(self, text: str, key: str, values: dict, *, ref: str,
                     buttons: Sequence[ButtonSpec], attachments: Iterable[Attachment],
                     mention: Mention | None = None, lang: str | None = None,
                     values_redacted: bool = False, gathered: dict | None = None) -> None:
        rendered, hint = render_buttons(buttons, self.core.registry, lang or self.lang)
        message = self._chat_message(
            text, key, values, mention, buttons=rendered, buttons_hint=hint,
            attachments=tuple(attachments),
            edit_of=self.msg.button_message_id if self.msg.callback else None,
            merge_key=gathered["kind"] if gathered else "", gathered=gathered or {})
        if self.answers is not None:  # performed for the office: the caller gets the answer
            if message.kind == "group" and not values_redacted:
                message = self.core.privacy_gate(message)
            self.answers.append(replace(message, text=message.plain_text()))
            return
        if message.kind == "group" and not message.merge_key and not message.edit_of:
            if not values_redacted:
                message = self.core.privacy_gate(message)
            if await self._join_group_reply(message):
                return
            row = await self.tx.outbox.add(message, self.ts, ref)
            self._said_in_group = (row, message)
            return
        await self._queue(message, ref, values_redacted=values_redacted)

    def _chat_message(self, text: str, key: str, values: dict, mention: Mention | None = None,
                      **more: object) -> Outbound:
        """A plain answer in the chat the message came from (a group's @mentions the sender);
        ``more``: the message's other fields (buttons, attachments …)."""
        msg = self.msg
        group = msg.chat_kind == "group"
        if mention is None:
            mention = Mention((msg.sender_id,)) if group else Mention(())
        return Outbound(msg.platform, msg.chat_id, msg.chat_kind, text,
                        person_id=None if group else self.person.id,
                        chat_key=self.chat_key, mention_ids=mention.ids, mention_name=mention.name,
                        key=key, values=_kept_values(values), **more)

    async def _join_group_reply(self, message: Outbound) -> bool:
        """A second reply of this command to the group: add it to the first (one message)."""
        if self._said_in_group is None:
            return False
        row, first = self._said_in_group
        parts = [*first.gathered.get("parts", ()), {"key": message.key, "values": message.values}]
        hint = " ".join(h for h in (first.buttons_hint, message.buttons_hint) if h)
        joined = replace(first, text=f"{first.text}\n{message.text}",
                         buttons=first.buttons + message.buttons, buttons_hint=hint,
                         attachments=first.attachments + message.attachments,
                         gathered={**first.gathered, "parts": parts})
        if not await self.tx.outbox.regather(row, joined, time.time()):
            return False  # undone with a refusal: this one goes on its own
        self._said_in_group = (row, joined)
        return True

    async def reply_private(self, key: str, *, ref: str = "", **values: object) -> None:
        """Answer the sender privately (the same chat, if it already is private)."""
        if not self.in_group:
            await self.reply(key, ref=ref, **values)
        else:
            await self.tell(self.person.id, key, ref=ref, **values)

    async def reply_quietly(self, key: str, *, ref: str = "",
                            more: Sequence[tuple[str, dict]] = (), **values: object) -> None:
        """An answer for the sender alone (a report's receipt): asked in a group, it goes to
        them privately and the group hears nothing, unless the platform refuses the private message
        (a Telegram user who never started the bot, a WeChat contact who is not the bot's friend):
        then the group's copy, kept with it, is posted in its place.  ``more``: further lines of
        the same answer, as (key, values).  With ``[quiet] receipts = "group"`` it is a reply."""
        lines = [(key, values), *more]
        if not self.in_group or self.answers is not None or self.config.quiet.receipts == "group":
            for line_key, line_values in lines:
                await self.reply(line_key, ref=ref if line_key == key else "", **line_values)
            return
        group_text = "\n".join(self._render(self.lang, k, v, group=True) for k, v in lines)
        in_group = self._chat_message(group_text, key, values)  # values redacted as rendered
        private_text = "\n".join(t(self.lang, k, **v) for k, v in lines)
        if not await self.tell_text(self.person.id, private_text, key=key, ref=ref,
                                    values=values, fallback=in_group):
            await self.tx.outbox.add(in_group, self.ts, ref)  # nobody to tell privately

    async def reply_personal(self, key: str, *, ref: str = "", **values: object) -> None:
        """An answer about the sender alone (我的报修, 我的活动): asked in a group, it goes privately
        and the group gets a one-line pointer, gathered with others of its kind; where the sender
        cannot be reached privately it is answered in the group, as before."""
        if self.in_group and self.answers is None and \
                await self.tell(self.person.id, key, ref=ref, **values):
            await self._point_to_private()
            return
        await self.reply(key, ref=ref, **values)

    async def reply_personal_text(self, text: str, *, key: str, ref: str = "") -> None:
        """:meth:`reply_personal` for a ready text made of catalogue lines."""
        if self.in_group and self.answers is None and \
                await self.tell_text(self.person.id, text, key=key, ref=ref):
            await self._point_to_private()
            return
        await self.reply_text(text, key=key, ref=ref)

    async def _point_to_private(self) -> None:
        await self.reply("quiet.answered_privately", gather=Gather("answered-privately",
                                                                   "quiet.answered_privately_many"),
                         name=await self.display_name(self.person))

    async def ask(self, kind: str, payload: dict, *, minutes: int = 30) -> None:
        """Wait for this person's next plain message in this chat; ``@router.reply(kind)`` gets it."""
        expires = (self.now + timedelta(minutes=minutes)).timestamp()
        await self.tx.prompts.ask(self.person.id, self.msg.platform, self.msg.chat_id, kind,
                                  payload, expires)

    async def ask_step(self, kind: str, draft: dict, step: str, problem=None,
                       **values: object) -> None:
        """One question of a step-by-step dialogue (新活动, 发起投票): keep the draft, say what was
        wrong with the date in the last answer (``<domain>.when.<reason>``, a ``WhenProblem``), and
        ask ``<domain>.ask.<step>``; the reply goes to ``@router.reply(kind)``."""
        domain = kind.split(".", 1)[0]
        draft["step"] = step
        await self.ask(kind, draft, minutes=30)
        if problem is not None:
            await self.reply(f"{domain}.when.{problem.reason}",
                             **when_values(problem, self.config.tz, self.lang))
        await self.reply(f"{domain}.ask.{step}", **values)

    async def done_asking(self) -> None:
        await self.tx.prompts.done(self.person.id, self.msg.platform, self.msg.chat_id)

    async def record(self, action: str, target: str = "", detail: str = "") -> None:
        """Write an audit row for something the sender did."""
        await self.audit(self.person.id, self.msg.platform, action, target, detail)
