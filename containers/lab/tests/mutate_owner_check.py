"""Mutation testing of the lab's owner check: applies each mutant below to a copy of
hubless_lab/identity.py, runs the lab's pytest suite against it and expects a failure.
A mutant the tests do not notice is a gap. Run by `npm run mutation` (not collected by
pytest: the file name does not start with test_).

    /usr/bin/python3 containers/lab/tests/mutate_owner_check.py

Prints one line per mutant and `N killed, N survived`; exits 1 when one survives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

LAB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join("hubless_lab", "identity.py")

# (what it breaks, original text, mutated text)
MUTANTS = [
    ("owner compared by prefix (ali reaches alice)",
     "if username.strip().lower() != self.config.owner:",
     "if not self.config.owner.startswith(username.strip().lower()):"),
    ("owner compared as a prefix of the username (alicex reaches alice)",
     "if username.strip().lower() != self.config.owner:",
     "if not username.strip().lower().startswith(self.config.owner):"),
    ("owner compared as a substring",
     "if username.strip().lower() != self.config.owner:",
     "if self.config.owner not in username.strip().lower():"),
    ("owner compared with case",
     "if username.strip().lower() != self.config.owner:",
     "if username.strip() != self.config.owner:"),
    ("owner check removed",
     "if username.strip().lower() != self.config.owner:",
     "if False:"),
    ("empty username accepted",
     "if not isinstance(username, str) or not username:",
     "if not isinstance(username, str):"),
    ("algorithm check removed",
     'if header.get("alg") != ALGORITHM:',
     "if False:"),
    ("signer check removed",
     'if header.get("signer") not in self.config.signers:',
     "if False:"),
    ("any signer accepted as long as there is one",
     'if header.get("signer") not in self.config.signers:',
     'if not header.get("signer"):'),
    ("client check removed",
     'if self.config.client is not None and header.get("client") != self.config.client:',
     "if False:"),
    ("issuer in the header not checked",
     'if "iss" in header and header.get("iss") != self.config.issuer:',
     "if False:"),
    ("issuer in the claims not checked",
     "issuer=self.config.issuer,",
     "issuer=None,"),
    ("kid not checked before it becomes a URL",
     "if not isinstance(kid, str) or not _SAFE_KID.match(kid):",
     "if not isinstance(kid, str):"),
    ("expiry not verified",
     'options={"require": ["exp", "iss"], "verify_aud": False},',
     'options={"require": ["exp", "iss"], "verify_aud": False, "verify_exp": False},'),
    ("expiry not required",
     'options={"require": ["exp", "iss"], "verify_aud": False},',
     'options={"require": ["iss"], "verify_aud": False},'),
    ("clock skew widened to an hour",
     "LEEWAY_SECONDS = 30",
     "LEEWAY_SECONDS = 3600"),
    ("clock skew removed",
     "LEEWAY_SECONDS = 30",
     "LEEWAY_SECONDS = 0"),
    ("key curve not checked",
     'if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":',
     "if not isinstance(key, ec.EllipticCurvePublicKey):"),
    ("a missing header accepted as no user",
     "if not token:",
     "if token is None and False:"),
]


def run_pytest(lab: str) -> int:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests"],
        cwd=lab,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    ).returncode


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hubless-lab-mutants-") as work:
        lab = os.path.join(work, "lab")
        shutil.copytree(LAB, lab, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        target = os.path.join(lab, TARGET)
        with open(target, encoding="utf-8") as f:
            original = f.read()
        if run_pytest(lab) != 0:
            print("the lab's tests fail without any mutant; fix them first")
            return 1
        survived = 0
        for name, before, after in MUTANTS:
            if original.count(before) != 1:
                print(f"stale mutant (its original text is not in {TARGET} once): {name}")
                return 1
            with open(target, "w", encoding="utf-8") as f:
                f.write(original.replace(before, after))
            status = run_pytest(lab)
            killed = status != 0
            survived += 0 if killed else 1
            print(f"{'killed  ' if killed else 'SURVIVED'}  {name}")
        with open(target, "w", encoding="utf-8") as f:
            f.write(original)
        print(f"{len(MUTANTS) - survived} killed, {survived} survived")
        return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
