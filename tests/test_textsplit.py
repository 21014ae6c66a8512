"""Long announcements are split at the platform's limit without breaking a word or an emoji."""

import regex
from hypothesis import given
from hypothesis import strategies as st

from bot.textsplit import split_text, utf16_length


def test_a_short_text_is_one_message():
    assert split_text("停水通知", 4096) == ["停水通知"]


def test_paragraphs_are_kept_whole_when_they_fit():
    text = ("第一段。" * 10 + "\n\n") + ("第二段。" * 10)
    parts = split_text(text, 60)
    assert parts[0] == "第一段。" * 10
    assert all(utf16_length(p) <= 60 for p in parts)


def test_english_words_are_not_cut():
    words = ["water", "supply", "interrupted", "tomorrow", "morning"] * 40
    parts = split_text(" ".join(words), 50)
    assert all(utf16_length(p) <= 50 for p in parts)
    for part in parts:
        assert all(word in set(words) for word in part.split())


def test_family_emoji_and_flags_are_never_split():
    family = "👨‍👩‍👧‍👦"
    text = (family + "🇨🇳") * 200
    parts = split_text(text, 4096)
    assert "".join(parts) == text
    for part in parts:
        assert utf16_length(part) <= 4096
    graphemes = regex.findall(r"\X", "".join(parts))
    assert set(graphemes) == {family, "🇨🇳"}


@given(st.text(min_size=0, max_size=3000), st.integers(min_value=8, max_value=500))
def test_no_piece_is_over_the_limit_and_nothing_but_spacing_is_lost(text, limit):
    parts = split_text(text, limit)
    assert all(utf16_length(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())  # only str.isspace() may go
