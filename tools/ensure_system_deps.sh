#!/bin/sh
# WeasyPrint draws text with Pango; install it when missing (as root with apt-get), else say how.
if ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so.0' && ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "reviewkit: installing Pango for WeasyPrint (apt-get)…" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null
  exit $?
fi
echo "reviewkit: WeasyPrint needs Pango: install libpango-1.0-0 and libpangoft2-1.0-0 (Debian/Ubuntu)," >&2
echo "  or 'brew install pango' (macOS), then run make again." >&2
exit 1
