"""People and their roles: from the command line or a people file, with passwords hashed by
argon2 (argon2-cffi's current recommended parameters)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from reviewkit.errors import InputError, UsageError
from reviewkit.inputs._yaml import LineDict, load_yaml_mapping
from reviewkit.inputs.params import GROUP_FOLDER, LoadedParams
from reviewkit.store.cycle import ROLES, CycleStore, User

#: What each role may do, for the pages and the documentation.
ROLE_DUTIES = {
    "office": "opens and closes rounds, follows the tracker, sends reminders, approves owners' "
              "statuses, publishes, manages people",
    "analyst": "edits the pack's narrative (the same narrative store as pack.ipynb)",
    "owner": "updates the KPIs and actions they own, for their units",
    "reader": "reads the packs of the units granted",
}
#: A plausible e-mail address: enough to refuse a typo, not a full RFC 5322 parser.
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
#: Shortest password accepted.
MIN_PASSWORD = 12
#: The word for every unit in ``units``.
ALL_UNITS = "all"

_hasher = PasswordHasher()


def set_hasher(hasher: PasswordHasher) -> None:
    """Use other argon2 parameters (tests use cheap ones; production keeps the default)."""
    global _hasher
    _hasher = hasher


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is the user's. Without a user (an unknown address) a hash is
    still checked, so the answer takes as long and tells nothing."""
    stored = user.password_hash if user is not None and user.active else None
    try:
        _hasher.verify(stored or _DUMMY[0], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored is not None


def needs_rehash(user: User) -> bool:
    return bool(user.password_hash) and _hasher.check_needs_rehash(user.password_hash or "")


_DUMMY = [PasswordHasher().hash("not anyone's password")]


def refresh_dummy() -> None:
    """The stand-in hash made with today's hasher, so an unknown address costs the same."""
    _DUMMY[0] = _hasher.hash("not anyone's password")


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    role: str
    owns: tuple[str, ...] = ()
    units: tuple[str, ...] = ()


def declared_units(definitions: Iterable[LoadedParams]) -> frozenset[str] | None:
    """The unit ids the served definitions declare (none for a definition without units),
    or None where one takes its units from the data (``units: all``): known only once the
    data is read, so not checked."""
    found: set[str] = set()
    for definition in definitions:
        units = definition.values.units
        if units == "all":
            return None
        found.update(unit.id for unit in units or ())
    return frozenset(found)


def check_person(email: str, name: str, role: str, owns: Sequence[str],
                 units: Sequence[str], *, known_units: Collection[str] | None = None
                 ) -> Person:
    """A person's details, checked; ValueError saying what is wrong. With ``known_units``
    (:func:`declared_units`), each unit granted must be one of them, the group's or all."""
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ValueError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise ValueError("the name is empty")
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    owned = tuple(o.strip() for o in owns if o.strip())
    if role == "owner" and not owned:
        raise ValueError("an owner needs 'owns': the owner names (as the catalog writes them) "
                         "they answer for")
    granted = tuple(u.strip() for u in units if u.strip())
    if not granted and role != "reader":
        granted = (ALL_UNITS,)
    if role == "reader" and not granted:
        raise ValueError("a reader needs 'units': the units whose packs they read ('group' for "
                         "the group's, 'all' for every pack)")
    if known_units is not None:
        words = (ALL_UNITS, GROUP_FOLDER, *sorted(known_units))
        for unit in granted:
            if unit not in words:
                raise ValueError(f"{unit!r} is not a unit of the served packs; the units are "
                                 f"{', '.join(words)}")
    return Person(email, name.strip(), role, owned, granted)


def _words(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError("must be a name or a list of names")


def read_people(path: Path, known_units: Collection[str] | None = None) -> list[Person]:
    """A people file: ``people:`` a list of {email, name, role, owns, units} (the units
    checked against ``known_units``, see :func:`check_person`)."""
    data = load_yaml_mapping(path, "people")
    entries = data.get("people")
    if not isinstance(entries, list) or not entries:
        raise InputError(path, "list the people under 'people:'", field="people",
                         line=data.line)
    people: list[Person] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"people[{index}]"
        line = entry.line if isinstance(entry, LineDict) else data.line_of("people")
        if not isinstance(entry, dict):
            raise InputError(path, "each person is a mapping of email, name, role, owns, units",
                             field=where, line=line)
        unknown = set(entry) - {"email", "name", "role", "owns", "units"}
        if unknown:
            raise InputError(path, f"unknown key {sorted(unknown)[0]!r}; a person has email, "
                             "name, role, owns and units", field=where, line=line)
        try:
            person = check_person(str(entry.get("email", "")), str(entry.get("name", "")),
                                  str(entry.get("role", "")), _words(entry.get("owns")),
                                  _words(entry.get("units")), known_units=known_units)
        except ValueError as exc:
            raise InputError(path, str(exc), field=where, line=line) from None
        if person.email in seen:
            raise InputError(path, f"{person.email} is listed twice", field=where, line=line)
        seen.add(person.email)
        people.append(person)
    return people


def save_people(cycle: CycleStore, people: Sequence[Person], *, by: str) -> list[User]:
    """Add each person, or update their details (passwords stay as they are). Someone the
    office deactivated stays deactivated: the file is read at every start."""
    return [cycle.add_user(email=p.email, name=p.name, role=p.role, owns=p.owns, units=p.units,
                           by=by, reactivate=False) for p in people]
