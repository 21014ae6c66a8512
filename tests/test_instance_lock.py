"""One ``linli run`` / ``linli console`` per database (``<db>.lock``, bot/instance.py).

Real processes: a first ``linli console`` is kept alive reading its standard input; a second one (and
a ``linli run``) on the same database refuses, naming the first's pid and command; once the first is
killed with SIGKILL (no chance to clean up: its lock file stays, with its pid) a new one starts.
Read-only commands and an App built directly (tests, ``linli simulate``) take no lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.instance import AlreadyRunning, hold, holder, lock_path
from tests.harness import EXAMPLE_CONFIG, ROOT, Compound

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def linli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(EXAMPLE_CONFIG)],
                          input=stdin, capture_output=True, text=True, timeout=20, cwd=ROOT, env=ENV)


def start_console(db: Path) -> subprocess.Popen:
    """``linli console --db`` that stays up reading its standard input, once it holds the database."""
    proc = subprocess.Popen([sys.executable, "-m", "bot", "console", "--db", str(db), "--config",
                             str(EXAMPLE_CONFIG)], cwd=ROOT, env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("# ready?\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    line = ""
    while "> # ready?" not in line:
        assert time.monotonic() < deadline, "linli console did not start"
        line = proc.stdout.readline()
        assert line or proc.poll() is None, f"linli console ended early: {proc.stderr.read()}"
    return proc


def test_a_second_console_or_run_on_the_same_database_refuses(tmp_path):
    db = tmp_path / "linli.db"
    first = start_console(db)
    try:
        written = lock_path(db).read_text(encoding="utf-8").splitlines()
        assert written[0] == str(first.pid)
        assert "console" in written[1] and str(db) in written[1]

        for command in ("console", "run"):
            started = time.monotonic()
            second = linli(command, "--db", str(db), stdin="b3 alice: 报修 3栋电梯坏了\n")
            assert time.monotonic() - started < 15
            assert second.returncode == 1, second.stderr
            assert "Traceback" not in second.stderr
            lines = [line for line in second.stderr.splitlines() if line.startswith("linli")]
            assert lines == [
                f"linli {command}: {db} is in use by process {first.pid} ({written[1]}): only one "
                f"`linli run` or `linli console` may use a database at a time. Stop that one "
                f"first, or give this one another --db."]
            assert "报修" not in second.stdout

        # commands that only read still work while the bot holds the database
        exported = linli("export", "tickets", "--since", "2026-01-01", "--db", str(db))
        assert exported.returncode == 0, exported.stderr
        assert linli("db", "backup", str(tmp_path / "copy.db"), "--db", str(db)).returncode == 0
        # … and restore refuses, naming the holder
        refused = linli("db", "restore", str(tmp_path / "copy.db"), "--db", str(db))
        assert refused.returncode == 1 and f"in use by process {first.pid}" in refused.stderr
        assert holder(db) == (first.pid, written[1])
    finally:
        first.send_signal(signal.SIGKILL)  # no clean-up: only the kernel lets the lock go
        first.communicate(timeout=30)
    assert lock_path(db).exists()  # the dead process's pid is still written there …
    assert holder(db) is None  # … but nobody holds the lock

    again = linli("console", "--db", str(db), stdin="b3 alice: 报修 3栋电梯坏了\n")
    assert again.returncode == 0, again.stderr
    assert "[dm alice] ✅ 已收到报修 #1" in again.stdout
    assert not lock_path(db).exists()  # a process that stops normally leaves nothing behind


def test_the_lock_in_one_process(tmp_path):
    db = tmp_path / "x.db"
    lock_path(db).write_text("424242\nlinli run (long gone)\n", encoding="utf-8")  # a stale file
    with hold(db, ["linli", "run"]) as lock:
        assert lock.held
        assert lock_path(db).read_text(encoding="utf-8") == f"{os.getpid()}\nlinli run\n"
        with pytest.raises(AlreadyRunning) as refused:
            hold(db)  # another open file description: refused even in the same process
        assert refused.value.pid == os.getpid() and refused.value.command == "linli run"
        assert holder(db) == (os.getpid(), "linli run")
    assert not lock.held and holder(db) is None and not lock_path(db).exists()
    hold(db).release()  # free again


async def test_an_app_built_directly_takes_no_lock(tmp_path):
    """Tests and ``linli simulate`` assemble App themselves: unaffected by a held lock."""
    with hold(tmp_path / "linli.db", ["linli", "run"]):
        compound = await Compound.open(tmp_path)
        try:
            sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
            assert "#1" in sent.to("alice")[0]
        finally:
            await compound.close()
