"""Secrets out of sight: database URLs are shown and recorded without their password."""

from __future__ import annotations

import re

#: ``scheme://user:password@host``: the password is what lies between the user's colon and
#: the last ``@`` before the host (a password may itself hold ``@`` or ``:`` when quoted).
_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*):(?P<secret>[^\s'\"]*)@")

MASK = "***"


def url(location: str) -> str:
    """A store location as it may be shown: ``postgresql://rk:***@db/reviews``."""
    return text(location)


def text(message: str) -> str:
    """Any text with the passwords of the URLs in it masked."""
    return _CREDENTIALS.sub(lambda match: f"{match['head']}:{MASK}@", message)
