"""hubless's owner check for Jupyter servers.

The lab serves only its owner: every request must carry the front door's signed identity
header (``x-amzn-oidc-data``) naming ``HUBLESS_OWNER``, or the control plane's token in an
``Authorization: token ...`` header. Use ``hubless_lab.jupyter1.OwnerLoginHandler`` as
``ServerApp.login_handler_class`` on jupyter-server 1.x and
``hubless_lab.jupyter2.OwnerIdentityProvider`` as ``ServerApp.identity_provider_class`` on 2.x
(``jupyter_server_config.py`` picks the right one).

Settings (environment): HUBLESS_OWNER, HUBLESS_IDENTITY_KEYS_URL, HUBLESS_IDENTITY_SIGNER
(comma-separated ARNs), HUBLESS_IDENTITY_ISSUER, HUBLESS_IDENTITY_CLIENT (optional),
HUBLESS_LAB_TOKEN.
"""

from .identity import HEADER, Denied, IdentityConfig, KeyCache, Verifier

__all__ = ["HEADER", "Denied", "IdentityConfig", "KeyCache", "Verifier"]
