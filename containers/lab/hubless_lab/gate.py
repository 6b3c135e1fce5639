"""Decides who a request is, for both Jupyter adapters (1.x LoginHandler, 2.x IdentityProvider).

Two ways in, nothing else:
- the owner, proven by the front door's signed identity header;
- the control plane (the culler), with ``Authorization: token <HUBLESS_LAB_TOKEN>``.
The token is never read from the URL (URLs end up in logs and browser history), and no
cookie is trusted: the front door adds the header to every request, so there is nothing
to remember, and a cookie left by another user can never open this lab.
"""

from __future__ import annotations

import hmac
import os
import re
from dataclasses import dataclass
from typing import Mapping

from .identity import HEADER, Denied, IdentityConfig, Verifier

CONTROL_PLANE_USER = "hubless-control-plane"
_TOKEN_AUTH = re.compile(r"^token\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Caller:
    name: str
    by_token: bool


class Gate:
    def __init__(self, verifier: Verifier | None, token: str, config_error: str | None = None):
        self._verifier = verifier
        self._token = token
        self._config_error = config_error

    @classmethod
    def from_env(cls, token: str, env: Mapping[str, str] = os.environ) -> "Gate":
        # A misconfigured lab refuses everyone instead of falling open.
        try:
            return cls(Verifier(IdentityConfig.from_env(env)), token)
        except ValueError as error:
            return cls(None, token, str(error))

    @property
    def config_error(self) -> str | None:
        return self._config_error

    @property
    def owner(self) -> str | None:
        return self._verifier.config.owner if self._verifier else None

    def is_token(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries the control plane's token in its Authorization header."""
        match = _TOKEN_AUTH.match(headers.get("Authorization", "") or "")
        return bool(match and self._token and hmac.compare_digest(match.group(1), self._token))

    def identify(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request with these headers; raises Denied with a reason to show."""
        if self.is_token(headers):
            return Caller(CONTROL_PLANE_USER, by_token=True)
        if self._verifier is None:
            raise Denied(self._config_error or "The lab's owner check is not configured.")
        return Caller(self._verifier.owner_of(headers.get(HEADER)), by_token=False)


def refuse_to_start_unconfigured(app) -> None:
    """Called at start-up: a lab without its owner settings exits with the reason on stderr
    (the control plane shows the last stderr lines) instead of running and refusing everyone."""
    gate = Gate.from_env("")
    if gate.owner is None:
        app.log.critical("hubless owner check: %s", gate.config_error)
        raise SystemExit(1)
    app.log.info("hubless owner check: this server belongs to %s", gate.owner)
