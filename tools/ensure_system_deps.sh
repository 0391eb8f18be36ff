#!/bin/sh
# The system libraries reviewkit needs, checked and (as root with apt-get) installed.
#
#   libpango-1.0-0, libpangoft2-1.0-0  WeasyPrint draws text with Pango
#   libharfbuzz-subset0                WeasyPrint subsets fonts with it (without it, it warns on
#                                      every PDF and embeds whole fonts; future versions need it)
#   fonts-dejavu-core                  a system fallback font for glyphs the bundled ones lack
#
# `sh tools/ensure_system_deps.sh --check` only checks (exit 1 and the list when any is missing).

missing=""
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libpango-1.0.so.0' || missing="$missing libpango-1.0-0"
have_lib 'libpangoft2-1.0.so.0' || missing="$missing libpangoft2-1.0-0"
have_lib 'libharfbuzz-subset.so.0' || missing="$missing libharfbuzz-subset0"
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || [ "$(uname)" = "Darwin" ] \
  || missing="$missing fonts-dejavu-core"

if [ -z "$missing" ]; then
  exit 0
fi
if [ "$1" = "--check" ]; then
  echo "reviewkit: missing system packages:$missing" >&2
  exit 1
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "reviewkit: installing system packages for WeasyPrint (apt-get):$missing" >&2
  # shellcheck disable=SC2086 # the list is meant to split into words
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } \
    >/dev/null || exit $?
  exit 0
fi
echo "reviewkit: WeasyPrint needs these system packages:$missing (Debian/Ubuntu names);" >&2
echo "  install them (e.g. sudo apt-get install$missing), or 'brew install pango' on macOS," >&2
echo "  then run make again." >&2
exit 1
