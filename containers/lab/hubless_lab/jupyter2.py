"""The owner check for jupyter-server 2.x, through its IdentityProvider hook.

jupyter-server 2.x asks ``identity_provider.get_user(handler)`` in ``prepare`` of every
handler, kernel WebSockets included, so this one method guards everything. Two details:
- the version endpoint ``<base_url>api`` must answer health checks that carry no identity,
  so a request to it with no credentials at all gets ``None`` (anonymous), which that
  handler accepts;
- any other refused request raises 403 here instead of returning None, because None on a
  page would redirect to a login form and the lab has no login of its own.
"""

from __future__ import annotations

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import APIVersionHandler
from tornado import web

from .gate import Gate, refuse_to_start_unconfigured
from .identity import HEADER, Denied


class OwnerIdentityProvider(IdentityProvider):
    _gate: Gate | None = None

    def gate(self) -> Gate:
        if self._gate is None:
            self._gate = Gate.from_env()
        return self._gate

    def get_user(self, handler: web.RequestHandler) -> User | None:
        headers = handler.request.headers
        if isinstance(handler, APIVersionHandler) and HEADER not in headers and "Authorization" not in headers:
            return None
        try:
            caller = self.gate().identify(headers)
        except Denied as denied:
            # Set before raising so error pages that ask for the user find "nobody".
            handler.current_user = handler._jupyter_current_user = None  # type: ignore[attr-defined]
            self.log.warning("Refused %s %s: %s", handler.request.method, handler.request.path, denied.reason)
            raise web.HTTPError(403, denied.reason) from None
        handler._token_authenticated = caller.by_token  # type: ignore[attr-defined]
        return User(username=caller.name, name=caller.name, display_name=caller.name)

    def get_token(self, handler: web.RequestHandler) -> str | None:
        """Only the Authorization header: a token in a URL leaks into logs."""
        match = self.auth_header_pat.match(handler.request.headers.get("Authorization", ""))
        return match.group(2) if match else None

    def validate_security(self, app, ssl_options=None) -> None:
        super().validate_security(app, ssl_options)
        refuse_to_start_unconfigured(app)
