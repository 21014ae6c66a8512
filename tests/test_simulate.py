"""The simulated compound, small: three days through the real core, database and dispatcher, with a
restart.  Nothing may be orphaned, nothing sent twice, and every report the bot acknowledged in a
group must exist (the 30-day run is `linli simulate --days 30 --seed 1`, see docs/bench-results.md)."""

from __future__ import annotations

from bot.simulate import Plan, Simulation, format_report


async def test_three_simulated_days(tmp_path) -> None:
    plan = Plan(days=3, seed=1, residents=1500, reports_per_day=50, restarts=2)
    report = await Simulation(plan, tmp_path / "sim.db").run()
    text = format_report(report, plan.seed)
    assert report.tickets > 100, text
    assert report.restarts == 2, text
    assert report.orphaned == [], text
    assert report.duplicates == 0, text
    assert report.acks_seen == report.tickets and not report.acks_missing, text
    assert report.undelivered == 0, text
    assert report.privacy_leaks == 0, text
    assert report.told_outcome == report.with_outcome, text
    assert report.escalated > 0 and report.escalated_handled > 0, text
    assert report.no_building > 0, text  # some never say which building: those stay accountable too
    assert report.promise_kept == report.due_for_ack, text  # 件件有回音: every report, 100%
    assert report.broadcasts_due > 0 and report.broadcasts_sent == report.broadcasts_due, text
    assert report.broadcasts_extra == 0, text
    # the group footprint is counted and printed beside the figure before (issue 13 §7)
    assert 0 < report.group_messages < report.resident_commands, text
    assert "group messages per resident command" in text, text
