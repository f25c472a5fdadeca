#!/usr/bin/env bash
# The demo: stylise the built-in example images with the shipped decoder → outputs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# --overwrite: a second run refreshes outputs/ (stylize otherwise keeps existing files)
exec .venv/bin/python -m adain stylize --overwrite "$@"
