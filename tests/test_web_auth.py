"""`rag chat --auth`: ui/web_auth.py's LoginGuard with a hand-driven clock, then on a launched app's /login."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from index.errors import RagError
from ui.web_auth import LoginGuard


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(clock: Clock, **settings: float) -> LoginGuard:
    return LoginGuard("ada", "correct horse", clock=clock, **settings)


def test_the_right_login_passes_and_wrong_ones_fail() -> None:
    check = guard(Clock())
    assert check("ada", "correct horse")
    assert not check("ada", "correct hors")
    assert not check("ada", "correct horse ")
    assert not check("bob", "correct horse")
    assert not check("ada", "")
    assert not check("ada", "\ud800")  # nothing a browser can send makes the check raise


def test_five_failures_in_a_minute_lock_the_name_even_for_the_right_password() -> None:
    clock = Clock()
    check = guard(clock, lockout=30)
    for _ in range(4):
        assert not check("ada", "guess")
        clock.now += 1
    assert check.locked_for("ada") == 0
    assert not check("ada", "guess")  # the fifth: locked from now on
    assert check.locked_for("ada") == 30
    assert not check("ada", "correct horse")
    clock.now += 29.5
    assert not check("ada", "correct horse")
    clock.now += 1
    assert check("ada", "correct horse")  # the lockout is over; a right login clears the record
    assert check.locked_for("ada") == 0


def test_failures_spread_over_more_than_a_minute_do_not_lock() -> None:
    clock = Clock()
    check = guard(clock)
    for _ in range(20):
        assert not check("ada", "typo")
        clock.now += 15  # four a minute
    assert check("ada", "correct horse")


def test_each_failure_after_a_lockout_locks_again_for_twice_as_long_up_to_a_cap() -> None:
    clock = Clock()
    check = guard(clock, lockout=10, max_lockout=60)
    for _ in range(5):
        check("ada", "guess")
    delays = [check.locked_for("ada")]
    for _ in range(5):
        clock.now += check.locked_for("ada")
        assert not check("ada", "guess")
        delays.append(check.locked_for("ada"))
    assert delays == [10, 20, 40, 60, 60, 60]


def test_attempts_while_locked_do_not_extend_the_lockout() -> None:
    clock = Clock()
    check = guard(clock, lockout=10)
    for _ in range(5):
        check("ada", "guess")
    for _ in range(50):
        clock.now += 0.1
        assert not check("ada", "guess")
    assert check.locked_for("ada") == pytest.approx(5.0)


def test_other_names_share_one_counter_and_do_not_lock_the_real_user() -> None:
    clock = Clock()
    check = guard(clock)
    for number in range(100):
        assert not check(f"user{number}", "guess")
    assert check.locked_for("someone-else") > 0
    assert len(check._records) == 1  # random names do not grow the state
    assert check("ada", "correct horse")


def test_a_long_quiet_spell_forgets_earlier_lockouts() -> None:
    clock = Clock()
    check = guard(clock, lockout=10, forget_after=600)
    for _ in range(5):
        check("ada", "guess")
    clock.now += 700
    assert not check("ada", "guess")  # one wrong login after a quiet hour is just one failure again
    assert check.locked_for("ada") == 0


def test_parse_reads_user_and_password_with_colons() -> None:
    check = LoginGuard.parse("ada:pass:with:colons")
    assert check("ada", "pass:with:colons")
    with pytest.raises(RagError, match="user:password"):
        LoginGuard.parse("no-colon")
    with pytest.raises(RagError, match="user:password"):
        LoginGuard.parse(":password")


def test_launch_turns_user_password_into_a_guard() -> None:
    from ui.web import _login_check

    check = _login_check("ada:correct horse")
    assert isinstance(check, LoginGuard) and check("ada", "correct horse") and not check("ada", "x")
    assert _login_check("") is None and _login_check(None) is None


# -- on a launched app ---------------------------------------------------------


@pytest.mark.slow
def test_login_route_refuses_a_throttled_name_until_the_lockout_ends(tmp_path: Path) -> None:
    import httpx

    from tests.fakes import two_document_engine
    from tests.web_fixtures import free_port
    from ui.web import build_app, launch

    engine = two_document_engine(tmp_path)
    check = LoginGuard("ada", "correct horse", max_failures=3, lockout=2.0)
    app = build_app(engine, tmp_path / "feedback.jsonl")
    url = launch(app, host="127.0.0.1", port=free_port(), auth=check, block=False)

    def login(password: str) -> int:
        return httpx.post(f"{url}login", data={"username": "ada", "password": password}, timeout=10).status_code

    try:
        assert [login("guess") for _ in range(3)] == [400, 400, 400]
        started = time.monotonic()
        assert login("correct horse") == 400, "locked: even the right password is refused"
        assert login("guess") == 400
        time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
        assert login("correct horse") == 200
        assert login("guess") == 400  # one failure after a right login does not lock
        assert login("correct horse") == 200
    finally:
        app.close()
