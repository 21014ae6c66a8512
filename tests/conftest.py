"""Shared fixtures: a demo compound on a manual clock with a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.dispatcher import Dispatcher
from bot.privacy import redact
from tests.harness import Compound, without_fixed_texts

PRIVACY_LEAKS: list[str] = []


def _leaks(text: str, units: list[str]) -> bool:
    text = without_fixed_texts(text)
    return redact(text, "<>", units) != text


def _leaks_in_databases(folder: Path) -> list[str]:
    """Group messages in the outbox of every Linli database under ``folder``: what bots running in
    subprocesses (``linli run``, ``linli console``) wrote for groups is checked this way."""
    leaks = []
    for path in sorted(folder.rglob("*.db")):
        try:
            conn = sqlite3.connect(path, timeout=5)
        except sqlite3.Error:
            continue
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not {"outbox", "people"} <= tables:
                continue
            units = [r[0] for r in conn.execute(
                "SELECT DISTINCT unit FROM people WHERE unit IS NOT NULL")]
            for (body,) in conn.execute("SELECT body FROM outbox WHERE kind = 'group'"):
                data = json.loads(body)
                text = "\n".join(filter(None, [data.get("text"), data.get("buttons_hint")]))
                if _leaks(text, units):
                    leaks.append(f"{path.name}: {text}")
        except sqlite3.Error:
            continue  # not a database, or one a test damaged on purpose
        finally:
            conn.close()
    return leaks


@pytest.fixture(autouse=True)
def every_group_message_is_checked_for_private_details(monkeypatch, request):
    """Privacy across the whole suite: every group message any in-process dispatcher hands to any
    adapter (the harness's, the console's, Telegram's, a fake transport) is checked for registered
    unit numbers and phone numbers, and so is every group message in the outbox of every database
    a test leaves in its ``tmp_path`` (bots run as subprocesses); a leak fails the test."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    original = Dispatcher.deliver

    async def checked(self, message):
        if message.kind == "group":
            async with self.core.db.read() as tx:
                units = await tx.people.registered_units()
            if _leaks(message.plain_text(), units):
                PRIVACY_LEAKS.append(message.plain_text())
        return await original(self, message)

    monkeypatch.setattr(Dispatcher, "deliver", checked)
    PRIVACY_LEAKS.clear()
    yield PRIVACY_LEAKS
    leaks, PRIVACY_LEAKS[:] = list(PRIVACY_LEAKS), []
    if folder is not None:
        leaks += _leaks_in_databases(folder)
    assert not leaks, f"private details in group messages: {leaks!r}"


@pytest.fixture
async def compound(tmp_path):
    compound = await Compound.open(tmp_path)
    yield compound
    await compound.close()
