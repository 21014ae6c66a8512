"""The console adapter as a newcomer uses it: `linli console`, lines in, messages out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.harness import EXAMPLE_CONFIG, ROOT


def linli(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, cwd=cwd or ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_script_on_stdin_prints_every_outbound_message_and_exits_0(tmp_path):
    script = ":clock 2026-12-01 09:00\nb3 alice: 报修 3栋电梯坏了\ndm wang: 受理 1 马上到\n"
    result = linli("console", "--db", str(tmp_path / "c.db"), stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "> b3 alice: 报修 3栋电梯坏了" in out
    assert "[dm alice] ✅ 已收到报修 #1" in out and "[b3]" not in out  # the receipt is hers
    assert "[dm wang] 🔔 新报修 #1｜3栋｜电梯\n  报修人：alice" in out  # continuation indented
    assert "[dm alice] 📋 报修 #1 已受理（王师傅）。备注：马上到" in out


def test_state_persists_between_runs_and_bad_lines_are_explained(tmp_path):
    db = str(tmp_path / "c.db")
    linli("console", "--db", db, stdin="b3 alice: 报修 3栋电梯坏了\n")
    result = linli("console", "--db", db,
                   stdin="dm alice: 我的报修\nnowhere bob: 帮助\njust words\n:warp 9\n")
    assert result.returncode == 0, result.stderr
    assert "#1 3栋 【待受理】" in result.stdout
    assert "! unknown chat 'nowhere'" in result.stdout
    assert "! unknown console command :warp" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_script_file_and_defaults_from_the_current_folder(tmp_path):
    (tmp_path / "config.example.toml").write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"),
                                                  encoding="utf-8")
    (tmp_path / "demo.txt").write_text("b3 bob: /help\n", encoding="utf-8")
    result = linli("console", "--script", "demo.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[b3] 👋 I'm the neighbourhood assistant" in result.stdout
    assert (tmp_path / "linli.db").exists()


def test_a_crash_between_commit_and_send_loses_nothing(tmp_path):
    db = str(tmp_path / "crash.db")
    child = subprocess.run([sys.executable, str(ROOT / "tests" / "crash_child.py"),
                            str(EXAMPLE_CONFIG), db], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "not reached" not in child.stdout
    result = linli("console", "--db", db, stdin="# after the restart\n")
    assert result.returncode == 0, result.stderr
    assert "[dm alice] ✅ 已收到报修 #1（3栋·电梯）" in result.stdout
    assert "[dm wang] 🔔 新报修 #1" in result.stdout
    again = linli("console", "--db", db, stdin="# and once more\n")
    assert "已收到报修" not in again.stdout  # delivered once, marked sent
