"""No secret in any URL form is ever shown: the property, over every form a driver accepts.

Hypothesis draws a password and puts it in a database location in one of the forms drivers
accept (a URL's user information, its query string under any secret key, percent-encoded or
not, a libpq connection string, one hidden inside a URL, a printed mapping); the location is
then quoted in a message as reviewkit and drivers word them. No run of eight characters of the
password, as written or as encoded in the location, may survive :func:`redact.text`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reviewkit import redact

#: Characters a password may hold unencoded in a URL's user information or query value.
URL_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$*+,;=:@"
#: …and anywhere (encoded where the form needs it).
ANY = URL_SAFE + " /?#&%'\"\\[]{}()<>|^`"
KEYS = ("password", "PASSWORD", "passwd", "pwd", "sslpassword", "Password", "db_password")

#: The secret starts with letters no fixed text below holds, so a match is a leak.
secrets_raw = st.text(URL_SAFE, min_size=10, max_size=24).map(lambda s: "Zq" + s)
secrets_any = st.text(ANY, min_size=10, max_size=24).map(lambda s: "Zq" + s)


def _encode_one_letter(key: str) -> str:
    return key[:1] + f"%{ord(key[1]):02X}" + key[2:]


def _libpq_quoted(secret: str) -> str:
    return "'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: A location built from a secret (and a key naming it), and what of it counts as the secret.
FORMS: dict[str, Callable[[str, str], str]] = {
    "userinfo": lambda s, k: f"postgresql://rk:{s}@db.internal:5432/reviews",
    "userinfo-encoded": lambda s, k: f"postgresql://rk:{quote(s, safe='')}@db.internal/reviews",
    "userinfo-no-user": lambda s, k: f"postgresql://:{quote(s, safe='')}@db.internal/reviews",
    "query": lambda s, k: f"postgresql://rk@db.internal/reviews?{k}={s}",
    "query-among-others": lambda s, k: (f"postgresql+psycopg://rk@db/reviews?sslmode=require&"
                                        f"{k}={quote(s, safe='')}&application_name=reviewkit"),
    "query-key-encoded": lambda s, k: (f"postgresql://rk@db/reviews?{_encode_one_letter(k)}="
                                       f"{quote(s, safe='')}"),
    "query-plus-encoded": lambda s, k: f"mysql://rk@db/reviews?{k}={quote(s, safe='')}",
    "sqlite-uri-query": lambda s, k: f"sqlite:///file:/srv/store.db?{k}={s}&uri=true",
    "libpq": lambda s, k: f"host=db.internal port=5432 user=rk {k}={s} dbname=reviews",
    "libpq-quoted": lambda s, k: f"host=db.internal {k} = {_libpq_quoted(s)} dbname=reviews",
    "libpq-in-dbname": lambda s, k: ("postgresql:///?dbname=" + quote(
        f"host=db.internal user=rk {k}={_libpq_quoted(s)}", safe="")),
    "url-encoded-whole": lambda s, k: quote(f"postgresql://rk:{quote(s, safe='')}@db/reviews",
                                            safe=""),
    "json": lambda s, k: json.dumps({"url": "postgresql://db/reviews", k: s}),
    "python-repr": lambda s, k: repr({"host": "db", k: s}),
}
#: Forms whose password may hold any character (the others take URL-safe ones unencoded).
ANY_CHARACTER = {"userinfo-encoded", "userinfo-no-user", "query-among-others",
                 "query-key-encoded", "query-plus-encoded", "libpq-quoted", "libpq-in-dbname",
                 "url-encoded-whole", "json", "python-repr"}

MESSAGES = (
    "the store {} cannot be reached (connection refused); check that the server is running",
    "store '{}' is not a usable database URL: Could not parse SQLAlchemy URL from string '{}'",
    "source tickets ({}): (psycopg.OperationalError) connection failed: {}",
    "{}",
)


def _shown_forms(secret: str, location: str) -> set[str]:
    """The password as it may appear in ``location``: raw, and in each encoding used above."""
    forms = {secret, quote(secret, safe=""), quote(quote(secret, safe=""), safe=""),
             json.dumps(secret)[1:-1], repr(secret)[1:-1], _libpq_quoted(secret)[1:-1]}
    return {form for form in forms if form in location or form == secret}


def _leaks(secret: str, location: str, shown: str, fixed: str) -> list[str]:
    """Runs of eight characters of the password in ``shown`` that the ``fixed`` text (the
    message around it, with another password) does not hold anyway."""
    windows = {form[i:i + 8] for form in _shown_forms(secret, location)
               for i in range(max(1, len(form) - 7))}
    return sorted(window for window in windows if window in shown and window not in fixed)


PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("form", sorted(FORMS))
@PROPERTY
@given(data=st.data(), key=st.sampled_from(KEYS), template=st.sampled_from(MESSAGES))
@example(data=None, key="password", template=MESSAGES[0])
def test_no_password_survives_in_any_url_form(form: str, data: st.DataObject | None, key: str,
                                              template: str) -> None:
    if data is None:
        secret = "Zqs3cr3t-p@ss:w0rd"
    else:
        secret = data.draw(secrets_any if form in ANY_CHARACTER else secrets_raw, "secret")
    location = FORMS[form](secret, key)
    other = FORMS[form]("-", key)
    fixed = template.format(other, other)
    fixed += redact.text(fixed)  # as shown: perhaps decoded
    for shown in (redact.text(template.format(location, location)), redact.url(location)):
        assert _leaks(secret, location, shown, fixed) == [], (location, shown)


@PROPERTY
@given(secret=secrets_raw, key=st.sampled_from(KEYS))
def test_a_password_a_driver_echoes_alone_is_masked_when_the_url_is_known(
        secret: str, key: str) -> None:
    location = f"postgresql://rk@db/reviews?{key}={quote(secret, safe='')}"
    message = f'FATAL: password authentication failed for "{secret}"'
    assert secret not in redact.text(message, location)


@pytest.mark.parametrize("harmless", [
    "postgresql://rk@db.internal:5432/reviews?sslmode=require&application_name=reviewkit",
    "host=db.internal port=5432 user=rk dbname=reviews sslkey=/etc/rk/client.key",
    "sqlite:////srv/reviewkit/store.sqlite",
    "data/demo/measurements.csv, line 1187, field 'value': '8_8.1' is not a number",
])
def test_text_without_a_secret_is_left_as_it_is(harmless: str) -> None:
    assert redact.text(harmless) == harmless


def test_the_mask_keeps_the_rest_of_the_location_readable() -> None:
    assert redact.url("postgresql://rk:s3cret@db/reviews?sslmode=require&password=x1y2z3") == (
        "postgresql://rk:***@db/reviews?sslmode=require&password=***")
    assert redact.url("host=db user=rk password='a b' dbname=r") == (
        "host=db user=rk password=*** dbname=r")


#: Characters of a password written raw in a URL that drivers still accept: a space too.
SPACED = st.text(URL_SAFE + " ", min_size=8, max_size=20).map(lambda s: f"Zq {s} Zq")


@PROPERTY
@given(secret=SPACED, template=st.sampled_from(MESSAGES))
@example(secret="Zq Sp ace PW Zq", template=MESSAGES[0])
@example(secret="Zq password Zq", template=MESSAGES[0])  # the key's own name is no leak
def test_a_password_with_spaces_is_masked_whole_wherever_its_url_is_known(
        secret: str, template: str) -> None:
    """SQLAlchemy and libpq take ``postgresql://rk:Sp ace PW@db/r`` as it stands; the pack's
    provenance and the store's messages printed it in full."""
    for form in ("postgresql://rk:{}@db.internal:5432/reviews",
                 "postgresql://rk@db.internal/reviews?password={}&sslmode=require"):
        location, other = form.format(secret), form.format("-")
        fixed = template.format(other, other)
        fixed += redact.text(fixed)  # as shown
        for shown in (redact.text(template.format(location, location), location),
                      redact.url(location)):
            assert _leaks(secret, location, shown, fixed) == [], (location, shown)


@pytest.mark.parametrize("location, echoed", [
    ("postgresql://u:S3cret@PW8@127.0.0.1:1/db", "failed to resolve host 'PW8@127.0.0.1'"),
    ("postgresql://u:At@Pw9@127.0.0.1:1/db", "failed to resolve host 'Pw9@127.0.0.1'"),
])
def test_no_piece_of_a_password_a_driver_read_as_the_host_is_shown(
        location: str, echoed: str) -> None:
    """An ``@`` left unencoded in a password: the driver splits the user information at the
    first one and names the rest of the password as the host it could not find."""
    shown = redact.text(f"the store {location} failed ({echoed})", location)
    secret = location.split("://u:", 1)[1].rsplit("@", 1)[0]
    for piece in (secret, *secret.split("@")):
        assert piece not in shown, shown


def test_a_known_secret_masked_in_parentheses_keeps_the_closing_parenthesis() -> None:
    location = "postgresql://rk@db/reviews?password=S3cret PW38"
    shown = redact.text(f"source tickets ({location}) connection failed", location)
    assert shown == "source tickets (postgresql://rk@db/reviews?password=***) connection failed"
