"""Message catalogues: every word Linli says, in zh (first) and en.

Catalogues are TOML files in ``bot/locales/<lang>/<domain>.toml``; a key ``ack`` in
``tickets.toml`` is looked up as ``"tickets.ack"``.  Texts are ``str.format`` templates.  A key missing
in one language falls back to Chinese, then to the key itself, so a missing text is visible but never
a crash.  ``tests/test_i18n.py`` checks that both languages have the same keys and placeholders.
"""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
_ROOT = Path(__file__).parent / "locales"


def _flatten(prefix: str, table: dict, out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every text of one language, keyed ``domain.key``."""
    out: dict[str, str] = {}
    for path in sorted((_ROOT / lang).glob("*.toml")):
        _flatten(path.stem, tomllib.loads(path.read_text(encoding="utf-8")), out)
    return out


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def template(lang: str, key: str) -> str:
    """The unfilled text for ``key``: the reader's language, then Chinese, then the key itself.
    A caller that fills one text many times (值班, a line per shift) looks it up once with this
    and fills it with every placeholder it has."""
    return catalogue(lang).get(key) or catalogue("zh").get(key) or key


def t(lang: str, key: str, /, **values: object) -> str:
    """The text for ``key`` in ``lang``, filled with ``values``."""
    text = template(lang, key)
    if "{" not in text and "}" not in text:  # nothing to fill
        return text
    return text.format_map(_Lenient(values))


def has(lang: str, key: str) -> bool:
    return key in catalogue(lang)


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
