"""The login check behind `rag chat --auth user:password`: constant-time, and slow to guess.

gradio calls `LoginGuard(username, password)` for every POST to /login. A
wrong login is answered at once, but after `max_failures` wrong logins within
`window` seconds the name is locked: every attempt is refused, right password
or not, for `lockout` seconds, and each wrong login after a lockout (until a
right one, or `forget_after` quiet seconds) locks it again for twice as long,
up to `max_lockout`. Sixty guesses then take hours instead of a second.

`--auth` is only as strong as its password: use a long random one, and beyond
localhost put the chat behind a reverse proxy with TLS (gradio serves plain
HTTP, so the password would otherwise cross the network readable).

Failures are counted per user name for the configured name, and together for
every other name, so random names cannot grow the state without bound.
gradio runs a plain-function check on its event loop, so nothing here sleeps:
a locked login is refused, not delayed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from index.errors import RagError

__all__ = ["LoginGuard"]

log = logging.getLogger(__name__)

_OTHER_NAMES = "\0other"  # the one counter shared by every name that is not the configured one


@dataclass
class _Record:
    """Recent wrong logins for one name, and its lockout."""

    failures: deque[float] = field(default_factory=deque)  # times of wrong logins within the window
    strikes: int = 0  # lockouts since the last right login
    locked_until: float = 0.0
    last_failure: float = 0.0


def _digest(text: str) -> bytes:
    # Comparing fixed-length digests hides the length of the secret too; surrogatepass so no input can raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class LoginGuard:
    """A callable(username, password) -> bool for gradio's `launch(auth=...)`; thread-safe."""

    def __init__(
        self,
        username: str,
        password: str,
        *,
        max_failures: int = 5,
        window: float = 60.0,
        lockout: float = 30.0,
        max_lockout: float = 3600.0,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username = username
        self._user = _digest(username)
        self._password = _digest(password)
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_lockout = max_lockout
        self.forget_after = forget_after
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, auth: str, **settings: object) -> LoginGuard:
        """A guard for "user:password" (the password may hold colons)."""
        user, sep, password = auth.partition(":")
        if not sep or not user:
            raise RagError("auth must look like user:password")
        return cls(user, password, **settings)  # type: ignore[arg-type]

    def __call__(self, username: str, password: str) -> bool:
        """True for the right name and password, unless the name is locked out now."""
        # Both compared, always: `&` does not stop early, so timing says nothing about which was wrong.
        same_user = hmac.compare_digest(_digest(username), self._user)
        right = same_user & hmac.compare_digest(_digest(password), self._password)
        key = self.username if same_user else _OTHER_NAMES
        with self._lock:
            now = self._clock()
            record = self._records.get(key)
            if record is not None and now < record.locked_until:
                return False  # locked: not even the right password gets in until it expires
            if right:
                self._records.pop(key, None)
                return True
            if record is None:
                record = self._records[key] = _Record()
            self._fail(record, key, now)
            return False

    def locked_for(self, username: str) -> float:
        """Seconds until `username` may try again (0 when it may now)."""
        key = self._key(username)
        with self._lock:
            record = self._records.get(key)
            return max(0.0, record.locked_until - self._clock()) if record else 0.0

    def _key(self, username: str) -> str:
        """Whose counter a login attempt with `username` goes to."""
        return self.username if hmac.compare_digest(_digest(username), self._user) else _OTHER_NAMES

    def _fail(self, record: _Record, key: str, now: float) -> None:
        """Count a wrong login; lock the name when there were too many. Called with the lock held."""
        if record.strikes and now - record.last_failure > self.forget_after:
            record.strikes = 0  # a long quiet spell: start counting afresh
        record.last_failure = now
        record.failures.append(now)
        while record.failures and record.failures[0] <= now - self.window:
            record.failures.popleft()
        if record.strikes or len(record.failures) >= self.max_failures:
            record.strikes += 1
            delay = min(self.lockout * 2 ** min(record.strikes - 1, 30), self.max_lockout)
            record.locked_until = now + delay
            record.failures.clear()
            who = "the configured user" if key == self.username else "other user names"
            log.warning("logins for %s refused for %.0f s after repeated wrong passwords", who, delay)
