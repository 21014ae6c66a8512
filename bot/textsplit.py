"""Splitting a long text into messages a platform accepts, without breaking a word or an emoji.

Platforms cap a message's length (Telegram: 4,096 UTF-16 code units; WeChat is configured).  A text
over the cap is cut at the best place inside each chunk, in this order: a blank line (paragraph), a
line break, the end of a sentence (。！？.!?), a space, and only then between two grapheme clusters
(user-perceived characters, Unicode UAX #29 via the ``regex`` package's ``\\X``), so that a family
emoji 👨‍👩‍👧, a flag 🇨🇳 or a letter with its accents is never split in two.
"""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")
_BREAKS = ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "，", ", ", " ")


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int, measure) -> int:
    """The longest prefix (in str indexes, ending on a grapheme boundary) within ``limit``."""
    end = 0
    used = 0
    for match in _GRAPHEME.finditer(text):
        size = measure(match.group(0))
        if used + size > limit:
            break
        used += size
        end = match.end()
    return end


def split_text(text: str, limit: int, measure=utf16_length) -> list[str]:
    """``text`` in pieces of at most ``limit`` (as ``measure`` counts), cut at natural places."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    pieces: list[str] = []
    rest = text
    while measure(rest) > limit:
        end = _fitting_prefix(rest, limit, measure)
        if end == 0:  # one grapheme longer than the limit (absurd combining chains): cut codepoints
            end = 1
        window = rest[:end]
        cut = end
        for mark in _BREAKS:
            at = window.rfind(mark)
            if at > end // 3:  # a break too early would leave a tiny piece: try a weaker break
                cut = at + len(mark)
                break
        piece = rest[:cut].rstrip()
        pieces.append(piece or rest[:cut])
        rest = rest[cut:].lstrip("\n ") if piece else rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces
