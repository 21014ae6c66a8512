"""Retention: the tables that only grew are pruned to what [retention] states, in short batches;
recent de-duplication, waiting messages, tickets and their history are never touched."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from bot.config import ConfigError, RetentionSettings, load_config
from bot.messages import Outbound
from handlers.housekeeping import prune
from tests.harness import EXAMPLE_CONFIG, Compound

DAY = 86400.0


async def open_compound(tmp_path, **retention) -> Compound:
    config = load_config(EXAMPLE_CONFIG)
    if retention:
        config = config.model_copy(update={"retention": RetentionSettings(**retention)})
    return await Compound.open(tmp_path, config=config)


async def counts(compound: Compound) -> dict[str, int]:
    async with compound.core.db.read() as tx:
        return await tx.retention.counts()


async def value(compound: Compound, sql: str) -> int:
    async with compound.core.db.read() as tx:
        return await tx.retention._value(sql)


def waiting_message(address: str) -> Outbound:
    # a platform nobody serves in the test: the row stays pending
    return Outbound(platform="telegram", address=address, kind="private", text="waiting", key="x")


async def test_old_rows_go_recent_ones_stay_and_waiting_messages_tickets_and_history_never(tmp_path):
    compound = await open_compound(tmp_path)
    try:
        await compound.say("b3", "alice", "报修 3栋电梯坏了")
        now = compound.clock.now().timestamp()
        async with compound.core.db.transaction() as tx:
            await tx.outbox.add(waiting_message("1"), now)  # pending, never sent
            held = await tx.outbox.add(waiting_message("2"), now)
            await tx.outbox.hold(held, "blocked the bot")
            failed = await tx.outbox.add(waiting_message("3"), now)
            await tx.outbox.give_up(failed, "chat not found")

        async def of_day_0() -> dict[str, int]:  # the rows written on day 0
            return {
                "inbound": await value(compound, f"SELECT COUNT(*) FROM inbound WHERE received_at <= {now}"),
                "finished": await value(compound, "SELECT COUNT(*) FROM outbox WHERE status IN "
                                                  f"('sent', 'failed') AND created_at <= {now}"),
                "waiting": await value(compound, "SELECT COUNT(*) FROM outbox WHERE status IN "
                                                 f"('pending', 'held') AND created_at <= {now}"),
                "audit": await value(compound, f"SELECT COUNT(*) FROM audit WHERE at <= {now}"),
                "tickets": await value(compound, "SELECT COUNT(*) FROM tickets"),
                "events": await value(compound, f"SELECT COUNT(*) FROM ticket_events WHERE at <= {now}"),
            }

        start = await of_day_0()
        assert start["inbound"] == 1 and start["finished"] >= 3 and start["waiting"] == 2
        assert start["audit"] >= 1 and start["tickets"] == 1 and start["events"] >= 1

        await compound.advance(timedelta(days=13))  # within every window: nothing goes
        assert await of_day_0() == start
        await compound.advance(timedelta(days=2))  # 15 days: alice's message id goes, nothing else
        await compound.say("dm", "bob", "帮助")  # a recent message, kept
        assert await of_day_0() == start | {"inbound": 0}
        assert (await counts(compound))["inbound"] == 1  # bob's

        await compound.advance(timedelta(days=16))  # 31 days: sent and failed rows of day 0 go
        assert await of_day_0() == start | {"inbound": 0, "finished": 0}

        await compound.advance(timedelta(days=700))  # two years: the audit log of day 0 goes
        assert await of_day_0() == start | {"inbound": 0, "finished": 0, "audit": 0}
        assert (await counts(compound))["inbound"] == 0  # bob's went too
    finally:
        await compound.close()


async def test_a_redelivered_recent_message_files_no_second_ticket(tmp_path):
    compound = await open_compound(tmp_path)
    try:
        first = await compound.say("b3", "alice", "报修 3栋电梯坏了", message_id="tg-77")
        assert first.keys_to("alice") == ["tickets.acknowledged"]
        for days in (1, 6, 6):  # redelivered up to 13 days later, prunes running in between
            await compound.advance(timedelta(days=days))
            again = await compound.say("b3", "alice", "报修 3栋电梯坏了", message_id="tg-77")
            assert len(again) == 0
        assert await value(compound, "SELECT COUNT(*) FROM tickets") == 1
        await compound.advance(timedelta(days=2))  # past inbound_days: the id is forgotten
        assert (await counts(compound))["inbound"] == 0
    finally:
        await compound.close()


async def test_a_backlog_is_pruned_in_bounded_batches_over_several_ticks(tmp_path):
    compound = await open_compound(tmp_path, batch_size=100, batches_per_tick=5)
    core = compound.core
    try:
        await compound.say("dm", "bob", "帮助")  # the first pass ran: nothing old yet
        old = compound.clock.now().timestamp() - 20 * DAY
        async with core.db.transaction() as tx:
            for i in range(2000):
                assert await tx.inbound.claim("console", "b3", f"old-{i}", old + i, "")
        assert (await counts(compound))["inbound"] == 2001

        transactions = []
        real = core.db.transaction

        @asynccontextmanager
        async def counted():
            transactions.append(1)
            async with real() as tx:
                yield tx

        core.db.transaction = counted
        try:
            assert await prune(core, compound.clock.now()) is None  # not an hour since the last pass
            compound.clock.advance(timedelta(hours=1))
            ticks = []
            while True:
                transactions.clear()
                pruned = await prune(core, compound.clock.now())
                assert len(transactions) <= 5 + 1  # five batches, and the note of the pass
                ticks.append(pruned["inbound"])
                if pruned["inbound"] < 500:
                    break
                compound.clock.advance(timedelta(seconds=30))  # the next tick goes on at once
        finally:
            core.db.transaction = real
        assert ticks == [500, 500, 500, 500, 0]
        assert (await counts(compound))["inbound"] == 1  # bob's, recent
        assert await prune(core, compound.clock.now()) is None  # done: the next pass in an hour
        compound.clock.advance(timedelta(hours=1))
        assert await prune(core, compound.clock.now()) == {"inbound": 0, "outbox": 0, "audit": 0,
                                                            "links": 0}
    finally:
        await compound.close()


async def test_audit_zero_keeps_the_audit_log_forever(tmp_path):
    compound = await open_compound(tmp_path, audit_days=0)
    try:
        await compound.say("b3", "alice", "报修 3栋电梯坏了")
        audit = (await counts(compound))["audit"]
        await compound.advance(timedelta(days=3000))
        assert (await counts(compound))["audit"] >= audit > 0
        assert (await counts(compound))["inbound"] == 0
    finally:
        await compound.close()


def test_defaults_when_the_section_is_absent(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text("[compound]\nname = 'x'\n", encoding="utf-8")
    retention = load_config(path).retention
    assert (retention.inbound_days, retention.outbox_days, retention.audit_days) == (14, 30, 730)
    assert retention.batch_size <= 500


@pytest.mark.parametrize(("text", "expected"), [
    ("inbound_days = 0", "retention.inbound_days: must be a whole number of at least 1, not 0"),
    ("outbox_days = -3", "retention.outbox_days: must be a whole number of at least 1, not -3"),
    ("outbox_days = 'a month'", "retention.outbox_days: must be a whole number of at least 1"),
    ("inbound_days = 1.5", "retention.inbound_days: must be a whole number of at least 1"),
    ("audit_days = -1", "retention.audit_days: must be a whole number of days (0: keep forever)"),
    ("audit_days = 10", "retention: audit_days = 10 is shorter than outbox_days = 30"),
    ("inbound_days = 400\naudit_days = 365", "audit_days = 365 is shorter than inbound_days = 400"),
    ("batch_size = 10000", "retention.batch_size: at most 500 rows a batch"),
    ("every = '0m'", "retention.every: must be a positive duration"),
    ("keep_days = 3", "retention.keep_days: unknown key"),
])
def test_bad_retention_is_named(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(f"[retention]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_audit_zero_with_long_other_windows_is_fine(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text("[retention]\ninbound_days = 60\noutbox_days = 90\naudit_days = 0\n", encoding="utf-8")
    assert load_config(path).retention.audit_days == 0


async def test_every_query_of_the_digest_is_an_index_search_not_a_scan_of_history(compound):
    """The weekly digest's cost follows the week, not the whole history: no query of it reads a table
    whole (SQLite plans the same without statistics, so a small database shows the plan of a big one)."""
    from bot.digest import gather, week_before, week_bounds

    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    await compound.advance(timedelta(days=7))
    seen: list[str] = []
    async with compound.core.db.read() as tx:
        conn = tx.conn._conn
        conn.set_trace_callback(seen.append)  # each statement with its values
        try:
            start, end = week_bounds(week_before(compound.clock.now()), compound.config.tz)
            await gather(compound.config, tx, start, end, 3)
        finally:
            conn.set_trace_callback(None)
        selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
        assert len(selects) > 10
        for sql in selects:
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            assert not [step for step in plan if step.startswith("SCAN")], (sql, plan)
