"""The poll and notice scenarios of the README (docs/examples/poll.txt, notice.txt), in Chinese and
English, run as a newcomer runs them: ``linli console --script`` on a fresh database."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.harness import ROOT


def console(tmp_path, script: str) -> dict[str, list[str]]:
    """What the bot said after each input line: {input line: [output lines]} (in order)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(tmp_path / "demo.db"), "--script",
         str(ROOT / "docs" / "examples" / script)], capture_output=True, text=True, timeout=120,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    said: dict[str, list[str]] = {}
    current = ""
    for line in result.stdout.splitlines():
        if line.startswith("> "):
            current = line[2:]
            said.setdefault(current, [])
        else:
            said[current].append(line)
    return said


def chats(lines: list[str]) -> list[str]:
    """The chats the messages went to (``[b3]``, ``[dm alice]``), one per message."""
    return [m.group(1) for line in lines if (m := re.match(r"\[([^\]]+)\]", line))]


def test_the_poll_scenario_in_chinese_and_english(tmp_path):
    said = console(tmp_path, "poll.txt")
    started = said["dm chen: 发起投票 是否更换消防门？ 选项 同意、不同意、弃权 截止 12月4日 20:00 范围 3栋"]
    assert chats(started) == ["dm chen", "b3"]
    assert "  直接回复「投票 1 A」、「投票 1 B」、「投票 1 C」即可" in started
    # a vote typed in the group is answered privately; the group sees nothing
    assert chats(said["b3 alice: 投票 1 A"]) == ["dm alice"]
    # bob shares alice's unit: his vote replaces hers and both are told
    assert chats(said["dm bob: 投票 1 不同意"]) == ["dm bob", "dm alice"]
    assert "请先私聊我「登记 楼栋 房号」" in said["dm carol: 投票 1 A"][0]
    assert "  参与：1/2 户已登记住户（50%）" in said["dm alice: 投票结果 1"]
    assert "  3栋：1/2 户（50%） A 0、B 1、C 0" in said["dm chen: 投票结果 1"]
    # a day before: the captain, privately, the unit that has not voted
    reminder = said[":clock 2026-12-03 20:00"]
    assert chats(reminder) == ["dm wang"] and "还有 1 户没投：1505" in reminder[1]
    # at the deadline: the result in the group, with the chart
    result = said[":clock 2026-12-04 20:00"]
    assert chats(result) == ["b3"]
    assert "  B. 不同意：1 票（100%）▇▇▇▇▇▇▇▇▇▇" in result
    assert any(re.fullmatch(r"  \(photo poll-1\.png, \d+ KB\)", line) for line in result)
    assert "已经结束" in said["dm dave: 投票 1 A"][0]

    # English: a secret poll, per person, in building 7's group
    assert chats(said["dm chen: /poll Paint the lobby green? options yes, no until Dec 8 8pm "
                      "scope 7 per person secret"]) == ["dm chen", "b7"]
    recorded = said["dm frank: /vote 2 yes"][0]
    assert "is recorded" in recorded and "yes" not in recorded and "A." not in recorded
    assert "  2 people voted, from 2/2 registered households (100%)" in said["dm grace: /pollresult 2"]
    assert "Only the one who started poll #2" in said["dm zhao: /closepoll 2"][0]
    closed = said["dm chen: /closepoll 2"]
    assert chats(closed) == ["b7", "dm chen"]
    assert "  A. yes: 1 vote(s) (50%) ▇▇▇▇▇▁▁▁▁▁" in closed
    assert any(line.startswith("  (photo poll-2.png") for line in closed)


def test_the_notice_scenario_in_chinese_and_english(tmp_path):
    said = console(tmp_path, "notice.txt")
    posted = said["dm zhao: 通知确认 3栋 提醒 12小时 明天9点到12点停水，请提前储水"]
    assert chats(posted) == ["b3", "dm zhao"] and "  明天9点到12点停水，请提前储水" in posted
    # 收到, 收到！ and a bare 👍: no answer each; chatter neither answered nor counted
    for line in ("b3 alice: 收到", "b3 bob: 收到！", "b3 dave: 好的 明天见", "b3 dave: 👍"):
        assert said[line] == [], line
    assert said[":clock +6m"][1] == "[b3] 👌 通知 #1：已有 2 户确认收到（新增 2 户）。"
    assert "你家的 alice 已经确认过" in said["dm bob: 收到 1"][0]
    assert "  3栋：2/3 户（67%）" in said["dm wang: 通知进度 1"]
    reminder = said[":clock 2026-12-02 06:10"]
    assert chats(reminder) == ["dm wang"] and "还有 1 户没确认：1801" in reminder[1]

    # English, building 7: "ok" alone confirms; "OK, see you there" is chatter
    assert chats(said["dm chen: /notice B7 lift maintenance on Friday 9am-12pm, please use the "
                      "stairs"]) == ["b7", "dm chen"]
    assert said["b7 frank: ok"] == [] and said["b7 grace: OK, see you there"] == []
    status = said["dm chen: /noticestatus 2"]
    assert "1/2 households confirmed (50%)" in status[0] and "  7栋: 1/2 households (50%)" in status
