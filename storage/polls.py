"""Polls (投票): the polls, who voted, and what was chosen — kept apart (see handlers/polls.py).

``poll_voters`` says which household (or person) voted, never what; ``poll_ballots`` says what was
chosen under a ballot key: the voter key itself for an open poll, or for a secret poll (不公开)
``HMAC-SHA256(secret_key, voter)`` under the poll's random ``secret_key``, which is dropped when the
poll closes.  Neither table has a time or a rowid (WITHOUT ROWID: rows sit in key order), so the
order rows were written in does not pair a voter with a ballot either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from storage.db import Repo, repository


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    author_id: int
    question: str
    options: tuple[str, ...]
    buildings: tuple[str, ...]  # () = the whole compound
    chats: tuple[str, ...]
    per_household: bool
    secret: bool
    lang: str
    created_at: float
    closes_at: float
    remind_at: float | None
    status: str  # "open" | "closed"
    closed_at: float | None
    closed_by: int | None


@dataclass(frozen=True, slots=True)
class Voter:
    voter: str
    building: str | None
    unit: str | None
    person_id: int


def _poll(row) -> Poll | None:
    if row is None:
        return None
    return Poll(row["id"], row["author_id"], row["question"], tuple(json.loads(row["options"])),
                tuple(json.loads(row["buildings"])), tuple(json.loads(row["chats"])),
                bool(row["per_household"]), bool(row["secret"]), row["lang"], row["created_at"],
                row["closes_at"], row["remind_at"], row["status"], row["closed_at"],
                row["closed_by"])


_COLUMNS = ("id, author_id, question, options, buildings, chats, per_household, secret, lang, "
            "created_at, closes_at, remind_at, status, closed_at, closed_by")  # never secret_key


def ballot_key(secret_key: bytes, voter: str) -> str:
    """A secret poll's ballot key for a voter: only whoever holds the poll's key can find it."""
    return hmac.new(secret_key, voter.encode("utf-8"), hashlib.sha256).hexdigest()


@repository("polls")
class Polls(Repo):
    async def create(self, *, author_id: int, question: str, options: list[str],
                     buildings: list[str], chats: list[str], per_household: bool, secret: bool,
                     lang: str, now: float, closes_at: float, remind_at: float | None) -> Poll:
        cursor = await self._run(
            "INSERT INTO polls (author_id, question, options, buildings, chats, per_household, "
            "secret, secret_key, lang, created_at, closes_at, remind_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (author_id, question, json.dumps(options, ensure_ascii=False), json.dumps(buildings),
             json.dumps(chats), int(per_household), int(secret),
             secrets.token_bytes(32) if secret else None, lang, now, closes_at, remind_at))
        return await self.get(cursor.lastrowid)

    async def get(self, poll_id: int) -> Poll | None:
        return _poll(await self._one(f"SELECT {_COLUMNS} FROM polls WHERE id = ?", (poll_id,)))

    async def created_between(self, since: float | None, until: float | None) -> list[Poll]:
        """Polls started in ``[since, until)`` (either open-ended), oldest first (an export)."""
        rows = await self._all(f"SELECT {_COLUMNS} FROM polls WHERE created_at >= ? AND "
                               "created_at < ? ORDER BY id",
                               (since if since is not None else float("-inf"),
                                until if until is not None else float("inf")))
        return [_poll(r) for r in rows]

    async def due(self, column: str, before: float) -> list[Poll]:
        """Open polls whose ``closes_at`` or ``remind_at`` is at or before ``before``."""
        if column not in ("closes_at", "remind_at"):
            raise ValueError(column)
        rows = await self._all(f"SELECT {_COLUMNS} FROM polls WHERE status = 'open' AND "
                               f"{column} <= ? ORDER BY {column}, id", (before,))
        return [_poll(r) for r in rows]

    async def upcoming_moments(self) -> list[float]:
        """The deadlines and reminder moments still ahead (to wake the scheduler for)."""
        rows = await self._all("SELECT closes_at FROM polls WHERE status = 'open' UNION "
                               "SELECT remind_at FROM polls WHERE status = 'open' AND "
                               "remind_at IS NOT NULL")
        return [r[0] for r in rows]

    async def reminded(self, poll_id: int) -> bool:
        """Mark the captains' reminder as done; False if it already was (never twice)."""
        cursor = await self._run("UPDATE polls SET remind_at = NULL WHERE id = ? AND "
                                 "remind_at IS NOT NULL", (poll_id,))
        return cursor.rowcount == 1

    async def close(self, poll_id: int, now: float, by: int | None) -> bool:
        """Close a poll and drop its secret key; False if it was closed already (never twice)."""
        cursor = await self._run(
            "UPDATE polls SET status = 'closed', closed_at = ?, closed_by = ?, remind_at = NULL, "
            "secret_key = NULL WHERE id = ? AND status = 'open'", (now, by, poll_id))
        return cursor.rowcount == 1

    # --- votes ---------------------------------------------------------------------------------
    async def _ballot(self, poll_id: int, voter: str) -> str | None:
        row = await self._one("SELECT secret, secret_key, status FROM polls WHERE id = ?",
                              (poll_id,))
        if row is None or row["status"] != "open":
            return None
        if row["secret"]:
            return ballot_key(row["secret_key"], voter)
        return voter

    async def voter(self, poll_id: int, voter: str) -> Voter | None:
        row = await self._one("SELECT voter, building, unit, person_id FROM poll_voters "
                              "WHERE poll_id = ? AND voter = ?", (poll_id, voter))
        return None if row is None else Voter(row[0], row[1], row[2], row[3])

    async def choice(self, poll_id: int, voter: str) -> int | None:
        """The option a voter chose, for an open (not secret) poll only; None otherwise."""
        row = await self._one("SELECT secret FROM polls WHERE id = ?", (poll_id,))
        if row is None or row[0]:
            return None
        return await self._value("SELECT option FROM poll_ballots WHERE poll_id = ? AND "
                                 "ballot = ?", (poll_id, voter))

    async def vote(self, poll_id: int, voter: str, option: int, *, building: str | None,
                   unit: str | None, person_id: int) -> Voter | None:
        """Record (or change) a voter's choice; the voter row as it was before, if any."""
        ballot = await self._ballot(poll_id, voter)
        if ballot is None:
            raise ValueError(f"poll {poll_id} is not open")
        before = await self.voter(poll_id, voter)
        await self._run(
            "INSERT INTO poll_voters (poll_id, voter, building, unit, person_id) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT(poll_id, voter) DO UPDATE SET person_id = "
            "excluded.person_id, building = excluded.building, unit = excluded.unit",
            (poll_id, voter, building, unit, person_id))
        await self._run(
            "INSERT INTO poll_ballots (poll_id, ballot, option) VALUES (?, ?, ?) "
            "ON CONFLICT(poll_id, ballot) DO UPDATE SET option = excluded.option",
            (poll_id, ballot, option))
        return before

    # --- counting ------------------------------------------------------------------------------
    async def counts(self, poll_id: int) -> dict[int, int]:
        """Votes per option index."""
        rows = await self._all("SELECT option, COUNT(*) FROM poll_ballots WHERE poll_id = ? "
                               "GROUP BY option", (poll_id,))
        return {r[0]: r[1] for r in rows}

    async def counts_by_building(self, poll_id: int) -> dict[str | None, dict[int, int]]:
        """Votes per building and option — open polls only (a secret ballot has no voter)."""
        rows = await self._all(
            "SELECT v.building, b.option, COUNT(*) FROM poll_ballots b JOIN polls p ON "
            "p.id = b.poll_id AND p.secret = 0 JOIN poll_voters v ON v.poll_id = b.poll_id AND "
            "v.voter = b.ballot WHERE b.poll_id = ? GROUP BY v.building, b.option", (poll_id,))
        out: dict[str | None, dict[int, int]] = {}
        for building, option, count in rows:
            out.setdefault(building, {})[option] = count
        return out

    async def voters_by_building(self, poll_id: int) -> dict[str | None, tuple[int, int]]:
        """(voters, distinct households among them) per building."""
        rows = await self._all(
            "SELECT building, COUNT(*), COUNT(DISTINCT unit) FROM poll_voters WHERE poll_id = ? "
            "GROUP BY building", (poll_id,))
        return {r[0]: (r[1], r[2]) for r in rows}

    async def voted_households(self, poll_id: int) -> set[tuple[str, str]]:
        """(building, unit) of every registered household that voted (never what)."""
        rows = await self._all("SELECT DISTINCT building, unit FROM poll_voters WHERE poll_id = ? "
                               "AND building IS NOT NULL AND unit IS NOT NULL", (poll_id,))
        return {(r[0], r[1]) for r in rows}

    async def household_choices(self, poll_id: int) -> list[tuple[str, str, int]]:
        """(building, unit, option) per household — open polls only (a secret ballot has no
        voter), for the share of floor area behind each option."""
        rows = await self._all(
            "SELECT v.building, v.unit, b.option FROM poll_ballots b JOIN polls p ON "
            "p.id = b.poll_id AND p.secret = 0 JOIN poll_voters v ON v.poll_id = b.poll_id AND "
            "v.voter = b.ballot WHERE b.poll_id = ? AND v.building IS NOT NULL AND "
            "v.unit IS NOT NULL", (poll_id,))
        return [(r[0], r[1], r[2]) for r in rows]

    async def voted_units(self, poll_id: int, building: str) -> set[str]:
        rows = await self._all("SELECT DISTINCT unit FROM poll_voters WHERE poll_id = ? AND "
                               "building = ? AND unit IS NOT NULL", (poll_id, building))
        return {r[0] for r in rows}

    async def forget_words(self, platform: str, chat_id: str, message_id: str, text: str) -> None:
        """Replace the stored text of an inbound message (a secret vote's ``投票 3 A``) so that no
        table links the voter with the option; the row stays, so a redelivery is still ignored."""
        await self._run("UPDATE inbound SET text = ? WHERE platform = ? AND chat_id = ? AND "
                        "message_id = ?", (text, platform, chat_id, message_id))
