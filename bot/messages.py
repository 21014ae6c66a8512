"""The one message model every adapter translates to and from.

An adapter turns a platform update into an :class:`Inbound` and hands it to the core; the core's
handlers write :class:`Outbound` messages to the durable outbox; the dispatcher gives each one back
to the adapter of its platform to send.  Nothing in here knows which platform it is on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

ChatKind = Literal["group", "private"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a user sent with a message: a photo, usually, kept by the platform's own file id."""

    kind: str  # "photo", "document", ...
    file_id: str = ""  # the platform's id of a file a user sent
    caption: str = ""
    filename: str = ""  # for a file the bot makes (e.g. shifts.ics) …
    content: str = ""  # … and its text, sent as a document where the platform can
    # A photo kept in the media folder (storage/media.py): its stored name, "<sha256>.jpg".  Every
    # adapter sends the stored file (EXIF gone) whatever platform the photo came from.
    media: str = ""
    origin: str = ""  # the platform whose id ``file_id`` is ("": the platform it is sent on)
    problem: str = ""  # why a photo a person sent was not kept: "not_image", "too_big"
    size: int = 0  # bytes, when the platform said so before downloading
    path: str = ""  # where the stored file is, filled in by the dispatcher just before sending
    # Set by an adapter on what a person sent: download the file (at most ``limit`` bytes are
    # needed; more means too big).  Never stored: the core replaces it by ``media`` or ``problem``.
    fetch: Callable[[int], Awaitable[bytes]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message a person sent, as the core sees it."""

    platform: str  # "console", "telegram", "wechat"
    chat_id: str  # the platform's id of the chat (a group, or the private chat with the sender)
    chat_kind: ChatKind
    sender_id: str  # the platform's id of the sender
    sender_name: str
    text: str
    message_id: str  # the platform's id of this message, for de-duplication
    mentions: tuple[str, ...] = ()  # platform ids (or names) mentioned in the message
    mentions_bot: bool = False  # the message @mentions this bot
    attachments: tuple[Attachment, ...] = ()
    language_hint: str | None = None  # e.g. Telegram's from_user.language_code
    callback: bool = False  # True when the text came from pressing a button …
    button_message_id: str | None = None  # … on this message of the bot's (to edit it in place)
    chat_title: str = ""  # a group's name on the platform (WeChat rooms are matched by topic)
    joined: tuple[str, ...] = ()  # a join event, not a message: the names of who joined the group
    # the platform message id of the message this one quotes (a reply), or "text:…", the quoted text,
    # where the platform gives only that (WeChat puppets)
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message; pressing it is the same as typing ``command``."""

    label: str
    command: str


@dataclass(slots=True)  # not frozen: built a few times a command, and a frozen one costs 3× (P1)
class Outbound:
    """One message for the dispatcher to deliver, as stored in the outbox (treated as a value:
    nothing changes one after it is made; ``dataclasses.replace`` makes another)."""

    platform: str
    address: str  # the platform's chat id (a group) or user id (a private message)
    kind: ChatKind
    text: str
    buttons: tuple[Button, ...] = ()
    buttons_hint: str = ""  # how to do the same by typing, for platforms without buttons
    attachments: tuple[Attachment, ...] = ()
    outbox_id: int = 0  # the row's id: an idempotency key for transports that can use one
    person_id: int | None = None  # who a private message is for
    chat_key: str | None = None  # the config key of the group chat, when there is one
    mention_ids: tuple[str, ...] = field(default=())  # platform ids to @mention in a group
    mention_name: str = ""  # the text starts with this name: make it a mention of mention_ids[0]
    edit_of: str | None = None  # platform message id of an earlier message to edit, if any
    key: str = ""  # the catalogue key the text was made from (tests and the simulation read it) …
    values: dict = field(default_factory=dict, compare=False)  # … and its plain values
    # gathered acknowledgements (bot/quiet.py): the kind of acknowledgement this one gathers …
    merge_key: str = ""
    # … and the platform id of the sent message it updates: a platform that can edit its own
    # messages shows this one in its place, another sends it as a new message
    replaces: str | None = None
    gathered: dict = field(default_factory=dict, compare=False)  # who and what it carries
    # a private answer given instead of a group reply (Context.reply_quietly): the group's copy,
    # posted in its place if the platform refuses the private message
    fallback: dict = field(default_factory=dict, compare=False)

    def plain_text(self) -> str:
        """The text with the typing hint appended: what a platform without buttons shows."""
        if self.buttons and self.buttons_hint:
            return f"{self.text}\n{self.buttons_hint}"
        return self.text
