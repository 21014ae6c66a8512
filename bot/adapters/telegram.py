"""The Telegram adapter (python-telegram-bot 22): updates in, outbox messages out. No domain logic.

Flow: ``start()`` builds a PTB ``Application`` (long polling by default, or a webhook), learns the
bot's username from getMe (so ``/report@ThisBot`` is ours and ``/report@OtherBot`` is not), publishes
the command menu with setMyCommands (zh and en, private chats and groups), and hands every message
and button press to ``core.handle`` as an :class:`~bot.messages.Inbound`.  ``send()`` turns an
:class:`~bot.messages.Outbound` into Bot API calls: text split at 4,096 characters, inline buttons
whose callback data is the command they stand for, photos by file id, generated files as documents,
and an edit in place when the message answers a button press in a private chat (in a group the
post is everyone's: the answer is a reply to it).  Errors are classified for the dispatcher: flood
control (429) → ``TemporaryError`` with exactly the wait Telegram asked for; network trouble →
``TemporaryError`` (a retry goes on after the calls that already went through, so a failed photo
never repeats the text before it); Forbidden (the person never started the bot, or blocked it) →
``PermanentError(reason="not_started", link=<deep link>)``, on which the core decides (it posts a
short mention in the person's group and holds the message until they open the private chat, which
this adapter reports with ``core.reachable_again``); any other BadRequest →
``PermanentError`` (the same request will never work).  A group Telegram upgrades to a supergroup
gets a new id: the adapter follows it both ways (kept in the database's kv table, so a restart
remembers it) and the log says which id to put in the config.  A photo Telegram does not know
(another platform's file id) is left out, not retried.

Text goes out without a parse mode, so user text never needs escaping and can never break the
markup; a mention is a ``text_mention`` entity over the person's name, not markup.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.adapters.base import PermanentError, SendLimits, TemporaryError
from bot.config import ConfigError
from bot.i18n import has, t
from bot.messages import Attachment, Inbound, Outbound
from bot.textsplit import split_text

if TYPE_CHECKING:
    from bot.commands import Command
    from bot.config import Config
    from bot.core import Core

log = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 64
START = re.compile(r"^/start(?:@\w+)?(?=\s|$)", re.IGNORECASE)  # /start, /start@Bot, /start <payload>
MAX_PRESSED = 500  # button presses remembered until their answer edits the message
MIGRATIONS_KEY = "telegram:migrated"  # kv: {old group id: supergroup id}


class TelegramAdapter:
    """Linli on Telegram (see module docstring)."""

    platform = "telegram"
    limits = SendLimits(overall_per_second=30, group_per_minute=20, private_per_second=1,
                        max_text_length=MessageLimit.MAX_TEXT_LENGTH)

    def __init__(self, config: Config, core: Core) -> None:
        self.config = config
        self.core = core
        settings = config.telegram
        token = (settings.token or os.environ.get("LINLI_TELEGRAM_TOKEN", "")).strip()
        if not token:
            raise ConfigError(f"{config.path}: [telegram] token is empty (get one from @BotFather, "
                              "or set LINLI_TELEGRAM_TOKEN)")
        self.application = (
            Application.builder().token(token)
            .base_url(settings.api_base_url).base_file_url(settings.api_base_file_url)
            .get_updates_read_timeout(settings.poll_timeout + 10)
            .build())
        self.application.add_handler(CallbackQueryHandler(self.on_button))
        self.application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate))
        self.application.add_handler(MessageHandler(
            (filters.TEXT | filters.PHOTO | filters.CAPTION | filters.Document.IMAGE |
             filters.VOICE | filters.AUDIO)
            & ~filters.UpdateType.EDITED,
            self.on_message))
        self.username = ""
        self.can_read_groups: bool | None = None
        # (chat, message id) → (text, buttons) of a message whose button was pressed, to edit it
        self._pressed: OrderedDict[tuple[str, str], tuple[str, InlineKeyboardMarkup | None]] = \
            OrderedDict()
        # outbox id → Bot API calls of that message already made (a retry goes on from there,
        # so a photo that failed does not send the text before it twice)
        self._progress: dict[int, tuple[int, str | None]] = {}
        self._groups_named: set[int] = set()
        # a group the config names by its old id → the supergroup Telegram upgraded it to
        self._moved_to: dict[str, str] = {}
        self._health_task: asyncio.Task | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        quiet_ptb_tracebacks()
        try:
            await self.application.initialize()
        except InvalidToken as exc:
            raise ConfigError(
                f"{self.config.path}: [telegram] token: Telegram does not accept it ({exc}). Copy "
                "it again from @BotFather (/mybots → API Token), or set LINLI_TELEGRAM_TOKEN.") from exc
        except NetworkError as exc:  # includes TimedOut
            raise ConnectionError(
                f"telegram: cannot reach {self.config.telegram.api_base_url} ({exc}); check the "
                "network, a proxy, and [telegram] api_base_url") from exc
        await self._load_migrations()
        me = self.application.bot.bot
        self.username = me.username or ""
        self.can_read_groups = me.can_read_all_group_messages
        self.core.parser.add_usernames(self.username)
        if not self.can_read_groups:
            log.warning("Telegram privacy mode is on for @%s: in groups it only sees /commands, "
                        "not Chinese command words typed as text. Turn it off with @BotFather "
                        "(/setprivacy → Disable) or make the bot a group admin.", self.username)
        await self.publish_commands()
        await self.application.start()
        settings = self.config.telegram
        if settings.mode == "webhook":
            try:
                await self.application.updater.start_webhook(
                    listen=settings.webhook_listen, port=settings.webhook_port,
                    url_path=settings.webhook_path, webhook_url=settings.webhook_url or None,
                    secret_token=settings.webhook_secret or None,
                    allowed_updates=["message", "callback_query"])
            except BadRequest as exc:  # setWebhook refused the URL or the secret
                raise ConfigError(
                    f"{self.config.path}: [telegram] webhook_url / webhook_secret: Telegram refused "
                    f"the webhook ({exc}). webhook_url must be the public https:// address (port "
                    "443, 80, 88 or 8443); webhook_secret only A-Z a-z 0-9 _ -") from exc
            except OSError as exc:  # the port is taken, or the address is not ours
                raise ConnectionError(
                    f"telegram: cannot listen on {settings.webhook_listen}:{settings.webhook_port} "
                    f"for the webhook ({exc})") from exc
            except TelegramError as exc:  # the network, or flood control on setWebhook
                raise ConnectionError(f"telegram: setting the webhook failed ({exc})") from exc
        else:
            try:
                await self.application.updater.start_polling(
                    timeout=int(settings.poll_timeout), allowed_updates=["message", "callback_query"],
                    drop_pending_updates=False, error_callback=polling_failed)
            except TelegramError as exc:  # deleteWebhook failed: the network, or flood control
                raise ConnectionError(f"telegram: starting to read updates failed ({exc})") from exc
        log.info("telegram: running as @%s (%s)", self.username, settings.mode)
        await self.core.note_health("telegram", "connected", f"@{self.username} ({settings.mode})")
        self._health_task = asyncio.create_task(self._keep_health(), name="telegram-health")

    async def _keep_health(self, every: float = 60.0) -> None:
        """Ask Telegram who we are once a minute, so ``linli status`` shows whether it answers."""
        state = "connected"
        while True:
            await asyncio.sleep(every)
            try:
                await self.application.bot.get_me()
                now, detail = "connected", f"@{self.username} ({self.config.telegram.mode})"
            except TelegramError as exc:
                now, detail = "disconnected", f"{type(exc).__name__}: {exc}"
            if now != state:
                log.warning("telegram: %s (%s)", now, detail)
            state = now
            with contextlib.suppress(Exception):
                await self.core.note_health("telegram", state, detail)

    async def stop(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._health_task
            with contextlib.suppress(Exception):
                await self.core.note_health("telegram", "stopped", "the bot was stopped")
        with contextlib.suppress(Exception):
            if self.application.updater and self.application.updater.running:
                await self.application.updater.stop()
        with contextlib.suppress(Exception):
            if self.application.running:
                await self.application.stop()
        with contextlib.suppress(Exception):
            await self.application.shutdown()

    async def publish_commands(self) -> None:
        """The command menu, in Chinese and English, for private chats and for groups."""
        bot = self.application.bot
        for lang, code in (("en", None), ("zh", "zh")):
            commands = menu(self.core.registry.commands.values(), lang)
            staff = {"ack", "progress", "resolve", "reject", "open"}
            for scope, chosen in ((BotCommandScopeAllPrivateChats(), commands),
                                  (BotCommandScopeAllGroupChats(),
                                   [c for c in commands if c.command not in staff])):
                try:
                    await bot.set_my_commands(chosen, scope=scope, language_code=code)
                except TelegramError as exc:
                    log.warning("telegram: setMyCommands failed (%s); the menu stays as it was", exc)
                    return

    # --- in ----------------------------------------------------------------------------------
    async def on_message(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A message in a group or a private chat: hand it to the core."""
        message = update.effective_message
        user = update.effective_user
        chat = update.effective_chat
        if message is None or user is None or chat is None or user.is_bot:
            return
        private = chat.type == ChatType.PRIVATE
        chat_id = self._config_id(chat.id)
        if private:  # they can be written to privately now: the core sends what it held
            await self.core.reachable_again(self.platform, str(user.id))
        if not private and chat.id not in self._groups_named and \
                self.core.chat_key_of(self.platform, chat_id) is None:
            self._groups_named.add(chat.id)  # what an admin needs for [chats.<key>] telegram = …
            log.info("telegram: group %r is chat id %s (not in the config)", chat.title, chat.id)
        text = message.text or message.caption or ""
        attachments = ()
        if message.photo:
            largest = message.photo[-1]
            attachments = (Attachment("photo", largest.file_id, caption=message.caption or "",
                                      size=largest.file_size or 0,
                                      fetch=self._download(largest.file_id)),)
        elif message.document and (message.document.mime_type or "").startswith("image/"):
            # a photo sent "as a file" (uncompressed, with its EXIF): kept like a photo
            document = message.document
            attachments = (Attachment("document", document.file_id, caption=message.caption or "",
                                      filename=document.file_name or "",
                                      size=document.file_size or 0,
                                      fetch=self._download(document.file_id)),)
        elif message.voice or message.audio:  # a voice message: the core answers it
            attachments = (Attachment("voice", (message.voice or message.audio).file_id),)
        found = message.parse_entities([MessageEntity.MENTION]) if message.text else \
            message.parse_caption_entities([MessageEntity.MENTION])  # offsets are UTF-16 units
        mentioned = any(name[1:].lower() == self.username.lower() for name in found.values())
        if private and START.match(text):
            # what an admin needs for [people.<key>] telegram = …, and nothing more
            log.info("telegram: %s (user id %s) opened a private chat with the bot",
                     user.full_name, user.id)
            text = "/help" if not START.sub("", text, count=1).strip() else ""
            if not text:
                return  # a deep link back from the group: releasing held messages was the point
        # a supergroup numbers its messages afresh: keep its ids apart from the old group's
        message_id = str(message.message_id) if chat_id == str(chat.id) else \
            f"{chat.id}:{message.message_id}"
        await self.core.handle(Inbound(
            platform=self.platform, chat_id=chat_id,
            chat_kind="private" if private else "group", sender_id=str(user.id),
            sender_name=user.full_name, text=text, message_id=message_id,
            mentions_bot=mentioned, attachments=attachments,
            language_hint=user.language_code, chat_title=chat.title or "",
            reply_to=str(message.reply_to_message.message_id) if message.reply_to_message else None))

    def _download(self, file_id: str):
        """How the core downloads a file a user sent: ``getFile``, then the file itself (the Bot
        API serves files up to 20 MB; a larger one is "too big" before it is fetched)."""

        async def fetch(limit: int) -> bytes:
            found = await self.application.bot.get_file(file_id)
            if found.file_size and found.file_size > limit:
                return b"\0" * (limit + 1)  # more than the limit: the core says "too big"
            return bytes(await found.download_as_bytearray())

        return fetch

    async def on_button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press is the command it stands for, from the person who pressed it."""
        query = update.callback_query
        if query is None:
            return
        if query.message is None or query.from_user is None:  # an inline message: not ours
            with contextlib.suppress(TelegramError):
                await query.answer()
            return
        chat = query.message.chat
        user = query.from_user
        key = (self._config_id(chat.id), str(query.message.message_id))
        if getattr(query.message, "text", None):
            self._pressed[key] = (query.message.text, query.message.reply_markup)
            self._pressed.move_to_end(key)
            while len(self._pressed) > MAX_PRESSED:
                self._pressed.popitem(last=False)
        try:
            await self.core.handle(Inbound(
                platform=self.platform, chat_id=key[0],
                chat_kind="private" if chat.type == ChatType.PRIVATE else "group",
                sender_id=str(user.id), sender_name=user.full_name, text=query.data or "",
                message_id=f"cb:{query.id}", language_hint=user.language_code, callback=True,
                button_message_id=key[1], chat_title=chat.title or ""))
        finally:
            with contextlib.suppress(TelegramError):
                await query.answer()

    async def on_migrate(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Telegram upgraded a group to a supergroup (a new chat id): follow it."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            await self._migrated(message.chat.id, message.migrate_to_chat_id)
        elif message.migrate_from_chat_id:
            await self._migrated(message.migrate_from_chat_id, message.chat.id)

    def _config_id(self, chat_id: int | str) -> str:
        """The id the config knows a chat by (its id before an upgrade to a supergroup)."""
        chat_id = str(chat_id)
        return next((old for old, new in self._moved_to.items() if new == chat_id), chat_id)

    async def _migrated(self, old: int | str, new: int | str) -> None:
        original, new = self._config_id(old), str(new)
        if self._moved_to.get(original) == new:
            return
        self._moved_to[original] = new
        async with self.core.db.transaction() as tx:
            await tx.kv.put(MIGRATIONS_KEY, json.dumps(self._moved_to))
        log.warning("telegram: group %s is now supergroup %s; Linli follows it. Put telegram = %s "
                    "under its [chats] entry when convenient", original, new, new)

    async def _load_migrations(self) -> None:
        async with self.core.db.read() as tx:
            raw = await tx.kv.get(MIGRATIONS_KEY)
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            self._moved_to = {str(k): str(v) for k, v in json.loads(raw or "{}").items()}

    # --- out ---------------------------------------------------------------------------------
    async def send(self, message: Outbound) -> str | None:
        """Deliver one outbox message; classify failures for the dispatcher."""
        try:
            chat_id = int(self._moved_to.get(message.address, message.address))
        except ValueError:
            raise PermanentError(f"not a Telegram chat id: {message.address!r}") from None
        try:
            try:
                return await self._send(message, chat_id)
            except ChatMigrated as exc:
                await self._migrated(chat_id, exc.new_chat_id)
                return await self._send(message, int(exc.new_chat_id))
        except RetryAfter as exc:
            raise TemporaryError(str(exc), retry_after=seconds(exc)) from exc
        except Forbidden as exc:
            self._progress.pop(message.outbox_id, None)
            reason = "not_started" if message.kind == "private" else "not_member"
            raise PermanentError(str(exc), reason=reason,
                                 link=f"https://t.me/{self.username}?start=hello") from exc
        except BadRequest as exc:
            if any(words in str(exc).lower() for words in RIGHTS_WORDS):
                # the group took the bot's right to write away: an admin can give it back, so the
                # message waits (with backoff) instead of being dropped
                raise TemporaryError(str(exc)) from exc
            self._progress.pop(message.outbox_id, None)  # the same request will never work
            raise PermanentError(str(exc)) from exc
        except (TimedOut, NetworkError) as exc:
            raise TemporaryError(str(exc)) from exc

    async def _send(self, message: Outbound, chat_id: int) -> str | None:
        """The Bot API calls for one message, resuming after the ones a failed attempt made."""
        edited = await self._edit(message, chat_id) if not message.replaces else \
            await self._replace(message, chat_id)
        if edited is not None:
            return edited
        parts = split_text(message.text, MessageLimit.MAX_TEXT_LENGTH) if message.text else []
        markup = keyboard(message)
        steps = len(parts) + len(message.attachments)
        done, last_id = self._progress.get(message.outbox_id, (0, None))
        for step in range(done, steps):
            if step < len(parts):
                last = step == len(parts) - 1
                reply_to = ReplyParameters(int(message.edit_of), allow_sending_without_reply=True) \
                    if step == 0 and message.edit_of and message.edit_of.isdigit() else None
                sent = await self.application.bot.send_message(
                    chat_id, parts[step], entities=mention(message, parts[step], step),
                    reply_markup=markup if last else None, reply_parameters=reply_to)
                last_id = str(sent.message_id)
            else:
                attachment = message.attachments[step - len(parts)]
                last_id = await self._send_attachment(chat_id, attachment) or last_id
            if message.outbox_id and step + 1 < steps:
                self._progress[message.outbox_id] = (step + 1, last_id)
        self._progress.pop(message.outbox_id, None)
        return last_id

    async def _edit(self, message: Outbound, chat_id: int) -> str | None:
        """The answer to a button press: edit the pressed message in place (None: send instead)."""
        key = (message.address, message.edit_of or "")
        pressed = self._pressed.get(key)
        if pressed is None or not message.edit_of or message.attachments or \
                message.kind != "private":
            self._pressed.pop(key, None)
            return None  # a post in a group is everyone's: answer a press there as a reply
        original, buttons = pressed
        original = original.split("\n\n➡️ ", 1)[0]
        edited = f"{original}\n\n➡️ {message.text}"
        if len(edited.encode("utf-16-le")) // 2 > MessageLimit.MAX_TEXT_LENGTH:
            self._pressed.pop(key, None)
            return None
        try:  # a retry after flood control or a network error edits again (kept until done)
            await self.application.bot.edit_message_text(
                edited, chat_id=chat_id, message_id=int(message.edit_of),
                reply_markup=keyboard(message) or buttons)
        except BadRequest as exc:
            self._pressed.pop(key, None)
            if "not modified" in str(exc).lower():
                return message.edit_of
            log.info("telegram: cannot edit message %s in %s (%s); sending a new one",
                     message.edit_of, chat_id, exc)
            return None
        self._pressed.pop(key, None)
        return message.edit_of

    async def _replace(self, message: Outbound, chat_id: int) -> str | None:
        """Gathered acknowledgements: edit the sent one in place (None: send a new one)."""
        if not message.replaces.isdigit() or message.attachments or \
                len(message.text.encode("utf-16-le")) // 2 > MessageLimit.MAX_TEXT_LENGTH:
            return None
        try:
            await self.application.bot.edit_message_text(
                message.text, chat_id=chat_id, message_id=int(message.replaces),
                reply_markup=keyboard(message))
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return message.replaces
            log.info("telegram: cannot update message %s in %s (%s); sending a new one",
                     message.replaces, chat_id, exc)
            return None
        return message.replaces

    async def _send_attachment(self, chat_id: int, attachment: Attachment) -> str | None:
        """A photo or file; one Telegram does not know (e.g. another platform's file id) is
        skipped with a note in the log rather than holding back the message."""
        bot = self.application.bot
        caption = attachment.caption[:MessageLimit.CAPTION_LENGTH] or None
        foreign = attachment.origin not in ("", self.platform)  # another platform's file id
        try:
            if attachment.path:  # a stored photo (storage/media.py), whatever platform it came from
                data = await asyncio.to_thread(Path(attachment.path).read_bytes)
                sent = await bot.send_photo(
                    chat_id, InputFile(data, filename=Path(attachment.path).name), caption=caption)
            elif foreign and not attachment.content:
                log.info("telegram: %s %r from %s cannot be sent here (not stored)",
                         attachment.kind, attachment.file_id[:40], attachment.origin)
                return None
            elif attachment.kind == "photo" and attachment.file_id:
                sent = await bot.send_photo(chat_id, attachment.file_id, caption=caption)
            elif attachment.kind == "photo" and attachment.content:
                data = base64.b64decode(attachment.content)
                sent = await bot.send_photo(chat_id, InputFile(data, filename=attachment.filename),
                                            caption=caption)
            elif attachment.content:
                sent = await bot.send_document(
                    chat_id, InputFile(attachment.content.encode("utf-8"),
                                       filename=attachment.filename or "file.txt"),
                    caption=caption)
            elif attachment.file_id:
                sent = await bot.send_document(chat_id, attachment.file_id, caption=caption)
            else:
                return None
        except (BadRequest, ValueError, OSError) as exc:
            log.warning("telegram: %s %r not sent to %s: %s", attachment.kind,
                        (attachment.file_id or attachment.filename)[:40], chat_id, exc)
            return None
        return str(sent.message_id)


class TelegramErrorsInOneLine(logging.Filter):
    """PTB logs Telegram's refusals (a bad webhook, a network failure while bootstrapping) with a
    traceback; they are answers from the server, not bugs here: one line says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, TelegramError):
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_ptb_tracebacks() -> None:
    for name in ("telegram.ext", "telegram.ext.Updater", "telegram.ext.Application"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TelegramErrorsInOneLine) for f in logger.filters):
            logger.addFilter(TelegramErrorsInOneLine())


# Bot API answers to a send that an admin can fix (restricted or muted in a group)
RIGHTS_WORDS = ("not enough rights", "have no rights", "chat_write_forbidden", "chat_restricted")


def polling_failed(error: TelegramError) -> None:
    """getUpdates failed (PTB retries with backoff by itself): one line, not a traceback."""
    if isinstance(error, InvalidToken):
        log.error("telegram: the token was revoked or is wrong (%s); new messages are not read", error)
    else:
        log.warning("telegram: reading updates failed (%s); trying again", error)


def mention(message: Outbound, part: str, index: int) -> list[MessageEntity] | None:
    """A text_mention entity over the name a group message starts with, if it asks for one."""
    if index or not message.mention_name or not message.mention_ids or \
            not part.startswith(message.mention_name):
        return None
    with contextlib.suppress(ValueError):
        user = User(int(message.mention_ids[0]), message.mention_name, is_bot=False)
        length = len(message.mention_name.encode("utf-16-le")) // 2
        return [MessageEntity(MessageEntity.TEXT_MENTION, 0, length, user=user)]
    return None


def keyboard(message: Outbound) -> InlineKeyboardMarkup | None:
    buttons = [InlineKeyboardButton(b.label, callback_data=b.command) for b in message.buttons
               if len(b.command.encode("utf-8")) <= MAX_CALLBACK_BYTES]
    if not buttons:
        return None
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(rows)


def seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def menu(commands: Iterable[Command], lang: str) -> list[BotCommand]:
    """The command menu: each command's first English word, described by its help example."""
    out = []
    for command in commands:
        if not command.en:
            continue
        key = f"help.example.{command.name}"
        if not has(lang, key):
            continue
        description = t(lang, key).split("— ", 1)[-1].strip()[:256] or command.name
        out.append(BotCommand(command.en[0].lower(), description))
    return out
