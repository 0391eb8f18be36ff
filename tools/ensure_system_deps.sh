#!/bin/sh
# The system libraries reviewkit needs, checked and (as root with apt-get) installed.
#
#   libpango-1.0-0, libpangoft2-1.0-0  WeasyPrint draws text with Pango
#   libharfbuzz-subset0                WeasyPrint subsets fonts with it (without it, it warns on
#                                      every PDF and embeds whole fonts; future versions need it)
#   fonts-dejavu-core                  a system fallback font for glyphs the bundled ones lack
#   fonts-droid-fallback, fonts-baekmuk Chinese and Japanese (Droid Sans Fallback), Korean
#                                      (Baekmuk): an analyst's words in these scripts print as
#                                      text, not empty boxes (1.8 and 8.8 MB)
#   chromium, chromium-driver          the review cycle's browser tests (Selenium) and the
#                                      screenshots of its pages; without them those tests skip
#                                      and say why, so they are installed where possible but
#                                      never required
#
# `sh tools/ensure_system_deps.sh --check` only checks (exit 1 and the list when any required
# one is missing); `--check-browser` checks the browser alone.

missing=""
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libpango-1.0.so.0' || missing="$missing libpango-1.0-0"
have_lib 'libpangoft2-1.0.so.0' || missing="$missing libpangoft2-1.0-0"
have_lib 'libharfbuzz-subset.so.0' || missing="$missing libharfbuzz-subset0"
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || [ "$(uname)" = "Darwin" ] \
  || missing="$missing fonts-dejavu-core"
[ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || [ "$(uname)" = "Darwin" ] \
  || missing="$missing fonts-droid-fallback"
[ -e /usr/share/fonts/truetype/baekmuk/dotum.ttf ] || [ "$(uname)" = "Darwin" ] \
  || missing="$missing fonts-baekmuk"

browser=""
if [ "$(uname)" != "Darwin" ]; then
  command -v chromium >/dev/null 2>&1 || browser="$browser chromium"
  command -v chromedriver >/dev/null 2>&1 || browser="$browser chromium-driver"
fi

if [ "$1" = "--check-browser" ]; then
  [ -z "$browser" ] && exit 0
  echo "reviewkit: missing system packages for the browser tests:$browser" >&2
  exit 1
fi
if [ -z "$missing" ] && [ -z "$browser" ]; then
  exit 0
fi
if [ "$1" = "--check" ]; then
  [ -z "$missing" ] && exit 0
  echo "reviewkit: missing system packages:$missing" >&2
  exit 1
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "reviewkit: installing system packages (apt-get):$missing$browser" >&2
  # shellcheck disable=SC2086 # the list is meant to split into words
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing $browser; } \
    >/dev/null || exit $?
  exit 0
fi
if [ -n "$browser" ]; then
  echo "reviewkit: the review cycle's browser tests need:$browser (Debian/Ubuntu names); they" >&2
  echo "  skip without them (e.g. sudo apt-get install$browser)." >&2
fi
[ -z "$missing" ] && exit 0
echo "reviewkit: WeasyPrint needs these system packages:$missing (Debian/Ubuntu names);" >&2
echo "  install them (e.g. sudo apt-get install$missing), or 'brew install pango' on macOS," >&2
echo "  then run make again." >&2
exit 1
