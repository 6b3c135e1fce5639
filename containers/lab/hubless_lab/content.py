"""Course material in the lab's home, merged the way nbgitpuller merges.

At server start (``jupyter_server_config.py`` calls :func:`sync_from_environment`) the
lab pulls the course's git repository into ``~/<folder>``, running as the lab's own user
in its own home, before the server answers (so the student is sent to a notebook that
is already there). The rules, for a student who has worked in the folder since:

* a file the teacher added appears;
* a file the teacher changed is updated, unless the student changed it too: then the
  student's file stays exactly as it is and the teacher's new version is written next to
  it as ``<name>.course-update<ext>`` (the conflict is shown, nothing is lost);
* a file the student deleted is restored (from the teacher's latest version);
* a file the student created that the teacher now adds under the same name stays the
  student's; the teacher's goes next to it, as for an edit;
* anything else the student made is left alone.

Nothing is committed in the student's copy: HEAD always is the teacher's last version
seen, and the working tree is the student's. That is what makes the next pull's
question ("did the student change this file?") a plain ``git status``.

Settings (environment): HUBLESS_CONTENT_REPO (a git URL), HUBLESS_CONTENT_BRANCH
(default: the repository's default branch), HUBLESS_CONTENT_DIR (the folder in the home;
default: the repository's name). A failed pull never stops the server: it is logged and
written to ``~/<folder>.sync-error.txt`` for the student to see.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("hubless_lab.content")

UPDATE_MARK = ".course-update"
GIT_TIMEOUT_SECONDS = 120
# What git gets: never prompt (a private repository must fail, not hang the start), and
# ignore the user's and the system's git config (a student's ~/.gitconfig could carry hooks or
# aliases that change what the commands below mean).
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ASKPASS": "true",
    "LC_ALL": "C",
}


class SyncError(Exception):
    """A pull that could not be done; the message says why and what to do."""


@dataclasses.dataclass
class SyncResult:
    folder: Path
    cloned: bool = False
    updated: list[str] = dataclasses.field(default_factory=list)
    restored: list[str] = dataclasses.field(default_factory=list)
    # (the student's file, where the teacher's new version was written)
    kept: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        if self.cloned:
            return f"course material copied into {self.folder}"
        parts = [f"{len(self.updated)} updated", f"{len(self.restored)} restored"]
        if self.kept:
            parts.append(
                "kept your version of "
                + ", ".join(f"{mine} (the course's new version is in {theirs})" for mine, theirs in self.kept)
            )
        return f"course material in {self.folder}: " + "; ".join(parts)


def folder_name(repo: str) -> str:
    """nbgitpuller's default: the repository's last path segment without ``.git``."""
    name = re.sub(r"\.git$", "", repo.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise SyncError(f"Cannot name a folder after the repository {repo!r}; set HUBLESS_CONTENT_DIR.")
    return name


def update_name(path: str) -> str:
    """Where the teacher's version of a file the student changed goes: lab.ipynb -> lab.course-update.ipynb."""
    head, sep, name = path.rpartition("/")
    stem, dot, ext = name.partition(".") if not name.startswith(".") else (name, "", "")
    return f"{head}{sep}{stem}{UPDATE_MARK}{dot}{ext}"


def _git(folder: Path | None, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    command = ["git", *(["-C", str(folder)] if folder else []), *args]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as error:
        raise SyncError("git is not installed in this lab, so course material cannot be pulled.") from error
    except subprocess.TimeoutExpired as error:
        raise SyncError(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS} s (is the repository reachable?)") from error
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise SyncError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {done.returncode}'}")
    return done.stdout


def _paths(output: str) -> list[str]:
    return [line for line in output.split("\0") if line]


def sync(repo: str, branch: str | None, home: Path, folder: str | None = None) -> SyncResult:
    """Pulls ``repo`` (``branch``) into ``home/folder``; see the module's rules."""
    target = home / (folder or folder_name(repo))
    result = SyncResult(folder=target)
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        clone = ["clone", "--quiet", "--no-hardlinks"]
        if branch:
            clone += ["--branch", branch]
        _git(None, *clone, "--", repo, str(target))
        result.cloned = True
        return result
    if not (target / ".git").is_dir():
        raise SyncError(
            f"{target} exists and is not the course's copy; rename it, and the course material is copied in at the next start."
        )
    origin = _git(target, "remote", "get-url", "origin").strip()
    if origin != repo:
        raise SyncError(f"{target} holds another repository ({origin}); rename it to get {repo}.")

    ref = f"origin/{branch}" if branch else "origin/HEAD"
    if branch:
        _git(target, "fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    else:
        _git(target, "fetch", "--quiet", "origin")
        _git(target, "remote", "set-head", "origin", "--auto")
    upstream = set(_paths(_git(target, "diff", "-z", "--name-only", "HEAD", ref)))

    # Unstage whatever the student staged: the index then equals HEAD, and a file the student
    # added with `git add` counts as untracked like any other new file.
    _git(target, "reset", "--quiet")
    changed, deleted, untracked = set(), set(), set()
    for entry in _paths(_git(target, "status", "-z", "--porcelain", "--untracked-files=all", "--no-renames")):
        code, path = entry[:2], entry[3:]
        if code == "??":
            untracked.add(path)
        elif "D" in code:
            deleted.add(path)
        else:
            changed.add(path)
    new_upstream = set(_paths(_git(target, "diff", "-z", "--name-only", "--diff-filter=A", "HEAD", ref)))

    # The student's versions that would clash with the teacher's are set aside in memory,
    # the copy is moved to the teacher's version, then the student's files go back.
    mine: dict[str, bytes] = {}
    for path in sorted((changed & upstream) | (untracked & new_upstream)):
        mine[path] = (target / path).read_bytes()
        if path in untracked:
            (target / path).unlink()
        else:
            _git(target, "checkout", "--quiet", "HEAD", "--", path)
    # Deleted files are restored: from the teacher's latest version by the reset below
    # when the teacher changed them, from HEAD otherwise.
    for path in sorted(deleted - upstream):
        _git(target, "checkout", "--quiet", "HEAD", "--", path)
        result.restored.append(path)
    for path in sorted(deleted & upstream):
        _git(target, "checkout", "--quiet", "HEAD", "--", path)
        if _exists_in(target, ref, path):
            result.restored.append(path)

    # --keep moves HEAD and the files the student did not touch, and refuses (rather than
    # overwrites) if anything the student changed would be lost; a teacher's force-push is fine.
    _git(target, "reset", "--quiet", "--keep", ref)
    result.updated = sorted(upstream - set(mine) - deleted)

    for path, content in mine.items():
        if (target / path).exists():
            aside = update_name(path)
            (target / aside).write_bytes((target / path).read_bytes())
            result.kept.append((path, aside))
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(content)
    _exclude_updates(target)
    return result


def _exists_in(target: Path, ref: str, path: str) -> bool:
    return bool(_git(target, "ls-tree", "--name-only", ref, "--", path).strip())


def _exclude_updates(target: Path) -> None:
    """The course-update copies are ours, not the student's work: git status should not count them."""
    exclude = target / ".git" / "info" / "exclude"
    pattern = f"*{UPDATE_MARK}*"
    existing = exclude.read_text() if exclude.exists() else ""
    if pattern not in existing.splitlines():
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text(existing + ("" if existing.endswith("\n") or not existing else "\n") + pattern + "\n")


def sync_from_environment(environ: dict[str, str] | None = None) -> SyncResult | None:
    """What the lab runs at start: pulls when HUBLESS_CONTENT_REPO is set, never raises."""
    env = os.environ if environ is None else environ
    repo = env.get("HUBLESS_CONTENT_REPO", "").strip()
    if not repo:
        return None
    home = Path(env.get("HOME") or Path.home())
    folder = env.get("HUBLESS_CONTENT_DIR", "").strip() or None
    if folder and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", folder):
        print(f"hubless: HUBLESS_CONTENT_DIR {folder!r} is not a folder name; using the repository's name", file=sys.stderr)
        folder = None
    branch = env.get("HUBLESS_CONTENT_BRANCH", "").strip() or None
    name = folder or "course"
    try:
        name = folder or folder_name(repo)
        result = sync(repo, branch, home, name)
    except (SyncError, OSError) as error:
        message = f"hubless: the course material from {repo} could not be pulled: {error}"
        print(message, file=sys.stderr)
        try:
            (home / f"{name}.sync-error.txt").write_text(message + "\n")
        except OSError:
            pass
        return None
    (home / f"{name}.sync-error.txt").unlink(missing_ok=True)
    print(f"hubless: {result.summary()}", file=sys.stderr)
    return result
