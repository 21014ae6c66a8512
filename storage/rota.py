"""Duty rotas (值班): members in rotation order, shifts, swaps, time away, broadcasts posted."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Repo, repository
from storage.interned import interned


@dataclass(frozen=True, slots=True)
class Rota:
    id: int
    key: str
    name: str
    building: str | None
    repeat: str | None
    minutes: int | None
    rotation: str
    next_index: int
    made_until: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Shift:
    id: int
    rota_id: int
    starts_at: float
    ends_at: float
    person_id: int | None
    status: str  # assigned, uncovered, cancelled
    released_by: int | None
    remind_at: float | None


@dataclass(frozen=True, slots=True)
class Swap:
    id: int
    shift_id: int
    other_shift_id: int | None
    from_id: int
    to_id: int
    status: str  # asked, accepted, done, declined, refused
    created_at: float
    decided_at: float | None


# Rows are selected in their dataclass's field order, so a row becomes an object positionally
# (Rota(*row)): no look-up by column name per field (值班 maps every rota on every question).
_ROTA_COLUMNS = ", ".join(Rota.__slots__)
_SHIFT_COLUMNS = ", ".join(Shift.__slots__)
_SWAP_COLUMNS = ", ".join(Swap.__slots__)
_ROTA_COLUMNS_OF_R = ", ".join(f"r.{f}" for f in Rota.__slots__)  # joined with rota_members
# 值班 reads every rota and some forty shifts on every question, mostly the rows it read last time
_known_rota = interned(Rota)
_known_shift = interned(Shift)


def _rota(row) -> Rota | None:
    """A rota from a row selected as ``_ROTA_COLUMNS``."""
    return None if row is None else Rota(*row)


def _shift(row) -> Shift | None:
    """A shift from a row selected as ``_SHIFT_COLUMNS``."""
    return None if row is None else Shift(*row)


def _swap(row) -> Swap | None:
    """A swap from a row selected as ``_SWAP_COLUMNS``."""
    return None if row is None else Swap(*row)


@repository("rota")
class Rotas(Repo):
    # --- rotas and members ---------------------------------------------------------------------
    async def ensure(self, key: str, name: str, building: str | None, now: float) -> Rota:
        """The rota with this key, created if it does not exist yet (name and building refreshed)."""
        rota = await self.by_key(key)
        if rota is not None and (rota.name, rota.building) == (name, building):
            return rota  # nothing to write: sweeps call this every tick
        await self._run(
            "INSERT INTO rotas (key, name, building, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET name = excluded.name, building = excluded.building",
            (key, name, building, now))
        return await self.by_key(key)

    async def keyed(self) -> dict[str, Rota]:
        """Every rota that has a key (the config's rotas), by key: one query."""
        rows = await self._all(f"SELECT {_ROTA_COLUMNS} FROM rotas WHERE key IS NOT NULL")
        return {row["key"]: _known_rota(row) for row in rows}

    async def by_key(self, key: str) -> Rota | None:
        return _rota(await self._one(f"SELECT {_ROTA_COLUMNS} FROM rotas WHERE key = ?", (key,)))

    async def get(self, rota_id: int) -> Rota | None:
        return _rota(await self._one(f"SELECT {_ROTA_COLUMNS} FROM rotas WHERE id = ?", (rota_id,)))

    async def named(self, name: str) -> Rota | None:
        return _rota(await self._one(
            f"SELECT {_ROTA_COLUMNS} FROM rotas WHERE lower(name) = lower(?) OR lower(key) = lower(?)",
            (name, name)))

    async def all(self) -> list[Rota]:
        return [_known_rota(r) for r in await self._all(f"SELECT {_ROTA_COLUMNS} FROM rotas ORDER BY id")]

    async def set_schedule(self, rota_id: int, repeat: str, minutes: int, rotation: str,
                           made_until: float) -> Rota:
        await self._run(
            "UPDATE rotas SET repeat = ?, minutes = ?, rotation = ?, next_index = 0, "
            "made_until = ? WHERE id = ?", (repeat, minutes, rotation, made_until, rota_id))
        return await self.get(rota_id)

    async def advance(self, rota_id: int, next_index: int, made_until: float) -> None:
        await self._run("UPDATE rotas SET next_index = ?, made_until = ? WHERE id = ?",
                        (next_index, made_until, rota_id))

    async def set_members(self, rota_id: int, person_ids: list[int]) -> None:
        await self._run("DELETE FROM rota_members WHERE rota_id = ?", (rota_id,))
        for position, person_id in enumerate(person_ids):
            await self._run("INSERT OR IGNORE INTO rota_members VALUES (?, ?, ?)",
                            (rota_id, position, person_id))

    async def members(self, rota_id: int) -> list[int]:
        rows = await self._all(
            "SELECT person_id FROM rota_members WHERE rota_id = ? ORDER BY position", (rota_id,))
        return [r[0] for r in rows]

    async def rotas_of(self, person_id: int) -> list[Rota]:
        rows = await self._all(
            f"SELECT {_ROTA_COLUMNS_OF_R} FROM rotas r JOIN rota_members m ON m.rota_id = r.id "
            "WHERE m.person_id = ? ORDER BY r.id", (person_id,))
        return [_rota(r) for r in rows]

    # --- shifts --------------------------------------------------------------------------------
    async def add_shift(self, rota_id: int, starts_at: float, ends_at: float,
                        person_id: int | None, remind_at: float | None,
                        by_rotation: bool = False) -> Shift | None:
        """A new shift (made by the rotation, or a one-off); None when the rota already has one
        starting then."""
        cursor = await self._run(
            "INSERT OR IGNORE INTO shifts (rota_id, starts_at, ends_at, person_id, status, "
            "remind_at, made_by_rotation) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rota_id, starts_at, ends_at, person_id,
             "assigned" if person_id is not None else "uncovered", remind_at, int(by_rotation)))
        if cursor.rowcount != 1:
            return None
        return await self.shift(cursor.lastrowid)

    async def drop_future(self, rota_id: int, after: float) -> list[int]:
        """Remove the rota's future shifts that its rotation made (before a new rotation is made):
        one-off shifts, and shifts someone swapped or took over, stay (uncovered ones go: the new
        rotation fills them).  Returns who had one of them."""
        uncovered = ("SELECT id FROM shifts WHERE rota_id = ? AND starts_at > ? "
                     "AND made_by_rotation = 1 AND person_id IS NULL")
        await self._run(f"DELETE FROM swaps WHERE shift_id IN ({uncovered}) "
                        f"OR other_shift_id IN ({uncovered})", (rota_id, after, rota_id, after))
        rows = await self._all(
            "DELETE FROM shifts WHERE rota_id = ? AND starts_at > ? AND made_by_rotation = 1 "
            "AND (person_id IS NULL OR (released_by IS NULL AND id NOT IN (SELECT shift_id FROM "
            "swaps UNION SELECT other_shift_id FROM swaps WHERE other_shift_id IS NOT NULL))) "
            "RETURNING person_id", (rota_id, after))
        return sorted({row[0] for row in rows if row[0] is not None})

    async def shift(self, shift_id: int) -> Shift | None:
        return _shift(await self._one(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE id = ?", (shift_id,)))

    async def shifts_between(self, start_ts: float, end_ts: float,
                             rota_ids: list[int] | None = None) -> list[Shift]:
        """Live shifts overlapping [start_ts, end_ts), earliest first."""
        if rota_ids is None:
            rows = await self._all(
                f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE status != 'cancelled' AND starts_at < ? "
                "AND ends_at > ? ORDER BY starts_at, rota_id", (end_ts, start_ts))
        else:
            marks = ",".join("?" * len(rota_ids)) or "NULL"
            rows = await self._all(
                f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE status != 'cancelled' AND starts_at < ? "
                f"AND ends_at > ? AND rota_id IN ({marks}) ORDER BY starts_at, rota_id",
                (end_ts, start_ts, *rota_ids))
        return [_known_shift(r) for r in rows]

    async def shifts_of(self, person_id: int, after: float, limit: int = 20) -> list[Shift]:
        """This person's shifts that have not ended, earliest first."""
        rows = await self._all(
            f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE person_id = ? AND status = 'assigned' "
            "AND ends_at > ? ORDER BY starts_at LIMIT ?", (person_id, after, limit))
        return [_shift(r) for r in rows]

    async def shifts_of_between(self, person_id: int, start_ts: float,
                                end_ts: float) -> list[Shift]:
        rows = await self._all(
            f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE person_id = ? AND status = 'assigned' "
            "AND starts_at >= ? AND starts_at < ? ORDER BY starts_at", (person_id, start_ts, end_ts))
        return [_shift(r) for r in rows]

    async def assign(self, shift_id: int, person_id: int) -> None:
        await self._run(
            "UPDATE shifts SET person_id = ?, status = 'assigned', released_by = NULL "
            "WHERE id = ?", (person_id, shift_id))

    async def release(self, shift_id: int, person_id: int) -> None:
        """The shift's person cannot do it: it is uncovered until someone takes it."""
        await self._run(
            "UPDATE shifts SET person_id = NULL, status = 'uncovered', released_by = ? "
            "WHERE id = ?", (person_id, shift_id))

    async def take(self, shift_id: int, person_id: int) -> bool:
        """Take an uncovered shift; False when someone was quicker."""
        cursor = await self._run(
            "UPDATE shifts SET person_id = ?, status = 'assigned', released_by = NULL "
            "WHERE id = ? AND status = 'uncovered'", (person_id, shift_id))
        return cursor.rowcount == 1

    async def due_reminders(self, now: float, limit: int = 200) -> list[Shift]:
        rows = await self._all(
            f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE remind_at IS NOT NULL AND remind_at <= ? "
            "ORDER BY remind_at, id LIMIT ?", (now, limit))
        return [_shift(r) for r in rows]

    async def reminded(self, shift_id: int) -> None:
        await self._run("UPDATE shifts SET remind_at = NULL WHERE id = ?", (shift_id,))

    async def shifts_covered_between(self, start_ts: float, end_ts: float,
                                     building: str | None = None) -> tuple[int, int]:
        """(covered, total) of the shifts starting in [start_ts, end_ts): of every rota, or of the
        rotas of one building."""
        if building is None:
            row = await self._one(
                "SELECT COALESCE(SUM(status = 'assigned'), 0), COUNT(*) FROM shifts "
                "WHERE status != 'cancelled' AND starts_at >= ? AND starts_at < ?",
                (start_ts, end_ts))
        else:
            row = await self._one(
                "SELECT COALESCE(SUM(s.status = 'assigned'), 0), COUNT(*) FROM shifts s "
                "JOIN rotas r ON r.id = s.rota_id WHERE s.status != 'cancelled' "
                "AND s.starts_at >= ? AND s.starts_at < ? AND r.building = ?",
                (start_ts, end_ts, building))
        return int(row[0]), int(row[1])

    # --- swaps ---------------------------------------------------------------------------------
    async def ask_swap(self, shift_id: int, other_shift_id: int | None, from_id: int, to_id: int,
                       now: float) -> Swap:
        cursor = await self._run(
            "INSERT INTO swaps (shift_id, other_shift_id, from_id, to_id, status, created_at) "
            "VALUES (?, ?, ?, ?, 'asked', ?)", (shift_id, other_shift_id, from_id, to_id, now))
        return await self.swap(cursor.lastrowid)

    async def swap(self, swap_id: int) -> Swap | None:
        return _swap(await self._one(f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE id = ?", (swap_id,)))

    async def open_swap_of(self, shift_id: int) -> Swap | None:
        """A swap of this shift still waiting for an answer or an approval."""
        return _swap(await self._one(
            f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE (shift_id = ? OR other_shift_id = ?) "
            "AND status IN ('asked', 'accepted') ORDER BY id LIMIT 1", (shift_id, shift_id)))

    async def decide_swap(self, swap_id: int, status: str, now: float, was: str) -> bool:
        """Move a swap from ``was`` to ``status``; False when it was not ``was`` any more."""
        cursor = await self._run(
            "UPDATE swaps SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
            (status, now, swap_id, was))
        return cursor.rowcount == 1

    # --- away ----------------------------------------------------------------------------------
    async def add_away(self, person_id: int, from_ts: float, to_ts: float, now: float) -> None:
        await self._run("INSERT INTO away (person_id, from_ts, to_ts, created_at) VALUES (?, ?, ?, ?)",
                        (person_id, from_ts, to_ts, now))

    async def is_away(self, person_id: int, starts_at: float, ends_at: float) -> bool:
        return bool(await self._value(
            "SELECT 1 FROM away WHERE person_id = ? AND from_ts < ? AND to_ts > ? LIMIT 1",
            (person_id, ends_at, starts_at)))

    # --- broadcasts ----------------------------------------------------------------------------
    async def claim_broadcast(self, rota_key: str, kind: str, due: float, now: float) -> bool:
        """Remember that this broadcast was posted; False when it already was."""
        cursor = await self._run("INSERT OR IGNORE INTO rota_broadcasts VALUES (?, ?, ?, ?)",
                                 (rota_key, kind, due, now))
        return cursor.rowcount == 1

    # --- uncovered shifts followed through -----------------------------------------------------
    async def uncovered_before(self, rota_id: int, after: float, until: float) -> list[Shift]:
        """The rota's uncovered shifts starting in (after, until], earliest first."""
        rows = await self._all(
            f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE rota_id = ? AND status = 'uncovered' "
            "AND starts_at > ? AND starts_at <= ? ORDER BY starts_at, id", (rota_id, after, until))
        return [_shift(r) for r in rows]

    async def claim_escalation(self, shift_id: int, level: str, starts_at: float) -> bool:
        """Remember that an uncovered shift went to ``level`` (coordinators, admin); False when it
        already did (kept in kv, so once however often the bot restarts)."""
        cursor = await self._run("INSERT OR IGNORE INTO kv VALUES (?, ?)",
                                 (f"rota.escalated:{shift_id}:{level}", str(starts_at)))
        return cursor.rowcount == 1

    async def forget_escalations(self, before: float) -> None:
        """Forget the escalations of shifts that started before ``before`` (kv stays small)."""
        await self._run("DELETE FROM kv WHERE key LIKE 'rota.escalated:%' AND CAST(value AS REAL) < ?",
                        (before,))
