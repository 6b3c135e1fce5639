"""JupyterHub's own HubOAuth (jupyterhub.services.auth), as a service runs it, pointed at
hubless by the environment JupyterHub gives its services (JUPYTERHUB_API_URL,
JUPYTERHUB_HOST, JUPYTERHUB_API_TOKEN, JUPYTERHUB_CLIENT_ID,
JUPYTERHUB_OAUTH_CALLBACK_URL). test/integration/hub-oauth.test.ts plays the browser.

    huboauth.py login-url      prints where HubOAuth sends a browser to sign in
    huboauth.py sign-in CODE   token_for_code, then user_for_token: prints the user model
"""

import json
import sys

from jupyterhub.services.auth import HubOAuth


def main(argv):
    auth = HubOAuth(cache_max_age=0)
    if argv[1:] == ["login-url"]:
        print(json.dumps({"login_url": auth.login_url, "token_url": auth.oauth_token_url}))
        return 0
    if len(argv) == 3 and argv[1] == "sign-in":
        token = auth.token_for_code(argv[2])
        user = auth.user_for_token(token, use_cache=False)
        print(json.dumps({"token": token, "user": user}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
