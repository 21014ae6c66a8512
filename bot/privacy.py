"""Keeping unit numbers and phone numbers out of group chats.

``redact`` hides phone numbers (mobile and landline), unit numbers written the usual ways
(``3栋1203``, ``3-1203``, ``1203室``, ``room 1203``) and any registered unit given to it.  Text shown in
a group goes through it; the full text goes only to the reporter and to people with a role, privately.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PHONE = re.compile(r"(?<![0-9])(?:\+?86[-\s]?)?1[3-9][0-9](?:[-\s]?[0-9]{4}){2}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}[-\s]?[0-9]{7,8}(?![0-9])")
_UNIT_AFTER_BUILDING = re.compile(
    r"((?:[0-9０-９]{1,3})\s*(?:栋|座|号楼|幢|单元))\s*[-－—]?\s*[0-9０-９]{2,5}(?:\s*(?:室|房|号))?")
_UNIT_DASHED = re.compile(r"(?<![0-9#])[0-9]{1,3}\s*[-－—]\s*[0-9]{1,2}\s*[-－—]?\s*[0-9]{3,4}(?![0-9])")
_UNIT_PLAIN = re.compile(r"(?<![0-9#])[0-9]{3,5}\s*(?:室|房|号房)")
_UNIT_ENGLISH = re.compile(r"\b(?:room|unit|apt|apartment|flat|rm)\.?\s*#?\s*[0-9]{2,5}\b",
                           re.IGNORECASE)


def redact(text: str, marker: str, units: Iterable[str] = ()) -> str:
    """``text`` with phone and unit numbers replaced by ``marker``."""
    text = _PHONE.sub(marker, text)
    text = _LANDLINE.sub(marker, text)
    text = _UNIT_AFTER_BUILDING.sub(lambda m: m.group(1) + marker, text)
    text = _UNIT_DASHED.sub(marker, text)
    text = _UNIT_PLAIN.sub(marker, text)
    text = _UNIT_ENGLISH.sub(marker, text)
    for unit in sorted({u for u in units if u and len(u) >= 2}, key=len, reverse=True):
        text = re.sub(r"(?<![0-9#])" + re.escape(unit) + r"(?![0-9])", marker, text)
    return text
