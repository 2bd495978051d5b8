#!/usr/bin/env bash
# The whole test suite: lint, then every test on SpatiaLite, then the database tests again on PostGIS.
# PostGIS is provisioned on the local PostgreSQL (see ensure_postgis.sh). Without it, the PostGIS half is
# skipped with a plain message, except under CI=true where that is a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTEST=(.venv/bin/python -m pytest -q -p no:cacheprovider)
fail=0

# pytest exits 5 when it collected no test: that must never pass silently.
run_pytest() {
  "${PYTEST[@]}" "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "run_tests: pytest collected no tests for: $*" >&2; return 1; fi
  return $rc
}

echo "== ruff"
.venv/bin/ruff check . && .venv/bin/ruff format --check . || fail=1

echo "== tests on SpatiaLite"
GRID_TEST_DATABASE=spatialite run_pytest tests || fail=1

echo "== database tests on PostGIS"
if pg_url=$(scripts/dev/ensure_postgis.sh); then
  GRID_TEST_DATABASE="$pg_url" run_pytest tests -m db || fail=1
else
  rc=$?
  if [ $rc -eq 3 ]; then
    echo "run_tests: PostGIS is not available here, so only SpatiaLite was tested (see the message above)."
  else
    fail=1
  fi
fi
exit $fail
