"""Job coaches' local accounts (hashed passwords) and their login sessions.

Passwords are hashed with scrypt (Python's ``hashlib``, no extra package) with a random
salt per account; the accounts file holds only the hashes and is written with mode 0600.
Sessions live in the web service's memory (a restart logs everyone out) and expire after
``SESSION_S`` of no use; the cookie carries only a random token. Time is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SESSION_S = 8 * 3600.0
MIN_PASSWORD = 8
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")


class AccountError(ValueError):
    """A bad username, password or accounts file; the message says what is allowed."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


@dataclass(frozen=True)
class Coach:
    username: str
    name: str          # shown on the bench when they answer a help call ("Els is on the way")


class Accounts:
    """The accounts file: ``{"coaches": {username: {"name": ..., "hash": ...}}}``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._coaches: dict[str, dict[str, str]] = {}
        self.load()

    def refresh(self) -> None:
        """Read the file again if it changed (a coach added or removed while the page runs)."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self.load()

    def exists(self, username: str) -> bool:
        return username in self._coaches

    def load(self) -> None:
        try:
            self._stamp: int | None = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._stamp = None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._coaches = {}
            return
        except (OSError, ValueError) as exc:
            raise AccountError(f"{self.path}: cannot read the coaches' accounts ({exc})") from None
        coaches = data.get("coaches") if isinstance(data, dict) else None
        if not isinstance(coaches, dict):
            raise AccountError(f"{self.path}: not an accounts file (no 'coaches' mapping)")
        self._coaches = coaches

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"coaches": self._coaches}, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
        self._stamp = self.path.stat().st_mtime_ns

    def __len__(self) -> int:
        return len(self._coaches)

    def usernames(self) -> list[str]:
        return sorted(self._coaches)

    def set(self, username: str, password: str, name: str = "") -> Coach:
        """Add a coach or change their password (and display name)."""
        if not USERNAME.match(username):
            raise AccountError(f"username {username!r}: 2-32 characters, lower case letters, digits, '.', '_', '-'")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
        self._coaches[username] = {"name": name or username, "hash": hash_password(password)}
        self._save()
        return Coach(username, name or username)

    def remove(self, username: str) -> bool:
        if self._coaches.pop(username, None) is None:
            return False
        self._save()
        return True

    def check(self, username: str, password: str) -> Coach | None:
        entry = self._coaches.get(username)
        if entry is None:
            verify_password(password, hash_password("x" * MIN_PASSWORD))  # same time for a wrong name
            return None
        if not verify_password(password, entry.get("hash", "")):
            return None
        return Coach(username, entry.get("name") or username)


@dataclass
class Session:
    token: str
    coach: Coach
    csrf: str
    last_used: float


class Sessions:
    def __init__(self, lifetime_s: float = SESSION_S):
        self.lifetime_s = lifetime_s
        self._by_token: dict[str, Session] = {}

    def open(self, coach: Coach, now: float) -> Session:
        s = Session(secrets.token_urlsafe(32), coach, secrets.token_urlsafe(16), now)
        self._by_token[s.token] = s
        return s

    def get(self, token: str | None, now: float) -> Session | None:
        if not token:
            return None
        s = self._by_token.get(token)
        if s is None:
            return None
        if now - s.last_used > self.lifetime_s:
            del self._by_token[token]
            return None
        s.last_used = now
        return s

    def close(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)
