"""What every platform adapter provides.  An adapter only translates: platform updates in, outbox
messages out.  It never decides anything about tickets, rotas or people.

An adapter is constructed as ``Adapter(config, core)`` and then:

* ``await start()`` connects and begins feeding :class:`~bot.messages.Inbound` messages to
  ``await core.handle(inbound)``;
* ``await send(outbound)`` delivers one message and returns the platform's message id (or None);
  it raises :class:`TemporaryError` (the dispatcher retries, after ``retry_after`` seconds when the
  platform said so) or :class:`PermanentError` with a ``reason`` (the dispatcher asks the core what
  to do — ``Core.delivery_failed`` — and otherwise gives up on that message);
* ``await stop()`` disconnects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.messages import Outbound


class DeliveryError(Exception):
    """A message could not be delivered."""


class TemporaryError(DeliveryError):
    """Try again later; ``retry_after`` is the wait the platform asked for, in seconds.

    ``count=False`` says the message was not even tried (the adapter is offline, e.g. reconnecting):
    it waits without using up one of its ``[delivery] max_attempts``, so a long outage loses nothing.
    """

    def __init__(self, message: str = "", retry_after: float | None = None, *,
                 count: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.count = count


class PermanentError(DeliveryError):
    """Retrying will not help (blocked by the user, chat gone, never started the bot).

    ``reason`` says which, for the core to decide what happens next (``Core.delivery_failed``):
    ``"not_started"`` (the person never opened a private chat with the bot; ``link`` opens one),
    ``"blocked"``, ``"chat_gone"``, ``"not_member"``, or ``""`` when the platform did not say.
    """

    def __init__(self, message: str = "", *, reason: str = "", link: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.link = link


@dataclass(frozen=True, slots=True)
class SendLimits:
    """A platform's send limits.  The dispatcher never exceeds them."""

    overall_per_second: float = 30.0
    group_per_minute: float = 20.0
    private_per_second: float = 1.0
    min_interval: float = 0.0  # seconds between any two sends (WeChat: 2 s and more)
    jitter: float = 0.0  # extra random wait, up to this many seconds, between sends
    daily_cap: int | None = None  # at most this many sends per day (the rest wait for tomorrow)
    max_text_length: int | None = None  # longer texts are split (UTF-16 units) by the dispatcher


class Adapter(Protocol):
    """A platform backend (see module docstring)."""

    platform: str
    limits: SendLimits

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str | None: ...
