"""A bare python-telegram-bot echo bot: P2's baseline.  ``python -m bench.echo_bot TOKEN API_BASE_URL``

It polls like Linli's Telegram adapter does (long polling, the same timeout) and answers every message
with its text, in the same chat, as a reply.  Prints ``echo: ready`` on stderr once polling runs.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


async def main(token: str, base_url: str) -> None:
    app = (Application.builder().token(token).base_url(base_url)
           .get_updates_read_timeout(11).build())
    app.add_handler(MessageHandler(filters.ALL, echo))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, allowed_updates=["message"])
        print("echo: ready", file=sys.stderr, flush=True)
        await stop.wait()
        await app.updater.stop()
        await app.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
