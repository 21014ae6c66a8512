"""Keeping unit numbers and phone numbers out of group chats.

Text shown in a group (what a resident typed and the bot repeats, display names) goes through a
``Redactor``; the full text goes only to the reporter and to people with a role, privately.

How a text is read
------------------
1. A text with no digit at all is returned as it is (the usual case: a fast path).
2. It is normalised, keeping for every normalised character the position it came from: full-width and
   other Unicode digits become ASCII (``１３８`` → ``138``), NFKC folds full-width letters and
   punctuation and turns no-break, thin and narrow no-break spaces into spaces, dashes become ``-``,
   and zero-width characters (U+200B…U+200D, U+2060, U+FEFF, soft hyphen) are dropped.
3. Dates with a four-digit year (``2026-12-01``, ``2026.12.1``, ``2026/12/01``) and times (``10:00``)
   are set aside: they are never read as a unit, landline or ID card number (``2026-12-03`` is not unit
   1203), only as part of a mobile number written oddly (``1990-1-12 3456``).
4. Digit groups joined by up to three separator characters (space, ``-``, ``.``; ``)`` after a group in
   brackets) form a chain (``(138) 1234-5678``, ``1 3 8 1 2 …``, ``12 03``); a building number
   (``2栋``) and a number after ``#`` start a chain of their own.  Every run of consecutive groups of a
   chain is read as its digits alone and hidden when it is
   * a mobile number: ``1[3-9]`` + 9 digits, optionally after ``86`` / ``0086`` (a ``+`` before it is
     hidden too);
   * a landline: ``0`` (or ``86`` / ``0086``) + area code + 7–8 digits (``0757-88123456``);
   * an ID card number: 17 digits + a digit or ``X`` with a plausible birth date;
   * a registered unit (a set lookup: the cost does not grow with the number of units).
5. Unit numbers written the usual ways are hidden whether registered or not: after a building
   (``3栋1203`` ``三栋1203`` ``3号楼2单元1202`` ``3栋-1203`` ``3#1203`` ``3/1203``, the building is kept),
   dashed (``3-1202`` ``3-2-1203`` ``B3-1202``), with a suffix (``1203室`` ``1203房``), a floor and a room
   (``12楼03``), in English (``room 1203`` ``unit 1203`` ``apt 1203`` ``room#1203``).
6. The private spans are mapped back to the original text: a marker replaces each whole span (with the
   separators inside it); everything else stays exactly as written.

Ticket numbers
--------------
``#`` + digits is how the bot and residents refer to repair reports (``#5``, ``报修 #12``), so it is
kept unless it is a unit: ``#`` + a *registered* unit of four or five digits (``驳回 4 与 #1203 重复``)
is hidden, as is ``#`` after a building number (``3#1203``).  ``#`` + an unregistered number, and
``#`` + a registered three-digit unit (``#101`` is far more often report 101: every compound reaches
it), are kept as ticket references.

Registered units
----------------
``Redactor(units)`` keeps them in sets (``update`` / ``add`` add more), compared without separators and
case: ``3-1203`` is looked up as ``31203``.  Units with letters (``12A``, ``B-1203``) are looked up as
words of letters and digits joined by ``-``, ``.`` or a space.  Units shorter than two characters, or
without a digit, are ignored.  A registered unit is hidden whatever follows it (``12.03元`` when 1203 is
registered): a unit written with separators cannot be told from other numbers, so privacy wins.

Not hidden: counts and amounts (``5人`` ``50元`` ``1小时`` ``3栋`` alone, ``3栋12人``, ``147/147`` and
``12/150 班``), times and dates as above, an eight-digit local number without an area code, digits
written as words or circled digits.

``redact(text, marker, units)`` is the older call: it shares one ``Redactor`` between calls with the same
units (``redactor_for``), but building the key still costs O(units) a call: keep a ``Redactor``.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable

# --- normalising ------------------------------------------------------------------------------------

_ANY_DIGIT = re.compile(r"\d")  # any Unicode decimal digit (full-width ones included)
# A text with no digit has nothing private in it (every number the reader hides has one): callers on
# a hot path ask this first, before handing a text to the redactor at all.
has_digit = _ANY_DIGIT.search
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
_CHAR_CACHE: dict[str, str] = {}
# the characters that may change: not ASCII, not a CJK ideograph
_MAY_CHANGE = re.compile(r"[^\x00-\x7f\u3400-\u4dbf\u4e00-\u9fff]")


def _normal_char(char: str) -> str:
    cached = _CHAR_CACHE.get(char)
    if cached is not None:
        return cached
    if char in _INVISIBLE:
        normal = ""
    elif char in _DASHES:
        normal = "-"
    else:
        digit = unicodedata.decimal(char, None)
        normal = str(digit) if digit is not None else unicodedata.normalize("NFKC", char)
        if any(c in _INVISIBLE for c in normal):
            normal = "".join(c for c in normal if c not in _INVISIBLE)
    if len(_CHAR_CACHE) < 65536:
        _CHAR_CACHE[char] = normal
    return normal


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """The normalised text and, for each of its characters, the index in ``text`` it came from
    (``None``: the same index, when no character changed length)."""
    if text.isascii():
        return text, None
    changes: list[tuple[int, str]] = []
    same_length = True
    for match in _MAY_CHANGE.finditer(text):
        char = match.group()
        normal = _normal_char(char)
        if normal != char:
            changes.append((match.start(), normal))
            same_length = same_length and len(normal) == 1
    if not changes:
        return text, None
    if same_length:
        chars = list(text)
        for index, normal in changes:
            chars[index] = normal
        return "".join(chars), None
    parts: list[str] = []
    origin: list[int] = []
    last = 0
    for index, normal in changes:
        parts.append(text[last:index])
        origin.extend(range(last, index))
        parts.append(normal)
        origin.extend([index] * len(normal))
        last = index + 1
    parts.append(text[last:])
    origin.extend(range(last, len(text)))
    return "".join(parts), origin


# --- what is never private ----------------------------------------------------------------------------

_PROTECTED = re.compile(
    r"(?<![0-9])(?:(?:19|20)[0-9]{2}(?P<s>[-/.])(?:0?[1-9]|1[0-2])(?P=s)(?:0?[1-9]|[12][0-9]|3[01])"
    r"|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)(?![0-9])")  # 2026-12-01, 10:00

# --- unit numbers written the usual ways (groups named ``u`` are hidden) --------------------------------

_CN_DIGITS = "一二三四五六七八九十两〇零"
_COUNTERS = r"(?!\s*(?:人|位|名|个|件|次|元|块|天|小时|分钟|岁|%|户|层|楼|斤|公斤|kg|cm|米))"
_BUILDING = rf"(?:[0-9]{{1,3}}|[{_CN_DIGITS}]{{1,3}}|[A-Za-z][0-9]{{0,2}})\s*(?:栋|座|号楼|幢|单元)"
_UNIT_PATTERNS = [
    # 3栋1203, 三栋1203, 3号楼2单元1202, 3栋-1203, 3栋#1203, ３栋１２０２室: the building is kept
    re.compile(rf"{_BUILDING}(?P<u>\s*[-#]?\s*[0-9]{{2,5}}(?![0-9]){_COUNTERS}(?:\s*(?:室|房|号))?)"),
    # 3#1203, B3#1203
    re.compile(r"(?<![0-9#])[0-9]{1,3}#\s*(?P<u>[0-9]{3,5})(?![0-9])"),
    # 3/1203: a building up to 99, then a floor and a room up to 39 (so 50/100, 147/147, 12/150 班 are
    # counts, not units)
    re.compile(rf"(?<![0-9/.])[1-9][0-9]?\s*/\s*(?P<u>[1-9][0-9]?(?:0[1-9]|[1-3][0-9]))(?![0-9/.])"
               rf"{_COUNTERS}(?!\s*(?:班|条|份|题|页|分|篇|次))"),
    # 3-1202, 3-2-1203, B3-1202
    re.compile(r"(?<![0-9#])(?P<u>[0-9]{1,3}\s*-\s*[0-9]{1,2}\s*-?\s*[0-9]{3,4})(?![0-9])"),
    # 1203室, 1203房, 0908号房
    re.compile(r"(?<![0-9#])(?P<u>[0-9]{3,5}\s*(?:室|房|号房))"),
    # 我家在12楼03, 12层03
    re.compile(rf"(?<![0-9])(?P<u>[0-9]{{1,2}}\s*(?:楼|层)\s*[0-9]{{1,3}})(?![0-9]){_COUNTERS}"),
    # room 1203, unit 1203, apt 1203, room#1203
    re.compile(r"(?P<u>\b(?:room|unit|apt|apartment|flat|rm)\.?\s*#?\s*[0-9]{2,5})\b", re.IGNORECASE),
]
# A pattern can only match a text that has one of its marks (a building word, '#', '/', '-', 室 or 房,
# 楼 or 层) in it: a text without is not scanned for it (``None``: always scanned).  Texts are read
# once each (then cached), but every new text is: a ticket's, a name, a rota table.
_PATTERN_MARKS = tuple(frozenset(marks) if marks else None
                       for marks in ("栋座幢楼元", "#", "/", "-", "室房", "楼层", None))
_MARKED_PATTERNS = tuple(zip(_UNIT_PATTERNS, _PATTERN_MARKS, strict=True))

# --- digit chains -------------------------------------------------------------------------------------

_GROUP = re.compile(r"[0-9]+")
_SEPARATORS = frozenset(" \t-.)")  # ")" only after a group in brackets: (0757) 8812 3456
# A building number (2栋) starts a chain of its own: "100 2栋" is not unit 1002.
_BUILDING_AFTER = re.compile(r"\s*(?:栋|座|幢|号楼|单元)")
_MAX_SEPARATOR = 3  # characters between two groups of one chain
_MAX_DIGITS = 18    # the longest private number (an ID card)
_MOBILE = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"(?:0|0086|86)(?:10|2[0-9]|[3-9][0-9]{2})[2-9][0-9]{6,7}")
_ID_CARD = re.compile(r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{3}[0-9Xx]")
_MOBILE_LENGTHS = frozenset({11, 13, 15})
_LANDLINE_LENGTHS = frozenset(range(10, 17))
_HASH_UNIT_DIGITS = 4  # '#' + a registered unit is hidden from this many digits on (see above)

# Registered units with letters (12A, B-1203): tokens of letters and digits joined by -, . or a space
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-. ][A-Za-z0-9]+)*")
_TOKEN_PART = re.compile(r"[A-Za-z0-9]+")


def _unit_key(unit: str) -> str:
    normal, _ = _normalise(str(unit).strip())
    return "".join(c for c in normal if c.isalnum()).upper()


class Redactor:
    """Finds phone, landline, ID card and unit numbers; registered units are held in one set."""

    CACHE_SIZE = 4096  # texts whose spans are remembered (a rota table, a ticket line asked again)

    def __init__(self, units: Iterable[str] = ()) -> None:
        self._digit_units: set[str] = set()
        self._other_units: set[str] = set()
        self._known: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        self.update(units)

    def update(self, units: Iterable[str]) -> None:
        """Also hide these units (as ``set.update``)."""
        for unit in units:
            self.add(unit)

    def add(self, unit: str) -> None:
        """Also hide this unit. Units of fewer than two characters, or without a digit, are ignored."""
        if not unit:
            return
        key = _unit_key(unit)
        self._known.clear()  # what was read before this unit was known is read again
        if len(key) < 2 or not any(c.isdigit() for c in key):
            return
        (self._digit_units if key.isdigit() else self._other_units).add(key)

    def __len__(self) -> int:
        return len(self._digit_units) + len(self._other_units)

    def carries_private(self, text: str) -> bool:
        """True when ``text`` has a phone, ID card or unit number in it."""
        return bool(self.spans(text))

    def redact(self, text: str, marker: str) -> str:
        """``text`` with every private span replaced by ``marker``.

        Read again after replacing (up to three times) so that what is shown passes the same check: with
        a number gone, what was next to it can read as one (``13812345678-1-1203`` → ``…-1-1203``)."""
        for _ in range(3):
            spans = self.spans(text)
            if not spans:
                break
            out: list[str] = []
            last = 0
            for start, end in spans:
                out.append(text[last:start])
                out.append(marker)
                last = end
            out.append(text[last:])
            text = "".join(out)
        return text

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The private spans of ``text`` as sorted, non-overlapping ``(start, end)`` indices into it."""
        if not text or not _ANY_DIGIT.search(text):
            return []
        known = self._known.get(text)
        if known is not None:
            self._known.move_to_end(text)
            return list(known)
        found = self._read(text)
        self._known[text] = found
        if len(self._known) > self.CACHE_SIZE:
            self._known.popitem(last=False)
        return list(found)

    def _read(self, text: str) -> list[tuple[int, int]]:
        normal, origin = _normalise(text)
        protected = [m.span() for m in _PROTECTED.finditer(normal)]
        found: list[tuple[int, int]] = []
        chars = frozenset(normal)
        for pattern, marks in _MARKED_PATTERNS:
            if marks is not None and marks.isdisjoint(chars):
                continue
            for match in pattern.finditer(normal):
                span = match.span("u")
                if not _overlaps(span, protected):
                    found.append(span)
        found.extend(self._chain_spans(normal, protected))
        if self._other_units:
            found.extend(self._token_spans(normal))
        if not found:
            return []
        found.sort()
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def _chain_spans(self, normal: str, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
        # (start, end, in a date or time); a protected span starts and ends with a whole group
        starts = [start for start, _ in protected]  # sorted, non-overlapping (finditer)

        def inside(position: int) -> bool:
            i = bisect.bisect_right(starts, position) - 1
            return i >= 0 and position < protected[i][1]

        groups = [(m.start(), m.end(), bool(protected) and inside(m.start()))
                  for m in _GROUP.finditer(normal)]
        found: list[tuple[int, int]] = []
        chain: list[tuple[int, int, bool]] = []
        for group in groups:
            if chain:
                between = normal[chain[-1][1]:group[0]]
                if (len(between) > _MAX_SEPARATOR or not _SEPARATORS.issuperset(between)
                        or (")" in between and normal[chain[-1][0] - 1:chain[-1][0]] != "(")
                        or _BUILDING_AFTER.match(normal, group[1])):
                    self._read_chain(normal, chain, found)
                    chain = []
            chain.append(group)
        if chain:
            self._read_chain(normal, chain, found)
        return found

    def _read_chain(self, normal: str, chain: list[tuple[int, int, bool]],
                    found: list[tuple[int, int]]) -> None:
        """Every run of consecutive groups: its digits alone.  A run with a date or time in it can only
        be a mobile number (``1990-1-12 3456`` is 199 0112 3456 written oddly; ``2026-12-01`` is a
        date, never unit 1201)."""
        units = self._digit_units
        size = len(normal)
        for i, (first, _, _) in enumerate(chain):
            after_hash = first > 0 and normal[first - 1] == "#"
            digits = ""
            dated = False
            for last_start, last_end, in_date in chain[i:]:
                digits += normal[last_start:last_end]
                dated = dated or in_date
                length = len(digits)
                if length > _MAX_DIGITS:
                    break
                end = last_end
                phone = False
                if length in _MOBILE_LENGTHS and _MOBILE.fullmatch(digits):
                    phone = True
                elif dated:
                    continue
                elif length in _LANDLINE_LENGTHS and _LANDLINE.fullmatch(digits):
                    phone = True
                elif (length == 17 and end < size and normal[end] in "Xx"
                      and (end + 1 == size or not normal[end + 1].isalnum())
                      and _ID_CARD.fullmatch(digits + "X")):
                    end += 1  # the check character X
                elif length == 18 and _ID_CARD.fullmatch(digits):
                    pass
                elif digits in units and (not after_hash or (length >= _HASH_UNIT_DIGITS
                                          and last_start == first)):
                    pass
                else:
                    continue
                start = first
                if start > 0 and normal[start - 1] == "(" and ")" in normal[start:end]:
                    start -= 1  # (0757) 8812 3456
                if phone and start > 0 and normal[start - 1] == "+":
                    start -= 1  # +86 138 …
                found.append((start, end))

    def _token_spans(self, normal: str) -> list[tuple[int, int]]:
        units = self._other_units
        found: list[tuple[int, int]] = []
        for token in _TOKEN.finditer(normal):
            parts = [m.span() for m in _TOKEN_PART.finditer(normal, token.start(), token.end())]
            for i in range(len(parts)):
                key = ""
                for start, end in parts[i:]:
                    key += normal[start:end].upper()
                    if len(key) > 16:
                        break
                    if key in units:
                        found.append((parts[i][0], end))
        return found


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    start, end = span
    return any(start < other_end and other_start < end for other_start, other_end in others)


_NO_UNITS = Redactor()


@functools.lru_cache(maxsize=16)
def _redactor_for(units: frozenset[str]) -> Redactor:
    return Redactor(units)


def redactor_for(units: Iterable[str] = ()) -> Redactor:
    """A ``Redactor`` for these units, shared between calls with the same units."""
    key = frozenset(u for u in units if u)
    return _redactor_for(key) if key else _NO_UNITS


def redact(text: str, marker: str, units: Iterable[str] = ()) -> str:
    """``text`` with phone, ID card and unit numbers replaced by ``marker`` (``Redactor.redact``)."""
    if not text or not _ANY_DIGIT.search(text):
        return text
    return redactor_for(units).redact(text, marker)
