"""The params file's ``serve:`` section: how ``reviewkit serve`` reaches people (its address in
links, the SMTP server) and where it finds the people file and the packs."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reviewkit.inputs._yaml import no_nul_character

#: ``${NAME}``: a value taken from the environment when it is used.
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: A rate limit as Flask-Limiter writes it: "10 per minute", "10/minute; 100 per hour".
_LIMIT = re.compile(r"^\s*\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?\s*$")


class SmtpParams(BaseModel):
    """The SMTP server invitations, reminders and packs are sent through."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="The SMTP server's host name.")
    port: int = Field(default=25, ge=1, le=65535, strict=True)
    sender: str = Field(min_length=3, description="The From address, e.g. "
                                                  "'Governance Office <office@example.org>'.")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    ssl: bool = Field(default=False, description="Connect over TLS from the start (port 465).")
    username: str | None = None
    password: str | None = Field(default=None, description="Best as ${VARIABLE}: read from "
                                                           "the environment when sending.")
    timeout: float = Field(default=30, gt=0, le=600)

    def secret(self) -> str | None:
        """The password, a ``${VARIABLE}`` read from the environment now."""
        if self.password is None:
            return None
        match = _ENV_REFERENCE.fullmatch(self.password)
        return os.environ.get(match[1], "") if match else self.password


class ServeParams(BaseModel):
    """``reviewkit serve``: the review cycle's web application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(default="http://127.0.0.1:8000",
                     description="The address people open; links in e-mails start with it.")
    people: Path | None = Field(default=None, description="A people file (YAML) to load at "
                                                          "start: names, e-mails and roles.")
    packs: Path | None = Field(default=None, description="The folder packs are built into "
                                                         "and the library reads (default "
                                                         "outputs/ in the current folder).")
    smtp: SmtpParams | None = None
    attach_pdf: bool = Field(default=False, description="On publish, attach each reader's "
                                                        "PDF instead of sending a link.")
    sign_in_limit: str = Field(default="10 per minute; 60 per hour",
                               description="Sign-in attempts allowed from one address.")
    link_minutes: int = Field(default=30, ge=1, le=1440, strict=True,
                              description="How long an e-mailed sign-in link works.")
    invitation_days: int = Field(default=7, ge=1, le=60, strict=True,
                                 description="How long an invitation's link works.")
    publish_workers: int | None = Field(
        default=None, ge=1, le=64, strict=True,
        description="Packs built at once when a round is published (default: one per core). "
                    "Fewer leaves cores to the web pages on a machine the server shares.")

    _no_nul_character = field_validator("people", "packs", mode="before")(no_nul_character)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not a web address; write e.g. "
                             "https://reviews.example.org")
        return value.rstrip("/")

    @field_validator("sign_in_limit")
    @classmethod
    def _limits(cls, value: str) -> str:
        if not all(_LIMIT.match(part) for part in value.split(";")):
            raise ValueError(f"{value!r} is not a rate limit; write e.g. '10 per minute; "
                             "60 per hour'")
        return value
