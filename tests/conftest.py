"""Shared fixtures: a demo compound on a manual clock with a real SQLite file."""

from __future__ import annotations

import string

import pytest

from bot.dispatcher import Dispatcher
from bot.i18n import LANGUAGES, catalogue
from bot.privacy import redact
from tests.harness import Compound

PRIVACY_LEAKS: list[str] = []
# The catalogue's fixed wording (the text between placeholders) is written by us, not by residents:
# an example like "登记 3栋 1203" in the help menu is nobody's unit.
FIXED_TEXTS = sorted({literal for lang in LANGUAGES for text in catalogue(lang).values()
                      for literal, _, _, _ in string.Formatter().parse(text) if len(literal) >= 6},
                     key=len, reverse=True)


def _without_fixed_texts(text: str) -> str:
    for fixed in FIXED_TEXTS:
        if fixed in text:
            text = text.replace(fixed, " ")
    return text


@pytest.fixture(autouse=True)
def every_group_message_is_checked_for_private_details(monkeypatch):
    """Privacy across the whole suite: every group message any in-process dispatcher hands to any
    adapter (the harness's, the console's, Telegram's, a fake transport) is checked for registered
    unit numbers and phone numbers; a leak fails the test that caused it."""
    original = Dispatcher.deliver

    async def checked(self, message):
        if message.kind == "group":
            async with self.core.db.read() as tx:
                units = await tx.people.registered_units()
            text = _without_fixed_texts(message.plain_text())
            if redact(text, "<>", units) != text:
                PRIVACY_LEAKS.append(text)
        return await original(self, message)

    monkeypatch.setattr(Dispatcher, "deliver", checked)
    PRIVACY_LEAKS.clear()
    yield PRIVACY_LEAKS
    leaks, PRIVACY_LEAKS[:] = list(PRIVACY_LEAKS), []
    assert not leaks, f"private details in group messages: {leaks!r}"


@pytest.fixture
async def compound(tmp_path):
    compound = await Compound.open(tmp_path)
    yield compound
    await compound.close()
