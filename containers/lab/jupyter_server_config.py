"""Jupyter server settings for a hubless lab (the container's and local mode's).

Everything comes from the environment the control plane sets on the task:
  HUBLESS_BASE_URL                    /user/<key>/ (or /user/<key>/<server>/)
  HUBLESS_LAB_TOKEN_SHA256            SHA-256 of the control plane's token (never the token itself;
                                      the token is accepted in the Authorization header only)
  HUBLESS_OWNER, HUBLESS_IDENTITY_*   the owner check (see hubless_lab/__init__.py)
  HUBLESS_IDLE_TIMEOUT_SECONDS        idle kernels are culled after this (default 3600)
  HUBLESS_SHUTDOWN_NO_ACTIVITY_SECONDS the server stops itself after this long without
                                      activity (default 2x idle): a safety net for when the
                                      control plane's culler cannot reach the lab.
  HUBLESS_CONTENT_REPO, _BRANCH, _DIR  course material merged into the home at start
                                      (hubless_lab/content.py)
Command-line flags override these (local mode sets ip and port that way).
"""

import os

import jupyter_server

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)  # a bad value should stop the server, not be guessed
    if value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {raw!r}")
    return value


c.ServerApp.base_url = os.environ.get("HUBLESS_BASE_URL", "/")
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = 8888
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
# The ALB / gateway forwards with the public host name; the owner check is the guard.
c.ServerApp.allow_remote_access = True
c.ServerApp.trust_xheaders = True

# The owner check decides every request (hubless_lab.gate); jupyter's own token is unused,
# and the control plane's token is never given to the lab, only its hash.
if jupyter_server.version_info[0] >= 2:
    c.ServerApp.identity_provider_class = "hubless_lab.jupyter2.OwnerIdentityProvider"
else:
    c.ServerApp.login_handler_class = "hubless_lab.jupyter1.OwnerLoginHandler"

idle = _seconds("HUBLESS_IDLE_TIMEOUT_SECONDS", 3600)
c.MappingKernelManager.cull_idle_timeout = idle
c.MappingKernelManager.cull_interval = max(60, min(300, idle // 4)) if idle else 300
# An idle kernel holds memory (what a Fargate task is sized and billed by) even with a tab
# open; its notebook stays saved, so culling connected-but-idle kernels is safe.
c.MappingKernelManager.cull_connected = True
c.MappingKernelManager.cull_busy = False
c.TerminalManager.cull_inactive_timeout = idle
c.TerminalManager.cull_interval = 300
c.ServerApp.shutdown_no_activity_timeout = _seconds("HUBLESS_SHUTDOWN_NO_ACTIVITY_SECONDS", 2 * idle)

# Course material (HUBLESS_CONTENT_REPO): pulled into the home before the server answers, so
# a launch that opens one of its notebooks finds it there. A failed pull is reported in the
# home and the log, and never stops the server.
from hubless_lab.content import sync_from_environment  # noqa: E402

sync_from_environment()
