"""The state of a compound's database, for "nothing changed" checks (tests/test_roles.py,
tests/test_fuzz.py).

A message that is refused still leaves a trace that is not a change of state: the platform message
is recorded as received (``inbound``, for de-duplication), the answer is in the ``outbox``, a refusal
for lack of a role is audited (``audit`` rows with action ``denied``), the sender is marked as seen
(``identities.last_seen``) and the language they wrote in is remembered (``people.lang``, so that
answers stay in their language).  :func:`state` leaves out exactly those; everything else — every
table other capabilities add included — must be identical.
"""

from __future__ import annotations

from tests.harness import Compound

TRACES = {"inbound", "outbox"}
IGNORED_COLUMNS = {("identities", "last_seen"), ("people", "lang")}


async def state(compound: Compound) -> dict[str, list[tuple]]:
    """Every row of every table, minus the traces a refused message may leave (see above)."""
    out: dict[str, list[tuple]] = {}
    async with compound.app.db.read() as tx:
        tables = [r[0] for r in await tx.audit._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in sorted(set(tables) - TRACES):
            rows = await tx.audit._all(f"SELECT * FROM {table}")
            keep = [i for i, name in enumerate(rows[0].keys() if rows else ())
                    if (table, name) not in IGNORED_COLUMNS]
            values = [tuple(row[i] for i in keep) for row in rows]
            if table == "audit":
                values = [v for v in values if v[4] != "denied"]
            out[table] = sorted(values, key=repr)
    return out


async def denied_rows(compound: Compound) -> list[dict]:
    async with compound.app.db.read() as tx:
        return [dict(r) for r in await tx.audit._all(
            "SELECT * FROM audit WHERE action = 'denied' ORDER BY id")]


def changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, object]:
    """What differs, table by table (for assertion messages)."""
    diff = {}
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, [])), set(after.get(table, []))
        if old != new:
            diff[table] = {"gone": sorted(old - new, key=repr)[:3],
                           "new": sorted(new - old, key=repr)[:3]}
    return diff
