"""A message's recipient is the person's address whatever their name says: a name holding an
address in angle brackets (and a letter that needs encoding) cannot redirect the mail when a
mail client reads the header back."""

from __future__ import annotations

import email
from email import policy

import pytest

from reviewkit.serve.mail import Mail, _message


@pytest.mark.parametrize("name", [
    "Eve <eve@evil.example> Ö",
    "Eve <eve@evil.example>",
    'Ève "the boss", <eve@evil.example>',
    "Zoë Ng",
])
def test_a_name_cannot_change_whom_a_message_is_addressed_to(name: str) -> None:
    raw = _message(Mail(to_name=name, to="victim@northwind.example", subject="Your packs",
                        body="Hello"), "office@northwind.example").as_bytes()
    read_back = email.message_from_bytes(raw, policy=policy.default)
    addresses = read_back["To"].addresses
    assert [a.addr_spec for a in addresses] == ["victim@northwind.example"]
    assert addresses[0].display_name == name
