#!/usr/bin/env bash
# Install the Debian packages the project needs, if any is missing. Idempotent and quiet when all is there.
#   python3-venv + python3-dev : the venv is built on Debian's /usr/bin/python3, whose sqlite3 module can load
#                                extensions (the pyenv Python on these machines cannot load mod_spatialite)
#   libsqlite3-mod-spatialite  : SpatiaLite, the embedded default database
#   libvips42                  : the libvips baseline of scripts/bench/bench_photos.py (benchmark only)
#   nodejs + npm               : front-end assets from the npm registry (no CDN)
#   chromium                   : headless browser tests of the map page (only with WITH_BROWSER=1)
#   wrk                        : the HTTP load generator of scripts/bench/bench_intake.py (only with WITH_BENCH=1)
set -euo pipefail
want=(python3-venv python3-dev libsqlite3-mod-spatialite libvips42)
command -v npm >/dev/null || want+=(nodejs npm)
[ "${WITH_BROWSER:-0}" = 1 ] && want+=(chromium)
[ "${WITH_BENCH:-0}" = 1 ] && want+=(wrk)
missing=()
for p in "${want[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 || {
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}
