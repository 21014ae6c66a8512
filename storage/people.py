"""People, the platform identities that point at them, and the prompts awaiting their reply."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace

from storage.db import Repo, repository
from storage.interned import interned


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    key: str | None  # config key of a listed person; None for a resident
    name: str
    lang: str | None
    building: str | None
    unit: str | None
    phone: str | None


# People are selected in Person's field order and built positionally (Person(*row)): 值班 maps some
# forty of them per question, and a look-up by column name per field cost more than the query.
_PERSON_COLUMNS = ", ".join(Person.__slots__)
_PERSON_COLUMNS_OF_P = ", ".join(f"p.{f}" for f in Person.__slots__)  # joined with identities


_known_person = interned(Person)  # 值班 loads some forty people per question, mostly the same ones


def _person(row) -> Person | None:
    """A person from a row selected as ``_PERSON_COLUMNS``."""
    return None if row is None else Person(*row)


@repository("people")
class People(Repo):
    # A transaction asks for the same few people many times (a report: the reporter, each person
    # told, their languages): they are kept for the transaction, and forgotten on any change to
    # people here or on a savepoint's undo (P1 in docs/bench-results.md).

    async def households(self, buildings: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
        """Registered households (units) per building, of ``buildings`` (all when empty)."""
        rows = await self._all("SELECT DISTINCT building, unit FROM people WHERE unit IS NOT NULL "
                               "AND building IS NOT NULL ORDER BY building, unit")
        wanted = set(buildings)
        out: dict[str, list[str]] = {}
        for building, unit in rows:
            if not wanted or building in wanted:
                out.setdefault(building, []).append(unit)
        return out

    async def get(self, person_id: int) -> Person | None:
        cache = self.__dict__.setdefault("_cache", {})
        if person_id not in cache:
            cache[person_id] = _person(await self._one(
                f"SELECT {_PERSON_COLUMNS} FROM people WHERE id = ?", (person_id,)))
        return cache[person_id]

    async def load(self, person_ids: Iterable[int | None]) -> dict[int, Person | None]:
        """Fetch these people in one query, so that ``get`` finds them without another; returns
        them by id (None for an id nobody has), as ``get`` would, for a caller that shows many
        people and would rather not await ``get`` for each."""
        cache = self.__dict__.setdefault("_cache", {})
        asked = {i for i in person_ids if i is not None}
        wanted = sorted(i for i in asked if i not in cache)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._all(f"SELECT {_PERSON_COLUMNS} FROM people WHERE id IN ({marks})",
                                   chunk)
            found = {row[0]: _known_person(row) for row in rows}
            for person_id in chunk:
                cache[person_id] = found.get(person_id)
        return {i: cache[i] for i in asked}

    def forget(self) -> None:
        self.__dict__.pop("_cache", None)

    async def by_key(self, key: str) -> Person | None:
        person = _person(await self._one(f"SELECT {_PERSON_COLUMNS} FROM people WHERE key = ?",
                                         (key,)))
        if person is not None:  # a captain pinged is looked up by key, then by id
            self.__dict__.setdefault("_cache", {})[person.id] = person
        return person

    async def by_identity(self, platform: str, external_id: str) -> Person | None:
        return _person(await self._one(
            f"SELECT {_PERSON_COLUMNS_OF_P} FROM people p JOIN identities i ON i.person_id = p.id "
            "WHERE i.platform = ? AND i.external_id = ?", (platform, external_id)))

    async def by_name(self, name: str) -> list[Person]:
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE name = ? OR key = ? ORDER BY id", (name, name))
        return [_person(r) for r in rows]

    async def named(self, name: str) -> list[Person]:
        """Everyone going by ``name`` and the listed person whose config key it is (ASCII letters in
        either case), listed people first.  Unlike :meth:`by_name`, all of them: several people may
        go by one name, and the caller decides (``Notifier.person_named`` asks which one)."""
        rows = await self._all(
            f"SELECT {_PERSON_COLUMNS} FROM people WHERE name = ? COLLATE NOCASE "
            "OR key = ? COLLATE NOCASE "
            "ORDER BY key IS NULL, id", (name, name))
        return [_person(r) for r in rows]

    async def sender(self, platform: str, external_id: str) -> tuple[Person | None, float | None]:
        """Who sent a message from this identity, and when that identity was last seen."""
        row = await self._one(
            f"SELECT {_PERSON_COLUMNS_OF_P}, i.last_seen FROM people p JOIN identities i "
            "ON i.person_id = p.id WHERE i.platform = ? AND i.external_id = ?", (platform, external_id))
        if row is None:
            return None, None
        person = Person(*row[:-1])  # the identity's last_seen comes after the person's columns
        self.__dict__.setdefault("_cache", {})[person.id] = person
        return person, row[-1]

    async def create(self, name: str, now: float, key: str | None = None,
                     lang: str | None = None) -> Person:
        person = _person(await self._one(  # RETURNING: one trip to aiosqlite's thread, not two
            "INSERT INTO people (key, name, lang, created_at) VALUES (?, ?, ?, ?) "
            f"RETURNING {_PERSON_COLUMNS}",
            (key, name, lang, now)))
        self.__dict__.setdefault("_cache", {})[person.id] = person  # nobody else changed
        return person

    async def upsert_listed(self, key: str, name: str, lang: str | None, now: float) -> int:
        """Create or refresh a person listed in the config; return their id."""
        self.forget()
        await self._run(
            "INSERT INTO people (key, name, lang, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET name = excluded.name, "
            "lang = COALESCE(people.lang, excluded.lang)", (key, name, lang, now))
        return await self._value("SELECT id FROM people WHERE key = ?", (key,))

    async def set_language(self, person_id: int, lang: str) -> None:
        cache = self.__dict__.get("_cache", {})
        known = cache.get(person_id)
        if known is not None and known.lang == lang:
            return  # it would change nothing
        if known is not None:
            cache[person_id] = replace(known, lang=lang)
        await self._run("UPDATE people SET lang = ? WHERE id = ? AND lang IS NOT ?",
                        (lang, person_id, lang))

    async def register(self, person_id: int, building: str, unit: str | None) -> None:
        self.forget()
        await self._run("UPDATE people SET building = ?, unit = COALESCE(?, unit) WHERE id = ?",
                        (building, unit, person_id))

    async def registered_units(self) -> list[str]:
        rows = await self._all("SELECT DISTINCT unit FROM people WHERE unit IS NOT NULL")
        return [r[0] for r in rows]


    async def merge(self, from_id: int, into_id: int) -> None:
        """Make two person rows one: everything that points at ``from_id`` points at ``into_id``.

        Every column named ``person_id``, ``reporter_id``, ``actor_id`` or ``member_id`` in any table
        is moved, so capabilities that keep people in their own tables follow along.
        """
        self.forget()
        tables = [r[0] for r in await self._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = [r[1] for r in await self._all(f"PRAGMA table_info({table})")]
            for column in columns:
                if column in ("person_id", "reporter_id", "actor_id", "member_id"):
                    await self._run(f"UPDATE OR IGNORE {table} SET {column} = ? WHERE {column} = ?",
                                    (into_id, from_id))
                    # rows left behind would have duplicated one of into_id's (a unique key)
                    await self._run(f"DELETE FROM {table} WHERE {column} = ?", (from_id,))
        await self._run(
            "UPDATE people SET building = COALESCE(building, (SELECT building FROM people "
            "WHERE id = ?)), unit = COALESCE(unit, (SELECT unit FROM people WHERE id = ?)) "
            "WHERE id = ?", (from_id, from_id, into_id))


@repository("identities")
class Identities(Repo):
    async def link(self, platform: str, external_id: str, person_id: int, now: float | None) -> None:
        await self._run(
            "INSERT INTO identities (platform, external_id, person_id, last_seen) VALUES (?,?,?,?) "
            "ON CONFLICT(platform, external_id) DO UPDATE SET person_id = excluded.person_id",
            (platform, external_id, person_id, now))

    async def seen(self, platform: str, external_id: str, now: float) -> None:
        await self._run("UPDATE identities SET last_seen = ? WHERE platform = ? AND external_id = ?",
                        (now, platform, external_id))

    async def of_person(self, person_id: int) -> list[tuple[str, str, float | None]]:
        """(platform, external id, last seen) of a person, most recently seen first."""
        rows = await self._all(
            "SELECT platform, external_id, last_seen FROM identities WHERE person_id = ? "
            "ORDER BY COALESCE(last_seen, 0) DESC, platform", (person_id,))
        return [(r[0], r[1], r[2]) for r in rows]


@dataclass(frozen=True, slots=True)
class Prompt:
    kind: str
    payload: dict


@repository("prompts")
class Prompts(Repo):
    """A question the bot asked a person in a chat, waiting for their plain-text reply."""

    async def ask(self, person_id: int, platform: str, chat_id: str, kind: str, payload: dict,
                  expires_at: float) -> None:
        await self._run(
            "INSERT OR REPLACE INTO prompts VALUES (?, ?, ?, ?, ?, ?)",
            (person_id, platform, chat_id, kind, json.dumps(payload, ensure_ascii=False),
             expires_at))

    async def mention(self, text: str, now: float) -> bool:
        """Whether a question still waiting for its answer carries ``text`` (a stored photo's name)."""
        return await self._value(
            "SELECT 1 FROM prompts WHERE expires_at > ? AND instr(payload, ?) > 0 LIMIT 1",
            (now, text)) is not None

    async def pending(self, person_id: int, platform: str, chat_id: str, now: float) -> Prompt | None:
        row = await self._one(
            "SELECT kind, payload FROM prompts WHERE person_id = ? AND platform = ? AND chat_id = ? "
            "AND expires_at > ?", (person_id, platform, chat_id, now))
        return None if row is None else Prompt(row[0], json.loads(row[1]))

    async def done(self, person_id: int, platform: str, chat_id: str) -> None:
        await self._run("DELETE FROM prompts WHERE person_id = ? AND platform = ? AND chat_id = ?",
                        (person_id, platform, chat_id))
