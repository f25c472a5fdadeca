#!/usr/bin/env bash
# Create .venv (if needed) and install everything the project needs into it.
# Re-running is cheap: the install is skipped while the requirement files are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.adain-installed
want=$(cat requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements.txt
    .venv/bin/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
    .venv/bin/python -m pip install --quiet --no-deps -e .
    echo "$want" > "$stamp"
fi
# The web demo's browser tests drive Debian's chromium (Playwright cannot download its own
# browser here). Installed where we are root and it is missing; otherwise those tests skip.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "setup_env: installing chromium with apt-get (for the browser tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        > /tmp/adain-apt-chromium.log 2>&1 \
        || echo "setup_env: chromium could not be installed (see /tmp/adain-apt-chromium.log); browser tests will skip"
fi
