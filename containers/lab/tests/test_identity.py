"""The owner check's token verification, with keys made here (no network)."""

import base64
import hashlib
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hubless_lab.gate import CONTROL_PLANE_USER, Gate
from hubless_lab.identity import HEADER, Denied, IdentityConfig, KeyCache, Verifier

SIGNER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hubless-0/abc"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
KEYS_URL = "https://public-keys.auth.elb.eu-west-1.amazonaws.com"


def new_key():
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem


class Keys:
    """A key server in memory: kid -> PEM, counting fetches."""

    def __init__(self):
        self.pems = {}
        self.fetched = []

    def add(self):
        kid = str(uuid.uuid4())
        private, pem = new_key()
        self.pems[kid] = pem
        return kid, private

    def fetch(self, url):
        self.fetched.append(url)
        kid = url.rsplit("/", 1)[-1]
        if not url.startswith(KEYS_URL + "/") or kid not in self.pems:
            raise OSError(f"404 {url}")
        return self.pems[kid]


def sign(private, kid, username="alice", *, exp_in=60, signer=SIGNER, iss=ISSUER, alg="ES256", drop=()):
    now = int(time.time())
    headers = {"kid": kid, "signer": signer, "iss": iss, "client": "client-1", "exp": now + exp_in}
    for name in drop:
        headers.pop(name, None)
    claims = {"sub": str(uuid.uuid4()), "username": username, "email": f"{username}@example.org", "exp": now + exp_in, "iss": iss}
    token = jwt.encode(claims, private, algorithm=alg, headers=headers)
    if "kid" in drop:
        # PyJWT always accepts a kid argument; rebuild the header without it.
        head, payload, signature = token.split(".")
        raw = json.loads(base64.urlsafe_b64decode(head + "=="))
        raw.pop("kid", None)
        head = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
        token = ".".join([head, payload, signature])
    return token


def unsigned(kid, username="alice"):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    head = part({"alg": "none", "kid": kid, "signer": SIGNER, "iss": ISSUER})
    body = part({"username": username, "exp": now + 60, "iss": ISSUER})
    return f"{head}.{body}."


@pytest.fixture
def keys():
    return Keys()


@pytest.fixture
def verifier(keys):
    config = IdentityConfig(owner="alice", keys_url=KEYS_URL, signers=(SIGNER,), issuer=ISSUER)
    return Verifier(config, KeyCache(KEYS_URL, keys.fetch))


def denied_reason(verifier, token):
    with pytest.raises(Denied) as caught:
        verifier.owner_of(token)
    return caught.value.reason


class TestOwnerOf:
    def test_accepts_a_valid_header_that_names_the_owner(self, keys, verifier):
        kid, private = keys.add()
        assert verifier.owner_of(sign(private, kid)) == "alice"

    def test_compares_usernames_without_case(self, keys, verifier):
        kid, private = keys.add()
        assert verifier.owner_of(sign(private, kid, username="Alice")) == "alice"

    def test_refuses_another_user_and_names_the_owner(self, keys, verifier):
        kid, private = keys.add()
        assert denied_reason(verifier, sign(private, kid, username="bob")) == "This server belongs to alice."

    # Near misses of the owner "alice": a prefix or suffix match, a look-alike, or a
    # character the username rule never allows must all be refused.
    @pytest.mark.parametrize(
        "username",
        ["ali", "alic", "alice2", "alicex", "alice-", "alice.", ".alice", "xalice", "alice bob", "a", "bob"],
    )
    def test_refuses_a_near_miss_of_the_owner(self, keys, verifier, username):
        kid, private = keys.add()
        assert denied_reason(verifier, sign(private, kid, username=username)) == "This server belongs to alice."

    # The username rule makes logins case-insensitive (core lowercases them), so case alone
    # does not make another user.
    @pytest.mark.parametrize("username", ["ALICE", "aLiCe", "Alice"])
    def test_accepts_the_owner_in_any_case(self, keys, verifier, username):
        kid, private = keys.add()
        assert verifier.owner_of(sign(private, kid, username=username)) == "alice"

    def test_refuses_an_expired_header(self, keys, verifier):
        kid, private = keys.add()
        assert "expired" in denied_reason(verifier, sign(private, kid, exp_in=-31))

    def test_refuses_a_header_without_expiry(self, keys, verifier):
        kid, private = keys.add()
        claims = {"sub": "s", "username": "alice", "iss": ISSUER}
        token = jwt.encode(claims, private, algorithm="ES256", headers={"kid": kid, "signer": SIGNER, "iss": ISSUER})
        assert "not valid" in denied_reason(verifier, token)

    def test_refuses_a_key_on_another_curve(self, keys, verifier):
        kid = str(uuid.uuid4())
        private = ec.generate_private_key(ec.SECP384R1())
        keys.pems[kid] = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        p256, _ = new_key()
        assert "not a P-256 key" in denied_reason(verifier, sign(p256, kid))

    def test_allows_thirty_seconds_of_clock_skew(self, keys, verifier):
        kid, private = keys.add()
        assert verifier.owner_of(sign(private, kid, exp_in=-20)) == "alice"

    def test_refuses_a_forged_signature(self, keys, verifier):
        kid, _ = keys.add()
        forger, _ = new_key()
        assert "not valid" in denied_reason(verifier, sign(forger, kid))

    def test_refuses_a_header_from_an_untrusted_load_balancer(self, keys, verifier):
        kid, private = keys.add()
        other = SIGNER.replace("hubless-0", "someone-else")
        assert "does not trust" in denied_reason(verifier, sign(private, kid, signer=other))
        assert keys.fetched == [], "no key is fetched for an untrusted signer"

    def test_refuses_another_issuer(self, keys, verifier):
        kid, private = keys.add()
        assert "issuer" in denied_reason(verifier, sign(private, kid, iss="https://evil.example"))

    def test_refuses_another_issuer_in_the_claims_only(self, keys, verifier):
        kid, private = keys.add()
        token = sign(private, kid, iss="https://evil.example", drop=("iss",))
        assert "issuer" in denied_reason(verifier, token)

    def test_refuses_another_issuer_in_the_header_only(self, keys, verifier):
        kid, private = keys.add()
        now = int(time.time())
        claims = {"sub": "s", "username": "alice", "exp": now + 60, "iss": ISSUER}
        headers = {"kid": kid, "signer": SIGNER, "iss": "https://evil.example"}
        token = jwt.encode(claims, private, algorithm="ES256", headers=headers)
        assert denied_reason(verifier, token) == "The identity header names another issuer."
        assert keys.fetched == [], "no key is fetched for another issuer"

    def test_refuses_an_unsigned_header(self, keys, verifier):
        kid, _ = keys.add()
        assert "ES256" in denied_reason(verifier, unsigned(kid))

    def test_refuses_a_header_without_kid(self, keys, verifier):
        kid, private = keys.add()
        assert "kid" in denied_reason(verifier, sign(private, kid, drop=("kid",)))

    def test_refuses_a_kid_that_would_change_the_key_url(self, keys, verifier):
        _, private = keys.add()
        assert "kid" in denied_reason(verifier, sign(private, "../../evil"))
        assert keys.fetched == []

    def test_refuses_an_unknown_kid(self, keys, verifier):
        _, private = keys.add()
        assert "could not be fetched" in denied_reason(verifier, sign(private, str(uuid.uuid4())))

    def test_refuses_a_missing_header(self, verifier):
        assert HEADER in denied_reason(verifier, None)

    def test_refuses_garbage(self, verifier):
        assert "not a JWT" in denied_reason(verifier, "not-a-jwt")

    def test_refuses_a_header_without_username(self, keys, verifier):
        kid, private = keys.add()
        assert "no user" in denied_reason(verifier, sign(private, kid, username=""))

    def test_checks_the_client_when_configured(self, keys):
        kid, private = keys.add()
        config = IdentityConfig(owner="alice", keys_url=KEYS_URL, signers=(SIGNER,), issuer=ISSUER, client="client-2")
        verifier = Verifier(config, KeyCache(KEYS_URL, keys.fetch))
        assert "another client" in denied_reason(verifier, sign(private, kid))

    def test_fetches_each_key_once(self, keys, verifier):
        kid, private = keys.add()
        verifier.owner_of(sign(private, kid))
        verifier.owner_of(sign(private, kid))
        assert keys.fetched == [f"{KEYS_URL}/{kid}"]


class TestConfig:
    def test_reads_the_environment(self):
        config = IdentityConfig.from_env(
            {
                "HUBLESS_OWNER": "Alice",
                "HUBLESS_IDENTITY_KEYS_URL": KEYS_URL + "/",
                "HUBLESS_IDENTITY_SIGNER": f"{SIGNER}, arn:two",
                "HUBLESS_IDENTITY_ISSUER": ISSUER,
            }
        )
        assert config == IdentityConfig(owner="alice", keys_url=KEYS_URL, signers=(SIGNER, "arn:two"), issuer=ISSUER)

    def test_names_every_missing_variable(self):
        with pytest.raises(ValueError) as caught:
            IdentityConfig.from_env({"HUBLESS_OWNER": "alice"})
        for name in ("HUBLESS_IDENTITY_KEYS_URL", "HUBLESS_IDENTITY_SIGNER", "HUBLESS_IDENTITY_ISSUER"):
            assert name in str(caught.value)


class TestGate:
    def make(self, keys, token="lab-token"):
        # The lab is given the token's hash, never the token.
        config = IdentityConfig(owner="alice", keys_url=KEYS_URL, signers=(SIGNER,), issuer=ISSUER)
        token_hash = hashlib.sha256(token.encode()).hexdigest() if token else ""
        return Gate(Verifier(config, KeyCache(KEYS_URL, keys.fetch)), token_hash)

    def test_lets_the_control_plane_in_with_its_token(self, keys):
        caller = self.make(keys).identify({"Authorization": "token lab-token"})
        assert (caller.name, caller.by_token) == (CONTROL_PLANE_USER, True)

    def test_refuses_a_wrong_token(self, keys):
        with pytest.raises(Denied):
            self.make(keys).identify({"Authorization": "token nope"})

    def test_an_empty_token_setting_lets_no_token_in(self, keys):
        with pytest.raises(Denied):
            self.make(keys, token="").identify({"Authorization": "token "})

    def test_identifies_the_owner_by_header(self, keys):
        kid, private = keys.add()
        caller = self.make(keys).identify({HEADER: sign(private, kid)})
        assert (caller.name, caller.by_token) == ("alice", False)

    def test_refuses_everyone_when_unconfigured(self):
        gate = Gate.from_env({"HUBLESS_LAB_TOKEN_SHA256": "0" * 64})
        with pytest.raises(Denied) as caught:
            gate.identify({})
        assert "HUBLESS_OWNER" in caught.value.reason


class TestEndedSessions:
    """Local mode: a header of a session the gateway has ended (signed out) is refused at once."""

    @staticmethod
    def bound(private, kid, sid="s1", iat=None):
        now = int(time.time())
        headers = {"kid": kid, "signer": SIGNER, "iss": ISSUER, "client": "client-1", "exp": now + 60}
        claims = {"sub": "alice", "username": "alice", "exp": now + 60, "iss": ISSUER, "iat": iat or now}
        if sid is not None:
            claims["sid"] = sid
        return jwt.encode(claims, private, algorithm="ES256", headers=headers)

    @pytest.fixture
    def ended_file(self, tmp_path):
        path = tmp_path / "ended-sessions.json"

        def write(since=0, ended=()):
            # As the gateway writes it: a new file renamed over the old one.
            temp = tmp_path / "ended.tmp"
            temp.write_text(json.dumps({"version": 1, "since": since, "ended": {sid: 0 for sid in ended}}))
            temp.replace(path)

        write()
        return path, write

    @pytest.fixture
    def bound_verifier(self, keys, ended_file):
        config = IdentityConfig(
            owner="alice", keys_url=KEYS_URL, signers=(SIGNER,), issuer=ISSUER, ended_sessions=str(ended_file[0])
        )
        return Verifier(config, KeyCache(KEYS_URL, keys.fetch))

    def test_accepts_a_live_session_then_refuses_it_once_ended(self, keys, bound_verifier, ended_file):
        kid, private = keys.add()
        token = self.bound(private, kid, sid="s1")
        assert bound_verifier.owner_of(token) == "alice"
        ended_file[1](ended=["s1"])
        assert denied_reason(bound_verifier, token) == "This sign-in has ended (signed out); sign in again."
        # Another session of the same user is unaffected.
        assert bound_verifier.owner_of(self.bound(private, kid, sid="s2")) == "alice"

    def test_refuses_a_header_issued_before_the_gateway_started(self, keys, bound_verifier, ended_file):
        kid, private = keys.add()
        now = int(time.time())
        ended_file[1](since=now)
        assert bound_verifier.owner_of(self.bound(private, kid, iat=now)) == "alice"
        assert "restarted" in denied_reason(bound_verifier, self.bound(private, kid, iat=now - 5))

    def test_refuses_a_header_without_a_session_id(self, keys, bound_verifier):
        kid, private = keys.add()
        assert "not bound to a sign-in" in denied_reason(bound_verifier, self.bound(private, kid, sid=None))

    @pytest.mark.parametrize("content", [None, "", "{", '{"since": 0}', '{"since": "x", "ended": {}}'])
    def test_refuses_everyone_when_the_list_cannot_be_read(self, keys, bound_verifier, ended_file, content):
        kid, private = keys.add()
        path = ended_file[0]
        if content is None:
            path.unlink()
        else:
            path.write_text(content)
        assert "cannot be read" in denied_reason(bound_verifier, self.bound(private, kid))

    def test_without_a_list_headers_need_no_session_id(self, keys, verifier):
        # AWS: the ALB's header has no sid; no list is configured there.
        kid, private = keys.add()
        assert verifier.owner_of(self.bound(private, kid, sid=None)) == "alice"

    def test_the_list_is_read_from_the_environment(self):
        env = {
            "HUBLESS_OWNER": "alice",
            "HUBLESS_IDENTITY_KEYS_URL": KEYS_URL,
            "HUBLESS_IDENTITY_SIGNER": SIGNER,
            "HUBLESS_IDENTITY_ISSUER": ISSUER,
            "HUBLESS_IDENTITY_ENDED_SESSIONS": "/srv/ended.json",
        }
        assert IdentityConfig.from_env(env).ended_sessions == "/srv/ended.json"
        del env["HUBLESS_IDENTITY_ENDED_SESSIONS"]
        assert IdentityConfig.from_env(env).ended_sessions is None
