"""The console adapter: a chat simulator in the terminal (like errbot's text backend).

Every line is ``<chat> <user>: <text>`` — ``<chat>`` a chat key from the config or ``dm`` (that user's
private chat with the bot), ``<user>`` a person key from the config or any other name (a resident) —
and every outbound message is printed as ``[<chat>] <text>`` or ``[dm <user>] <text>``, continuation
lines indented two spaces.  Lines starting with ``:`` steer the simulator:

* ``:clock 2026-12-01 09:00`` or ``:clock +5h`` sets or moves the clock (then the sweeps run);
* ``:tick`` runs the sweeps now;  ``:help`` shows this;  ``:quit`` ends.

A line starting with ``#`` is a comment.  Lines without ``<chat> <user>:`` reuse the last chat and user.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.adapters.base import SendLimits
from bot.config import parse_duration
from bot.messages import Inbound, Outbound

if TYPE_CHECKING:
    from bot.config import Config
    from bot.core import Core

LINE = re.compile(r"^\s*(?P<chat>[^\s:：]+)\s+(?P<user>[^:：]+?)\s*[:：]\s?(?P<text>.*)$", re.S)
HELP = __doc__.split("\n\n", 1)[1]


class ConsoleError(ValueError):
    """A console line that cannot be understood (printed, never a crash)."""


class ConsoleAdapter:
    """Reads simulated chat lines, prints what the bot sends."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self, config: Config, core: Core, out: TextIO | None = None) -> None:
        self.config = config
        self.core = core
        self.out = out or sys.stdout
        self._counter = 0
        self.last_chat: str | None = None
        self.last_user: str | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: Outbound) -> str:
        """Print one outbound message."""
        where = f"dm {message.address}" if message.kind == "private" else message.address
        lines = message.plain_text().split("\n")
        for attachment in message.attachments:
            if attachment.path:  # a stored photo (storage/media.py)
                lines.append(f"(photo {attachment.path})")
            elif attachment.kind == "photo" and attachment.content:  # base64 image bytes (a chart)
                size = len(attachment.content) * 3 // 4 // 1024
                lines.append(f"(photo {attachment.filename}, {size} KB)")
            elif attachment.content:
                lines.append(f"({attachment.kind} {attachment.filename}:)")
                lines.extend("  " + line for line in attachment.content.splitlines())
            else:
                lines.append(f"({attachment.kind}: {attachment.file_id})")
        self.out.write(f"[{where}] " + "\n  ".join(lines) + "\n")
        self.out.flush()
        self._counter += 1
        return f"console-{self._counter}"

    def to_inbound(self, line: str) -> Inbound:
        """Turn ``<chat> <user>: <text>`` into an inbound message."""
        match = LINE.match(line)
        if match:
            chat, user, text = match.group("chat"), match.group("user").strip(), match.group("text")
        elif self.last_chat and self.last_user:
            chat, user, text = self.last_chat, self.last_user, line
        else:
            raise ConsoleError("write lines as  <chat> <user>: <text>   (e.g.  b3 alice: 报修 电梯坏了)")
        if chat != "dm" and chat not in self.config.chats:
            known = ", ".join([*self.config.chats, "dm"])
            raise ConsoleError(f"unknown chat {chat!r}; chats are: {known}")
        if not user or len(user) > 64:
            raise ConsoleError("a user name is needed before the colon, e.g.  b3 alice: 帮助")
        self.last_chat, self.last_user = chat, user
        private = chat == "dm"
        return Inbound(
            platform="console", chat_id=user if private else chat,
            chat_kind="private" if private else "group", sender_id=user, sender_name=user,
            text=text, message_id=f"{time.time_ns()}-{id(self)}-{self._next()}",
        )

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def steer(self, line: str) -> str | None:
        """Carry out a ``:`` line; return what to print, or raise ConsoleError."""
        verb, _, rest = line[1:].strip().partition(" ")
        clock = self.core.clock
        if verb == "clock":
            rest = rest.strip()
            if not hasattr(clock, "set"):
                raise ConsoleError("this clock cannot be moved")
            if rest.startswith("+"):
                clock.advance(parse_duration(rest[1:]))
            elif rest:
                try:
                    clock.set(datetime.fromisoformat(rest).replace(tzinfo=self.config.tz))
                except ValueError as exc:
                    raise ConsoleError("write  :clock 2026-12-01 09:00  or  :clock +5h") from exc
            now = clock.now()
            return f"(clock: {now:%Y-%m-%d %H:%M} {now:%a})"
        if verb == "tick":
            return None
        if verb == "help":
            return HELP
        raise ConsoleError(f"unknown console command :{verb} (try :help)")
