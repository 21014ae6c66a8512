"""The benchmark code paths, tiny and fast, so ``python -m bench`` cannot rot between runs.
(No figures are checked here: floors belong to the benchmark run, not to timed tests.)"""

from __future__ import annotations

import asyncio

from bench import common, p1_core, p3_broadcast, p4_p6_process, p5_scale, p7_group_replies, p9_board


def test_core_throughput_paths(tmp_path) -> None:
    rate, mix = asyncio.run(p1_core.core_run(tmp_path / "core.db", 60, warmup=20))
    assert rate > 0 and sum(mix.counts.values()) == 80
    hops, sql = asyncio.run(p1_core.hop_count(tmp_path / "hops.db", 20))
    # the write lock is taken on the loop when it is free: no trips to aiosqlite's thread at all
    # (one only when another process holds the lock, or for the WAL checkpoint; storage/db.py)
    assert 0 <= hops < 0.5 and sql >= 0


def test_core_against_its_raw_replica(tmp_path) -> None:
    # the replica replays Linli's recorded statements and must end with the same rows (else it raises)
    measured = asyncio.run(p1_core.p1_measure(tmp_path, 40, 1, warmup=10))
    assert measured["core"][0] > 0 and measured["replica"][0] > 0
    counts = measured["statements"]
    assert counts["per_command"] > 5 and counts["transactions_per_command"] == 1
    assert counts["example"]["报修"][:3] == ["PRAGMA busy_timeout=0", "BEGIN IMMEDIATE",
                                           "PRAGMA busy_timeout=30000"]  # on the loop, never waiting


def test_memory_of_a_fresh_process_touching_tickets(tmp_path) -> None:
    path = asyncio.run(p4_p6_process.generate(tmp_path / "p4.db", 500, residents=300))
    seen = p4_p6_process.touched_rss(common.write_config(tmp_path), path, settle=0.1)
    assert seen["read"] == 500 and seen["touched"] >= seen["idle"] > 0
    assert 0 < common.python_peak_rss_mb("pass") < 40  # its own peak, not the parent's


def test_scale_queries_and_table(tmp_path) -> None:
    path = asyncio.run(p4_p6_process.generate(tmp_path / "small.db", 2_000, residents=300))
    times = asyncio.run(p5_scale.measure(path, 5))
    assert all(times[key] for key in ("open", "mine", "digest"))
    asyncio.run(common.register_units(path, 300))
    replies = asyncio.run(p5_scale.replies(path, 3))  # each answered with its list (else it raises)
    assert set(replies) == {(kind, chat) for kind, chat, _ in p5_scale.REPLIES}
    assert all(len(values) == 3 for values in replies.values())
    rows = [common.Row("x", 2.0, "ms", 1.0, "base", "≤10 ms", True),
            common.Row("y", None, "s", note="not measured: why")]
    text = common.table(rows)
    assert "2.00×" in text and "not measured" in text


def test_group_replies_with_registered_units(tmp_path) -> None:
    result = asyncio.run(p7_group_replies.measure(tmp_path, residents=400, tickets=2_000,
                                                  unit_counts=(40, 400), rounds=1, span_days=30))
    cpu = result["per_round"]["cpu"]  # every command was answered as expected (else it raises)
    assert set(cpu) == set(result["per_round"]["wall"]) == {0, 40, 400}
    assert result["distinct"][0] == 0 < result["distinct"][40] < result["distinct"][400]
    value, kinds = p7_group_replies.figures(cpu[400])
    assert value > 0 and set(kinds) == {"mine", "open", "progress"}


def test_broadcast_within_limits(tmp_path) -> None:
    result = asyncio.run(p3_broadcast.broadcast(tmp_path, speed=50.0))
    assert result["delivered"] == 220 and result["violations"] == 0


def test_linli_run_headless_starts(tmp_path) -> None:
    rows = p4_p6_process.cold_start(tmp_path, quick=True)
    assert rows[0].value is not None and rows[0].value > 0


def test_board_pages_and_their_raw_sql(tmp_path) -> None:
    path = asyncio.run(p4_p6_process.generate(tmp_path / "board.db", 2_000, residents=300))
    asyncio.run(common.register_units(path, 300))
    times = asyncio.run(p9_board.measure(path, 3))  # each page checked (else it raises)
    assert all(len(times[key]) == 3 for key in ("list", "list_redacted", "ticket", "list_sql",
                                                "ticket_sql"))
