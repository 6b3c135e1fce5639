"""Decides who a request is, for both Jupyter adapters (1.x LoginHandler, 2.x IdentityProvider).

Two ways in, nothing else:
- the owner, proven by the front door's signed identity header;
- the control plane (the culler), with ``Authorization: token <its token for this session>``.
The lab never holds that token: it is given ``HUBLESS_LAB_TOKEN_SHA256``, the token's SHA-256,
and compares the hash of what it is shown with it in constant time. A task's environment is
visible to whoever may describe the task; a hash there opens nothing.
The token is never read from the URL (URLs end up in logs and browser history), and no
cookie is trusted: the front door adds the header to every request, so there is nothing
to remember, and a cookie left by another user can never open this lab.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Mapping

from .identity import HEADER, Denied, IdentityConfig, Verifier

CONTROL_PLANE_USER = "hubless-control-plane"
TOKEN_HASH_ENV = "HUBLESS_LAB_TOKEN_SHA256"
_TOKEN_AUTH = re.compile(r"^token\s+(\S+)\s*$", re.IGNORECASE)
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def token_hash_from_env(env: Mapping[str, str] = os.environ) -> str:
    """The control plane token's SHA-256 (hex), or "" (no token accepted) when unset or malformed."""
    value = (env.get(TOKEN_HASH_ENV) or "").strip().lower()
    return value if _SHA256_HEX.match(value) else ""


@dataclass(frozen=True)
class Caller:
    name: str
    by_token: bool


def host_name(host: str) -> str:
    """The name part of a Host header: no port, no IPv6 brackets, no trailing dot, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


def is_rebinding_proof(name: str) -> bool:
    """An IP address or localhost: names no attacker's DNS can point here."""
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Gate:
    def __init__(
        self,
        verifier: Verifier | None,
        token_hash: str,
        config_error: str | None = None,
        public_host: str | None = None,
    ):
        self._verifier = verifier
        self._token_hash = token_hash
        self._config_error = config_error
        self._public_host = host_name(public_host) if public_host else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Gate":
        # A misconfigured lab refuses everyone instead of falling open.
        token_hash = token_hash_from_env(env)
        public_host = env.get("HUBLESS_PUBLIC_HOST", "").strip() or None
        try:
            return cls(Verifier(IdentityConfig.from_env(env)), token_hash, public_host=public_host)
        except ValueError as error:
            return cls(None, token_hash, str(error), public_host=public_host)

    def check_host(self, host: str | None) -> None:
        """Refuses a request for a name other than the public one (DNS rebinding): a page on
        an attacker's name that resolves to this lab's port must get nothing, not even with
        the control plane's token. IP addresses and localhost cannot be rebound."""
        if self._public_host is None:
            return
        name = host_name(host or "")
        if name != self._public_host and not is_rebinding_proof(name):
            raise Denied(f"This server answers only as {self._public_host}, not as {host!r}.")

    @property
    def config_error(self) -> str | None:
        return self._config_error

    @property
    def owner(self) -> str | None:
        return self._verifier.config.owner if self._verifier else None

    def is_token(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries the control plane's token in its Authorization header."""
        match = _TOKEN_AUTH.match(headers.get("Authorization", "") or "")
        if not (match and self._token_hash):
            return False
        presented = hashlib.sha256(match.group(1).encode("utf-8")).hexdigest()
        return hmac.compare_digest(presented, self._token_hash)

    def identify(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request with these headers; raises Denied with a reason to show."""
        self.check_host(headers.get("Host"))
        if self.is_token(headers):
            return Caller(CONTROL_PLANE_USER, by_token=True)
        if self._verifier is None:
            raise Denied(self._config_error or "The lab's owner check is not configured.")
        return Caller(self._verifier.owner_of(headers.get(HEADER)), by_token=False)


def refuse_to_start_unconfigured(app) -> None:
    """Called at start-up: a lab without its owner settings exits with the reason on stderr
    (the control plane shows the last stderr lines) instead of running and refusing everyone."""
    gate = Gate.from_env()
    if gate.owner is None:
        app.log.critical("hubless owner check: %s", gate.config_error)
        raise SystemExit(1)
    app.log.info("hubless owner check: this server belongs to %s", gate.owner)
