"""What the command line says when something outside Linli is wrong: a database file that is damaged,
not a database or not writable, a path it cannot write, and the line of the config a problem is on.

Each function returns one line (no newline) that names the file and what is wrong with it.
(Not a subcommand: modules of this package whose name starts with ``_`` are helpers.)
"""

from __future__ import annotations

import os
import re
import sqlite3
import tomllib
from pathlib import Path

from pydantic import ValidationError

from bot.config import ConfigError

RESTORE = ("restore the last good copy with `linli db restore BACKUP --db {path}` (copies are made "
           "with `linli db backup PATH`)")


def database_problem(path: str | Path, exc: BaseException) -> str:
    """One line about what is wrong with the database file ``path``, from SQLite's error."""
    path = str(path)
    text = str(exc)
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == sqlite3.SQLITE_NOTADB or "not a database" in text:
        return (f"{path} is not an SQLite database (the file is damaged, or it is another kind of "
                f"file); " + RESTORE.format(path=path))
    if code == sqlite3.SQLITE_CORRUPT or "malformed" in text:
        return f"{path} is damaged ({text}); " + RESTORE.format(path=path)
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM) \
            or "readonly" in text:
        return unwritable_database(path, text)
    if code == sqlite3.SQLITE_FULL:
        return f"{path} cannot grow: the disk is full ({text})"
    return f"{path}: {text}"


def unwritable_database(path: str, detail: str = "") -> str:
    """The database (or the folder it is in) cannot be written: say which."""
    file = Path(path)
    folder = file.resolve().parent
    name = file.name
    if file.exists() and not os.access(file, os.W_OK):
        what = "the file is read-only for this user"
    elif folder.is_dir() and not os.access(folder, os.W_OK):
        what = f"its folder {folder} is read-only for this user"
    elif not folder.is_dir():
        what = f"the folder {folder} does not exist"
    else:
        what = f"it cannot be opened for writing ({detail})" if detail else "it cannot be written"
    return (f"{path} cannot be used: {what}; Linli writes the database and, beside it, {name}-wal, "
            f"{name}-shm and {name}.lock. Give the user running Linli write access, or copy the "
            f"database to a writable folder.")


def cannot_write(path: Path, exc: OSError, what: str = "write") -> str:
    """Why ``path`` could not be written (or its folder made), in one line."""
    parent = path.parent
    if isinstance(exc, FileNotFoundError) and not parent.is_dir() and what == "write":
        reason = f"the folder {parent} does not exist"
    elif isinstance(exc, IsADirectoryError):
        reason = "it is a folder; give a file name"
    elif isinstance(exc, NotADirectoryError):
        reason = "part of the path is a file, not a folder"
    else:
        reason = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(path):
            reason += f" ({exc.filename})"
    return f"cannot {what} {path}: {reason}"


# --- the line of a config problem ---------------------------------------------------------------
_HEADER = re.compile(r"^\[\[?(?P<key>[^\[\]]+)\]\]?\s*(#.*)?$")
_CROSS = re.compile(r"^\[(?P<table>[^\]]+)\]\s+(?P<key>[A-Za-z_][A-Za-z0-9_]*)?")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _split_key(text: str) -> tuple[str, ...]:
    """``a."b.c" . d`` → ("a", "b.c", "d")."""
    parts, current, quote = [], "", ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return tuple(parts)


def _outside_strings(text: str) -> str:
    """``text`` with what is inside quotes blanked and a trailing comment cut (one line)."""
    out, quote = [], ""
    for char in text:
        if quote:
            out.append(" ")
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
            out.append(" ")
        elif char == "#":
            break
        else:
            out.append(char)
    return "".join(out)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Where each table header and each key of a TOML text is (1-based line numbers)."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    depth = 0  # open brackets of a value that goes on over several lines
    triple = ""  # inside a multi-line string
    for number, line in enumerate(text.splitlines(), 1):
        if triple:
            if line.count(triple) % 2 == 1:
                triple = ""
            continue
        stripped = line.strip()
        if depth:
            plain = _outside_strings(stripped)
            depth = max(0, depth + plain.count("[") + plain.count("{") - plain.count("]")
                        - plain.count("}"))
            continue
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(stripped)
        if header:
            table = _split_key(header.group("key"))
            found.setdefault(table, number)
            continue
        plain = _outside_strings(stripped)
        if "=" not in plain:
            continue
        cut = plain.index("=")
        found.setdefault(table + _split_key(stripped[:cut]), number)
        value = stripped[cut + 1:]
        for quotes in ('"""', "'''"):
            if value.count(quotes) % 2 == 1:
                triple = quotes
        if not triple:
            rest = _outside_strings(value)
            depth = max(0, rest.count("[") + rest.count("{") - rest.count("]") - rest.count("}"))
    return found


def line_of(lines: dict[tuple[str, ...], int], where: tuple[str, ...]) -> int | None:
    """The line of ``where``, else of the nearest enclosing key or table that is in the file."""
    for n in range(len(where), 0, -1):
        if where[:n] in lines:
            return lines[where[:n]]
    return None


def with_lines(error: ConfigError, path: Path) -> ConfigError:
    """``error`` with the line of the file each of its problems is on: ``path:12: key: why``."""
    prefix = f"{path}: "
    problems = str(error).split("\n")
    cause = error.__cause__
    if isinstance(cause, tomllib.TOMLDecodeError):
        at = _TOML_AT.search(str(cause))
        if at is None:
            return error
        return ConfigError("\n".join(p.replace(prefix, f"{path}:{at.group(1)}: ", 1)
                                     if p.startswith(prefix) else p for p in problems))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return error
    lines = key_lines(text)
    if isinstance(cause, ValidationError):
        wheres = [tuple(str(p) for p in e["loc"]) for e in cause.errors()]
    else:
        wheres = []
        for problem in problems:
            cross = _CROSS.match(problem.removeprefix(prefix))
            table = _split_key(cross.group("table")) if cross else ()
            wheres.append(table + ((cross.group("key"),) if cross and cross.group("key") else ()))
    if len(wheres) != len(problems):
        return error
    out = []
    for problem, where in zip(problems, wheres, strict=True):
        number = line_of(lines, where) if where else None
        if number is not None and problem.startswith(prefix):
            problem = f"{path}:{number}: {problem.removeprefix(prefix)}"
        out.append(problem)
    return ConfigError("\n".join(out))
