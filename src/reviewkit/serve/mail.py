"""E-mail through the SMTP server the params file names: invitations, sign-in links,
reminders, and each reader's packs on publish (one message per recipient, a link or the PDFs
attached). Messages are plain text: nothing a person wrote can become markup in a mail client.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from reviewkit.errors import EnvironmentFailure
from reviewkit.inputs.serve_params import SmtpParams

log = logging.getLogger(__name__)

#: A reader's PDFs larger than this in all go as links instead (mail servers refuse big mail).
MAX_ATTACHMENTS = 15 * 1024 * 1024


class MailFailure(EnvironmentFailure):
    """The SMTP server could not be reached or refused the message."""


@dataclass(frozen=True)
class Mail:
    to_name: str
    to: str
    subject: str
    body: str
    attachments: tuple[Path, ...] = ()


def _message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    # An Address, not a formatted string: a name holding "<someone@else>" and a letter to
    # encode lost its quoting when the header was written, and was read back as that address.
    message["To"] = Address(display_name=mail.to_name, addr_spec=mail.to)
    # Header injection is impossible: EmailMessage refuses CR or LF in a header value.
    message["Subject"] = " ".join(mail.subject.split())
    message["Message-ID"] = make_msgid(domain="reviewkit")
    message.set_content(mail.body)
    for path in mail.attachments:
        message.add_attachment(path.read_bytes(), maintype="application", subtype="pdf",
                               filename=path.name)
    return message


def send(settings: SmtpParams | None, mails: Sequence[Mail]) -> int:
    """Send each mail on one SMTP connection; how many were sent. Without SMTP settings nothing
    is sent and the caller is told (a :class:`MailFailure`)."""
    if not mails:
        return 0
    if settings is None:
        raise MailFailure("no SMTP server is set: add serve: smtp: {host, port, sender} to the "
                          "params file")
    try:
        if settings.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                    timeout=settings.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.secret() or "")
            for mail in mails:
                client.send_message(_message(mail, settings.sender))
    except (OSError, smtplib.SMTPException) as exc:
        # The password never appears: smtplib's errors hold the server's answer only.
        raise MailFailure(f"the SMTP server {settings.host}:{settings.port} failed: "
                          f"{exc}; check serve: smtp: in the params file") from exc
    log.info("sent %d messages through %s", len(mails), settings.host)
    return len(mails)


def attachable(paths: Sequence[Path]) -> bool:
    return sum(path.stat().st_size for path in paths) <= MAX_ATTACHMENTS
