#!/usr/bin/env bash
# The test command: installs everything the tests need on a fresh machine, then runs them.
#   Python packages into .venv (Linli with its test and WeChat extras),
#   the npm test peers (a Bot API emulator, a Wechaty puppet service) into tests/peers/node_modules.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k tickets
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,wechat]"
(cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
# the office board's browser tests drive Debian's chromium (playwright cannot download browsers here)
command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

.venv/bin/python -m ruff check bot handlers storage tests bench scripts
.venv/bin/python -m pytest -q "$@"
