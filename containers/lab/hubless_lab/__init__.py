"""hubless's owner check for Jupyter servers.

The lab serves only its owner: every request must carry the front door's signed identity
header (``x-amzn-oidc-data``) naming ``HUBLESS_OWNER``, or the control plane's token in an
``Authorization: token ...`` header, whose SHA-256 must equal ``HUBLESS_LAB_TOKEN_SHA256``
(the lab is given only the hash). Use ``hubless_lab.jupyter1.OwnerLoginHandler`` as
``ServerApp.login_handler_class`` on jupyter-server 1.x and
``hubless_lab.jupyter2.OwnerIdentityProvider`` as ``ServerApp.identity_provider_class`` on 2.x
(``jupyter_server_config.py`` picks the right one).

Settings (environment): HUBLESS_OWNER, HUBLESS_IDENTITY_KEYS_URL, HUBLESS_IDENTITY_SIGNER
(comma-separated ARNs), HUBLESS_IDENTITY_ISSUER, HUBLESS_IDENTITY_CLIENT (optional),
HUBLESS_LAB_TOKEN_SHA256.
"""

from .identity import HEADER, Denied, IdentityConfig, KeyCache, Verifier

__all__ = ["HEADER", "Denied", "IdentityConfig", "KeyCache", "Verifier"]
