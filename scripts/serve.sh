#!/usr/bin/env bash
# The web demo: a Gradio page on the shipped model at http://127.0.0.1:7860 (this machine only).
# Extra arguments go to `python -m adain serve` (e.g. --port 8080, --host 0.0.0.0, --decoder PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m adain serve "$@"
