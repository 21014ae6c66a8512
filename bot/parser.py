"""Is this message a command, and which?

In a group a message is a command when it starts with a command word, optionally preceded by
``/``, ``#``, a full-width ``／`` or ``＃``, or an @mention of the bot.  ``/cmd@OtherBot`` is another
bot's.  English words need the ``/`` (or a mention) in groups, so chatter like "open the door" is
left alone; a bare word that needs a number ("确认 12") is only a command when the number is there.
Everything else returns ``None`` and the bot stays silent.

The text is cleaned first: NUL and control characters, zero-width and bidirectional-override
characters are dropped, so what is stored and echoed is what a person can see (and lone surrogates,
which a platform's JSON can carry but no database or platform can store, go too).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.commands import Command

PREFIXES = "/#／＃"
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_NUMBER = re.compile(r"^\s*[#＃]?\s*([0-9０-９]+)")
_ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def clean(text: str) -> str:
    """Drop invisible and control characters (keeping newlines and tabs) and outer white space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub("", text).strip()


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def guess_language(text: str) -> str | None:
    """'zh' or 'en' when the text says which, else None."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return None
    return "zh" if cjk * 2 >= latin else "en"


def leading_number(text: str) -> int | None:
    """The whole number at the start of ``text`` (``12``, ``#12``, ``１２``, ``12 备注``), if any.

    It must stand on its own: ``1.5``, ``1e3``, ``1,000`` or ``12ab`` are not a ticket's number.
    """
    match = _NUMBER.match(text)
    if not match:
        return None
    after = unicodedata.normalize("NFKC", text[match.end():match.end() + 1])
    if after and ((after.isalnum() and after.isascii()) or after in "._,/:-+"):
        return None
    digits = unicodedata.normalize("NFKC", match.group(1))
    return int(digits) if len(digits) <= 9 else None


def _original_length(body: str, folded_length: int) -> int:
    """How many characters of ``body`` fold (NFKC) into the first ``folded_length`` characters."""
    for i in range(1, len(body) + 1):
        if len(unicodedata.normalize("NFKC", body[:i])) >= folded_length:
            return i
    return len(body)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A message that is a command: which, with what arguments, in which language."""

    command: Command | None  # None: an unknown word after '/' (answered with a pointer to 帮助)
    word: str
    args: str
    lang: str | None  # None: the message does not say; use the person's language
    prefixed: bool
    text: str  # the whole cleaned text


class Parser:
    """Knows every command word and the bot's names; ``parse`` one message at a time."""

    def __init__(self, commands: list[Command], bot_names: list[str] = (),
                 bot_usernames: list[str] = ()) -> None:
        self.bot_names = sorted({n.lower() for n in (*bot_names, *bot_usernames) if n},
                                key=len, reverse=True)
        self.usernames = {n.lower().lstrip("@") for n in bot_usernames if n}
        self._words: list[tuple[str, Command, bool]] = []  # (word, command, is_cjk)
        for command in commands:
            for word in command.words:
                self._words.append((word.lower(), command, has_cjk(word)))
        self._words.sort(key=lambda w: len(w[0]), reverse=True)
        # by first character, longest first: a message is compared with the few words it can start
        self._by_first: dict[str, list[tuple[str, Command, bool]]] = {}
        for entry in self._words:
            self._by_first.setdefault(entry[0][:1], []).append(entry)

    def add_usernames(self, *names: str) -> None:
        """Teach the parser the bot's platform usernames (e.g. Telegram's, from getMe)."""
        for name in names:
            if name:
                self.usernames.add(name.lower().lstrip("@"))
                if name.lower() not in self.bot_names:
                    self.bot_names.append(name.lower())
        self.bot_names.sort(key=len, reverse=True)

    def _strip_mention(self, text: str) -> tuple[str, bool]:
        if not text.startswith(("@", "＠")):
            return text, False
        lowered = text[1:].lower()
        for name in self.bot_names:
            if lowered.startswith(name):
                rest = text[1 + len(name):]
                if not rest or not (rest[0].isalnum() or rest[0] == "_"):
                    return rest.lstrip(" \t\u2005\u3000:：,，"), True
        return text, False

    def parse(self, text: str, *, private: bool = False, mentioned: bool = False,
              cleaned: bool = False) -> Parsed | None:
        """The command in ``text``, or None when the message is not for us (``cleaned``: the
        caller already passed it through :func:`clean`)."""
        if not cleaned:
            text = clean(text)
        body, by_mention = self._strip_mention(text)
        mentioned = mentioned or by_mention
        prefixed = bool(body) and body[0] in PREFIXES
        if prefixed:
            body = body[1:].lstrip()
        folded = unicodedata.normalize("NFKC", body[:40]).lower()
        for word, command, cjk in self._by_first.get(folded[:1], ()):
            if not folded.startswith(word):
                continue
            rest = body[_original_length(body, len(word)):]
            if not cjk:
                if rest[:1].isalnum() or rest[:1] == "_":
                    continue  # "/reports" is not "/report"
                if not (prefixed or mentioned or private):
                    return None  # English words need '/' in groups
            if rest.startswith(("@", "＠")):
                name = re.match(r"[@＠]([A-Za-z0-9_]+)", rest)
                if name:
                    if name.group(1).lower() not in self.usernames:
                        return None  # /cmd@OtherBot is another bot's
                    rest = rest[name.end():]
            args = rest.strip(" \t\n\u3000\u2005:：,，")
            if command.needs_number and not (prefixed or mentioned or private):
                if leading_number(args) is None:
                    return None
            lang = "zh" if cjk else guess_language(args)
            return Parsed(command, word, args, lang, prefixed, text)
        if (prefixed and body[:1] != "#" and text[:1] in "/／") or (mentioned and body):
            head = body.split(maxsplit=1)[0] if body.split() else ""
            word_match = _ASCII_WORD.match(head)
            if word_match and "@" in head:
                name = head.split("@", 1)[1].lower()
                if name not in self.usernames:
                    return None
            if head:
                lang = "zh" if has_cjk(head) else None
                return Parsed(None, head[:20], "", lang, prefixed, text)
        return None
