"""``linli export tickets`` (Open311-shaped JSON, CSV) and ``linli digest`` (text and PNG), run as
the meeting secretary would, on a database a week of reports left behind."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta

from PIL import Image

from tests.harness import EXAMPLE_CONFIG, ROOT, Compound
from tests.test_digest import a_week_of_reports

OPEN311_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "description",
                  "agency_responsible", "requested_datetime", "updated_datetime"}


def linli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(EXAMPLE_CONFIG), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


async def reports_db(tmp_path) -> str:
    compound = await Compound.open(tmp_path)
    await a_week_of_reports(compound)
    await compound.say("b3", "erin", "报修 3栋 电话13812345678 楼道灯坏了")  # #5, with a phone number
    await compound.say("dm", "wang", "驳回 5 重复报修")
    await compound.advance(timedelta(minutes=5))
    await compound.close()
    return str(tmp_path / "linli.db")


async def test_json_export_is_shaped_like_open311_service_requests(tmp_path):
    db = await reports_db(tmp_path)
    result = linli("export", "tickets", "--since", "2026-11-30", "--db", db)
    assert result.returncode == 0, result.stderr
    requests = json.loads(result.stdout)
    assert [r["service_request_id"] for r in requests] == ["1", "2", "3", "4", "5"]
    assert all(OPEN311_FIELDS <= set(r) for r in requests)
    by_id = {r["service_request_id"]: r for r in requests}
    assert by_id["1"]["status"] == "closed" and by_id["1"]["status_notes"] == "换了门机"
    assert by_id["2"]["status"] == "open" and by_id["2"]["service_name"] == "消防门"
    assert by_id["1"]["agency_responsible"] == "3栋楼长" and by_id["3"]["agency_responsible"] == "5栋楼长"
    assert by_id["5"]["status"] == "closed" and by_id["5"]["status_notes"] == "重复报修"
    assert "13812345678" not in result.stdout  # private numbers are masked in exports too
    assert by_id["1"]["requested_datetime"] == "2026-12-01T09:00:00+08:00"
    assert by_id["4"]["updated_datetime"] == "2026-12-02T12:00:00+08:00"


async def test_csv_export_has_the_same_columns_and_a_since_filter(tmp_path):
    db = await reports_db(tmp_path)
    result = linli("export", "tickets", "--since", "2026-12-01T11:00", "--format", "csv",
                   "--db", db)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["service_request_id"] for r in rows] == ["3", "4", "5"]
    assert OPEN311_FIELDS <= set(rows[0])
    assert rows[1]["description"] == "3栋楼上装修噪音" and rows[1]["status"] == "closed"


async def test_bad_export_arguments_are_explained(tmp_path):
    db = await reports_db(tmp_path)
    result = linli("export", "tickets", "--since", "last tuesday", "--db", db)
    assert result.returncode == 2 and "2026-11-01" in result.stderr
    assert "Traceback" not in result.stderr
    result = linli("export", "tickets", "--since", "2026-11-01", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 1 and "no database" in result.stderr
    assert not (tmp_path / "none.db").exists()


async def test_the_offline_digest_writes_text_and_chart(tmp_path):
    db = await reports_db(tmp_path)
    out = tmp_path / "meeting"
    result = linli("digest", "--week", "2026-W49", "--out", str(out), "--db", db)
    assert result.returncode == 0, result.stderr
    assert "富丰新城上周简报（11月30日–12月6日）" in result.stdout
    assert "3栋上周简报" in result.stdout and "5栋上周简报" in result.stdout
    assert "7栋" not in result.stdout
    text = (out / "digest-2026-W49.txt").read_text(encoding="utf-8")
    assert text.startswith("📊 富丰新城上周简报")
    assert Image.open(out / "digest-2026-W49.png").size == (1000, 800)
    result = linli("digest", "--week", "2026-W49", "--lang", "en", "--db", db)
    assert "By building:" in result.stdout
    result = linli("digest", "--week", "48", "--db", db)
    assert result.returncode == 2 and "2026-W48" in result.stderr and "Traceback" not in result.stderr
