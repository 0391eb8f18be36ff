"""Secrets out of sight: the one place that masks passwords before anything is shown or written.

A database password can travel in many forms, and drivers accept all of them:

- a URL's user information: ``postgresql://rk:s3cret@db/reviews`` (also with no user,
  ``postgresql://:s3cret@db/reviews``);
- a URL's query string: ``?password=s3cret``, ``&passwd=…``, ``&pwd=…``, ``&sslpassword=…``,
  its key or value percent-encoded (``pass%77ord=s3%40cret``);
- a libpq connection string, ``host=db user=rk password=s3cret`` or ``password='s3 cret'``,
  alone or percent-encoded inside a URL (libpq reads ``dbname`` as one);
- a mapping printed as JSON or by Python: ``"password": "s3cret"``.

:func:`text` masks every one of them in any text (``***``); :func:`url` is the same for one
location. Where the URL a message is about is known, :func:`text` also masks its secrets
wherever they appear verbatim (a driver may echo a password alone).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

MASK = "***"

#: A key whose value is a secret, compared in lower case without separators: password,
#: passwd, pwd, sslpassword, pgpassword, db_password, secret, client_secret, token,
#: access_token, api_key, x-api-key, passphrase, credentials, …
_SECRET_NAME = re.compile(
    r"(password|passwd|passphrase|pwd|pass|secret|token|apikey|accesskey|secretkey|"
    r"privatekey|credentials?)$")

#: ``scheme://user:password@host``: the password is what lies between the user's colon and
#: the last ``@`` before the host (a password may itself hold ``@`` or ``:`` unencoded).
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*):(?P<secret>[^\s'\"]*)@")

#: ``key=value`` as in a query string or a libpq connection string (the key perhaps
#: percent-encoded, the value perhaps quoted with '…' and backslash escapes), and
#: ``"key": "value"`` as JSON or Python print a mapping.
_ASSIGNMENT = re.compile(
    r"(?P<key>(?<![\w%.-])[A-Za-z_%][\w%.-]*)(?P<sep>\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|[^\s&#]*)"
    r"|(?P<qkey>['\"][A-Za-z_][\w.-]*['\"])(?P<qsep>\s*:\s*)"
    r"(?P<qvalue>'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?)")
# Why an unquoted value runs to the next space, '&' or '#' (quotes included): libpq ends it only
# at a space, a query string at '&' or '#'; masking a closing quote too is the safe side.

#: A run of text holding a percent-encoded ``=`` or ``://``: a connection string or URL hidden
#: inside a URL.
_ENCODED = re.compile(r"[^\s'\"]*(?:%3[dD]|%3[aA]%2[fF]%2[fF])[^\s'\"]*")


def is_secret_name(key: str) -> bool:
    """Whether a URL or connection-string key names a secret (``pass%77ord`` too)."""
    plain = re.sub(r"[^a-z]", "", unquote_plus(key).lower())
    return bool(plain) and _SECRET_NAME.search(plain) is not None


def _mask_assignment(match: re.Match[str]) -> str:
    if match["key"] is not None:
        if not is_secret_name(match["key"]) or not match["value"] or _masked_already(
                match["value"]):
            return match[0]
        return f"{match['key']}{match['sep']}{MASK}"
    if not is_secret_name(match["qkey"].strip("'\"")):
        return match[0]
    quote = match["qvalue"][:1]
    return f"{match['qkey']}{match['qsep']}{quote}{MASK}{quote}"


def _masked_already(value: str) -> bool:
    """A value masked already (a known secret), with only closing punctuation after it: the
    ")" of "(…?password=***)" stays in the message."""
    return value.startswith(MASK) and not value[len(MASK):].strip(")]}'\",;.")


def _mask_encoded(match: re.Match[str]) -> str:
    """A percent-encoded run (already masked as it stands) that still hides a secret once
    decoded is shown decoded, with the secret masked."""
    run = match[0]
    decoded = unquote(run)
    masked = _mask_plain(decoded)
    return masked if masked != decoded else run


def _mask_plain(message: str) -> str:
    message = _USERINFO.sub(lambda match: f"{match['head']}:{MASK}@", message)
    return _ASSIGNMENT.sub(_mask_assignment, message)


def secrets_of(location: str) -> list[str]:
    """The secret values a URL or connection string carries, as written and decoded (longest
    first, so a masked longer form leaves no piece of itself behind)."""
    found: set[str] = set()
    for match in _USERINFO.finditer(location):
        found.add(match["secret"])
    for text in (location, unquote(location)):
        for match in _ASSIGNMENT.finditer(text):
            key = match["key"] if match["key"] is not None else match["qkey"].strip("'\"")
            value = match["value"] if match["key"] is not None else match["qvalue"]
            if is_secret_name(key) and value:
                found.add(value)
                found.add(value.strip("'\""))
    found |= _parsed_secrets(location)
    # A password with an unencoded '@': the driver splits it at the first one and may name the
    # rest as the host it could not find ("failed to resolve host 'PW8@db'").
    found |= {piece for value in list(found) for piece in value.split("@")}
    values = {form for value in found for form in (value, unquote(value), unquote_plus(value))}
    # Why at least three characters: a one-letter password masked everywhere would mask every
    # such letter of the message; the patterns above still mask it where it is assigned.
    return sorted((value for value in values if len(value) >= 3), key=len, reverse=True)


def _parsed_secrets(location: str) -> set[str]:
    """The secrets of a URL as a driver parses it, which the patterns above, reading free text,
    cannot know where to end: the password up to the user information's last '@', spaces and
    all, and each secret query value up to its '&'."""
    scheme, sep, rest = location.strip().partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return set()
    found: set[str] = set()
    before_query, _, query = rest.partition("?")
    userinfo, at, _ = before_query.split("/", 1)[0].rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.partition(":")[2])
    for part in query.split("#", 1)[0].split("&"):
        key, equals, value = part.partition("=")
        if equals and value and is_secret_name(key):
            found.add(value)
    return found


def text(message: str, *locations: str) -> str:
    """``message`` with every password in it masked, in any of the forms above, and every
    secret of ``locations`` (the URLs the message is about) masked wherever it appears."""
    # The known secrets first, whole: the patterns would otherwise mask a password with a
    # space up to the space and leave the rest of it no longer matching the secret.
    for location in locations:
        for secret in secrets_of(location):
            message = message.replace(secret, MASK)
    return _ENCODED.sub(_mask_encoded, _mask_plain(message))


def url(location: str) -> str:
    """A store or source location as it may be shown: ``postgresql://rk:***@db/reviews``."""
    return text(location, location)
