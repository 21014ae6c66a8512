"""Both languages say everything, with the same placeholders."""

from __future__ import annotations

from bot.i18n import catalogue, placeholders, t


def test_both_languages_have_the_same_keys():
    zh, en = catalogue("zh"), catalogue("en")
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


def test_both_languages_use_the_same_placeholders():
    zh, en = catalogue("zh"), catalogue("en")
    mismatched = {k: (placeholders(zh[k]), placeholders(en[k])) for k in zh
                  if k in en and placeholders(zh[k]) != placeholders(en[k])}
    assert mismatched == {}


def test_a_missing_value_shows_as_its_name_never_crashes():
    assert "{number}" in t("zh", "tickets.not_found")
    assert t("en", "no.such.key") == "no.such.key"
