"""Refresh the console transcripts embedded in README.md.

Each transcript sits between ``<!-- transcript: docs/examples/NAME.txt -->`` and ``<!-- /transcript -->``;
this runs ``linli console --script`` on a fresh database for each and writes what it printed in between.
``tests/test_readme.py`` fails when a transcript is out of date, so the README cannot drift from the bot.

    .venv/bin/python scripts/transcripts.py          # rewrite README.md
    .venv/bin/python scripts/transcripts.py --check  # exit 1 if anything would change
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LINLI = "from bot.cli import main; raise SystemExit(main())"
BLOCK = re.compile(r"(<!-- transcript: (?P<script>\S+) -->\n)(?P<body>.*?)(<!-- /transcript -->)", re.S)


def run_script(script: str) -> str:
    """What ``linli console --script`` prints for one script, on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", LINLI, "console", "--db", str(Path(tmp) / "demo.db"), "--script",
             str(ROOT / script)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def refreshed(readme: str) -> str:
    def block(match: re.Match) -> str:
        output = run_script(match.group("script")).rstrip("\n")
        return f"{match.group(1)}```text\n{output}\n```\n{match.group(4)}"

    return BLOCK.sub(block, readme)


def main() -> int:
    current = README.read_text(encoding="utf-8")
    new = refreshed(current)
    if "--check" in sys.argv:
        if new != current:
            print("README.md transcripts are out of date: run python scripts/transcripts.py")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
