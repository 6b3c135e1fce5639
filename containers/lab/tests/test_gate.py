"""The control plane's way in: the lab holds only the token's SHA-256 and compares hashes."""

import hashlib

from hubless_lab.gate import CONTROL_PLANE_USER, Gate, token_hash_from_env

TOKEN = "9f" * 32
HASH = hashlib.sha256(TOKEN.encode()).hexdigest()


def gate(env):
    return Gate.from_env({"HUBLESS_OWNER": "alice", **env})


def auth(value):
    return {"Authorization": value}


def test_accepts_the_token_whose_hash_it_was_given():
    g = gate({"HUBLESS_LAB_TOKEN_SHA256": HASH})
    assert g.is_token(auth(f"token {TOKEN}"))
    assert g.identify(auth(f"token {TOKEN}")).name == CONTROL_PLANE_USER


def test_refuses_a_wrong_token_and_the_hash_itself():
    g = gate({"HUBLESS_LAB_TOKEN_SHA256": HASH})
    assert not g.is_token(auth("token wrong"))
    assert not g.is_token(auth(f"token {HASH}"))
    assert not g.is_token(auth(f"Bearer {TOKEN}"))


def test_accepts_no_token_without_a_hash_or_with_a_malformed_one():
    assert not gate({}).is_token(auth("token "))
    assert not gate({}).is_token(auth(f"token {TOKEN}"))
    assert token_hash_from_env({"HUBLESS_LAB_TOKEN_SHA256": "not-a-hash"}) == ""
    assert token_hash_from_env({"HUBLESS_LAB_TOKEN_SHA256": HASH.upper()}) == HASH
