#!/usr/bin/env bash
# CTest's entry for Hearth's Python tests: makes sure the test venv exists
# (scripts/setup-test-venv, pinned versions), then runs pytest on the given
# paths with it. The tests start their own hearthd from $HEARTH_BINARY_DIR.
#   tests/run_pytest.sh tests/openai_sdk [pytest args...]
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
venv="$("$source_dir/scripts/setup-test-venv")"
cd "$source_dir"
# -p no:cacheprovider: no .pytest_cache in the source tree.
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@"
