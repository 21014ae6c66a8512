"""The README's console transcripts are what the bot prints today (scripts/transcripts.py)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_transcripts_are_current():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "transcripts.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
