"""The owner check for jupyter-server 1.x, through its LoginHandler hook.

jupyter-server 1.x asks ``ServerApp.login_handler_class.get_user(handler)`` whenever a
handler needs a user (REST API, pages, kernel WebSockets in ``pre_get``), and never for
the version endpoint ``<base_url>api``, which stays open for health checks. A refused
request raises 403 right here rather than returning None: None would make page handlers
redirect to a login form, and the lab has no login of its own (the front door is the login).
"""

from __future__ import annotations

from jupyter_server.auth.login import LoginHandler
from tornado import web

from .gate import Gate, refuse_to_start_unconfigured
from .identity import Denied


class OwnerLoginHandler(LoginHandler):
    _gate: Gate | None = None

    @classmethod
    def gate(cls, handler) -> Gate:
        if cls._gate is None:
            cls._gate = Gate.from_env()
        return cls._gate

    @classmethod
    def get_user(cls, handler):
        cached = getattr(handler, "_user_id", None)
        if cached:
            return cached
        # Already refused in this request: error pages ask again while rendering.
        if getattr(handler, "_hubless_denied", None):
            return None
        try:
            caller = cls.gate(handler).identify(handler.request.headers)
        except Denied as denied:
            handler._hubless_denied = denied.reason
            handler.log.warning("Refused %s %s: %s", handler.request.method, handler.request.path, denied.reason)
            raise web.HTTPError(403, denied.reason) from None
        handler._token_authenticated = caller.by_token
        handler._user_id = caller.name
        return caller.name

    @classmethod
    def get_token(cls, handler):
        """Only the Authorization header: a token in a URL leaks into logs."""
        match = cls.auth_header_pat.match(handler.request.headers.get("Authorization", ""))
        return match.group(1) if match else ""

    @classmethod
    def is_token_authenticated(cls, handler):
        # Answered from the header alone: jupyter asks this while checking origins, before
        # any handler wants a user, and a refusal raised there would be swallowed.
        return cls.gate(handler).is_token(handler.request.headers)

    @classmethod
    def get_login_available(cls, settings):
        # Authentication is always on; there is just no form to log in with.
        return True

    @classmethod
    def validate_security(cls, app, ssl_options=None):
        super().validate_security(app, ssl_options)
        refuse_to_start_unconfigured(app)

    def get(self):
        raise web.HTTPError(403, "This lab has no login page: open it through the hubless portal.")

    def post(self):
        raise web.HTTPError(403, "This lab has no login page: open it through the hubless portal.")
