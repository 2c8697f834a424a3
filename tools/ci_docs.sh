#!/usr/bin/env bash
# The course website in CI (see tools/docs.py and tests/test_site.py).
#
#   bash tools/ci_docs.sh browser          # make sure a headless browser is there: Debian's chromium, installed with
#                                          # apt-get when none is found and we are root (what .ci/run needs before
#                                          # the test command, so that tests/test_site.py runs instead of skipping)
#   bash tools/ci_docs.sh check [PYTHON]   # build the site into _docs/ (tools/docs.py) and check that very site in
#                                          # headless Chromium (tests/test_site.py); screenshots go to $TRM_SITE_SHOTS
set -euo pipefail
cd "$(dirname "$0")/.."

find_browser() {
  if [ -n "${CHROME:-}" ] && [ -x "$CHROME" ]; then echo "$CHROME"; return 0; fi
  for b in chromium chromium-browser google-chrome google-chrome-stable chrome; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
  done
  return 1
}

case "${1:-}" in
  browser)
    if b="$(find_browser)"; then echo "ci_docs: browser found: $b"; exit 0; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "ci_docs: no Chromium or Chrome found; installing Debian's chromium"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends chromium >/dev/null
      b="$(find_browser)" || { echo "ci_docs: apt-get installed chromium but no browser is on the PATH"; exit 1; }
      echo "ci_docs: browser installed: $b"
    else
      echo "ci_docs: no Chromium or Chrome found and cannot install one here (not root, or no apt-get):" \
           "tests/test_site.py will skip and say so"
    fi
    ;;
  check)
    py="${2:-python3}"
    "$py" tools/docs.py --out _docs --work _proc
    TRM_SITE_DIR="$(pwd)/_docs" "$py" -m pytest -p no:cacheprovider -n 0 -s tests/test_site.py
    ;;
  *)
    echo "usage: bash tools/ci_docs.sh browser | check [PYTHON]" >&2; exit 2 ;;
esac
