"""Password rules: 10 to 1024 characters after NFKC; neutral messages naming `password`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.identity import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    check_password_rules,
    normalize_password,
)


def test_the_bounds_are_10_and_1024() -> None:
    assert (PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH) == (10, 1024)


@pytest.mark.parametrize(
    "password",
    [
        "a" * 10,
        "correct horse battery staple",
        "          ",  # NIST SP 800-63B §5.1.1.2: spaces are allowed characters
        "пароль-дляБега",  # any Unicode
        "🏃" * 10,
        "x" * 1024,
    ],
)
def test_acceptable_passwords_pass(password: str) -> None:
    check_password_rules(password)
    assert len(normalize_password(password)) >= 10


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "password: must be at least 10 characters"),
        ("a" * 9, "password: must be at least 10 characters"),
        ("x" * 1025, "password: must be at most 1024 characters"),
    ],
)
def test_short_and_over_long_passwords_are_refused(password: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_rules(password)
    assert caught.value.argument == "password"
    assert str(caught.value) == message


def test_length_is_counted_after_nfkc() -> None:
    # U+FB03 "ﬃ" is one character that NFKC expands to three ("ffi"): 8 + 3 = 11 >= 10.
    check_password_rules("ﬃ" + "abcdefgh")
    assert normalize_password("ﬃ") == "ffi"
    # U+2460 "①" becomes "1": still one character, so 9 of them stay too short.
    with pytest.raises(InvalidInput):
        check_password_rules("①" * 9)


def test_a_non_string_password_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_rules(None)  # type: ignore[arg-type]
    assert caught.value.argument == "password"


@given(password=st.text(min_size=0, max_size=40))
def test_the_rule_is_exactly_the_length_bounds_with_fixed_messages(password: str) -> None:
    length = len(normalize_password(password))
    if length >= PASSWORD_MIN_LENGTH:
        check_password_rules(password)
    else:
        # Fixed text: nothing about the password (or whether an account exists) leaks.
        with pytest.raises(InvalidInput, match=r"^password: must be at least 10 characters$"):
            check_password_rules(password)
