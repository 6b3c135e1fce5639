"""Verifies the identity header the front door adds to every request.

In AWS the ALB's ``authenticate-cognito`` action signs ``x-amzn-oidc-data`` (a JWT, ES256)
with a key it publishes at ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``;
locally the gateway signs the same header and publishes its key at
``/.hubless/alb-keys/<kid>``. The lab trusts a request only when that header verifies
and names its owner: a mis-routed rule must never leak a lab (docs/architecture.md section 5).

This module knows nothing about Jupyter, so it can be tested on its own.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

HEADER = "x-amzn-oidc-data"
ALGORITHM = "ES256"
LEEWAY_SECONDS = 30
# A kid becomes a URL path segment: refuse anything that could change the URL.
_SAFE_KID = re.compile(r"^[A-Za-z0-9-]{1,128}$")


class Denied(Exception):
    """The request may not use this lab. ``reason`` is safe to show to the caller."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IdentityConfig:
    owner: str
    keys_url: str
    signers: tuple[str, ...]
    issuer: str
    client: str | None = None
    # Local mode: the gateway's list of ended sign-ins (see EndedSessions); None in AWS.
    ended_sessions: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "IdentityConfig":
        """Reads the HUBLESS_* variables; raises ValueError naming every missing one."""
        required = {
            "HUBLESS_OWNER": env.get("HUBLESS_OWNER", "").strip(),
            "HUBLESS_IDENTITY_KEYS_URL": env.get("HUBLESS_IDENTITY_KEYS_URL", "").strip(),
            "HUBLESS_IDENTITY_SIGNER": env.get("HUBLESS_IDENTITY_SIGNER", "").strip(),
            "HUBLESS_IDENTITY_ISSUER": env.get("HUBLESS_IDENTITY_ISSUER", "").strip(),
        }
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise ValueError(
                "The lab's owner check is not configured: set " + ", ".join(missing) + " in its environment."
            )
        signers = tuple(s.strip() for s in required["HUBLESS_IDENTITY_SIGNER"].split(",") if s.strip())
        return cls(
            owner=required["HUBLESS_OWNER"].lower(),
            keys_url=required["HUBLESS_IDENTITY_KEYS_URL"].rstrip("/"),
            signers=signers,
            issuer=required["HUBLESS_IDENTITY_ISSUER"],
            client=env.get("HUBLESS_IDENTITY_CLIENT", "").strip() or None,
            ended_sessions=env.get("HUBLESS_IDENTITY_ENDED_SESSIONS", "").strip() or None,
        )


Fetch = Callable[[str], bytes]


def _http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - URL comes from our own config
        return response.read()


class KeyCache:
    """Public keys by kid. Keys never change for a kid, so a fetched key is kept for good;
    failures are not cached, so a gateway that was briefly down does not lock users out."""

    def __init__(self, keys_url: str, fetch: Fetch = _http_get):
        self._keys_url = keys_url.rstrip("/")
        self._fetch = fetch
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._lock = threading.Lock()

    def get(self, kid: str) -> ec.EllipticCurvePublicKey:
        with self._lock:
            cached = self._keys.get(kid)
        if cached is not None:
            return cached
        try:
            pem = self._fetch(f"{self._keys_url}/{kid}")
            key = load_pem_public_key(pem)
        except Exception as error:  # network, HTTP 404, bad PEM: all mean "cannot verify"
            raise Denied(f"The identity key {kid} could not be fetched ({type(error).__name__}).") from error
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise Denied(f"The identity key {kid} is not a P-256 key.")
        with self._lock:
            self._keys[kid] = key
        return key


class EndedSessions:
    """The local gateway's list of browser sessions that have ended (signed out), so a header
    signed for one of them is refused at once instead of for the rest of its 120 s.

    A file, not a call to the gateway: the gateway rewrites it (atomically, by rename) when a
    session ends, and the lab looks at it with one stat() per request, re-reading it only
    when it changed. A lab then checks every request with no round trip and no dependency
    on the gateway answering, and the list cannot be changed by a lab: the file and its
    directory belong to the account hubless runs as, and labs may only read it.

    It holds ``since`` (when the gateway started: every session of an earlier run is gone,
    so a header issued before it is refused) and ``ended`` (session id -> until when its
    headers could still be valid). A header must carry ``sid`` and ``iat``. A list that
    cannot be read refuses every header: failing open would bring the replay back.
    """

    def __init__(self, path: str):
        self._path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._since = 0
        self._ended: frozenset[str] = frozenset()

    def _load(self) -> None:
        try:
            info = os.stat(self._path)
        except OSError as error:
            raise Denied("The list of ended sign-ins cannot be read; sign in again later.") from error
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._lock:
            if stamp == self._seen:
                return
        try:
            with open(self._path, encoding="utf-8") as file:
                data = json.load(file)
            since = int(data["since"])
            ended = frozenset(str(sid) for sid in data["ended"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise Denied("The list of ended sign-ins cannot be read; sign in again later.") from error
        with self._lock:
            self._seen, self._since, self._ended = stamp, since, ended

    def check(self, claims: dict) -> None:
        """Raises Denied when the header's session has ended, or it predates the gateway's start."""
        sid, iat = claims.get("sid"), claims.get("iat")
        if not isinstance(sid, str) or not sid or not isinstance(iat, (int, float)):
            raise Denied("The identity header is not bound to a sign-in; reload the page.")
        self._load()
        if sid in self._ended:
            raise Denied("This sign-in has ended (signed out); sign in again.")
        if iat < self._since:
            raise Denied("This sign-in ended when hubless restarted; sign in again.")


class Verifier:
    """Turns a header value into verified claims, or raises Denied."""

    def __init__(self, config: IdentityConfig, keys: KeyCache | None = None, ended: EndedSessions | None = None):
        self.config = config
        self.keys = keys or KeyCache(config.keys_url)
        self.ended = ended or (EndedSessions(config.ended_sessions) if config.ended_sessions else None)

    def verify(self, token: str | None) -> dict:
        if not token:
            raise Denied(f"This request carries no {HEADER} identity header; sign in through the hubless portal.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Denied("The identity header is not a JWT.") from error
        # Checked before any key is fetched: "alg: none" and HS256 tricks never get further.
        if header.get("alg") != ALGORITHM:
            raise Denied(f"The identity header must be signed with {ALGORITHM}.")
        if header.get("signer") not in self.config.signers:
            raise Denied("The identity header was signed by a load balancer this lab does not trust.")
        if self.config.client is not None and header.get("client") != self.config.client:
            raise Denied("The identity header was issued for another client.")
        if "iss" in header and header.get("iss") != self.config.issuer:
            raise Denied("The identity header names another issuer.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _SAFE_KID.match(kid):
            raise Denied("The identity header has no usable key id (kid).")
        key = self.keys.get(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                issuer=self.config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as error:
            raise Denied("The identity header has expired; reload the page.") from error
        except jwt.InvalidIssuerError as error:
            raise Denied("The identity header names another issuer.") from error
        except jwt.PyJWTError as error:
            raise Denied(f"The identity header is not valid ({type(error).__name__}).") from error
        if self.ended is not None:
            self.ended.check(claims)
        return claims

    def owner_of(self, token: str | None) -> str:
        """The owner's name when the header is valid and names the owner; Denied otherwise."""
        claims = self.verify(token)
        username = claims.get("username")
        if not isinstance(username, str) or not username:
            raise Denied("The identity header names no user.")
        # Logins are case-insensitive (core's normaliseUsername lowercases), so compare keys.
        if username.strip().lower() != self.config.owner:
            raise Denied(f"This server belongs to {self.config.owner}.")
        return self.config.owner
