"""Email normalisation: one canonical form per mailbox, neutral errors naming `email`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.identity import normalize_email


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Rita.Runner@Example.COM", "rita.runner@example.com"),
        ("  rita@example.com \n", "rita@example.com"),
        # Dots and +tags are kept: only Gmail ignores them, other providers do not.
        ("r.i.t.a+strava@gmail.com", "r.i.t.a+strava@gmail.com"),
        ("o'brien@sub.example.co.uk", "o'brien@sub.example.co.uk"),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),  # punycode domain
        # NFC: "é" typed as e + U+0301 equals the precomposed U+00E9 (RFC 6531 local part).
        ("Jose\u0301@example.com", "jos\u00e9@example.com"),
    ],
)
def test_addresses_are_trimmed_lower_cased_and_nfc(raw: str, canonical: str) -> None:
    assert normalize_email(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "rita",
        "rita@",
        "@example.com",
        "rita@@example.com",
        "ri@ta@example.com",
        "rita @example.com",
        "rita@exa mple.com",
        "rita@localhost",  # no dot: not an internet domain
        "rita@example",
        "rita@example.123",  # numeric top-level domain (RFC 3696 §2)
        "rita@-example.com",
        "rita@example-.com",
        "rita@example..com",
        ".rita@example.com",
        "rita.@example.com",
        "ri..ta@example.com",
        "rita@bücher.example",  # Unicode domains must arrive as punycode
        "r\x00ita@example.com",
        "r" * 65 + "@example.com",  # RFC 5321 §4.5.3.1.1: local part <= 64 octets
        "rita@" + "a" * 64 + ".com",  # RFC 1035: a label is <= 63 octets
        "r@" + ("a" * 62 + ".") * 4 + "com",  # 257 octets: over the 254 of RFC 5321
    ],
)
def test_malformed_addresses_raise_a_neutral_invalid_input(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_email(raw)
    assert caught.value.argument == "email"
    assert caught.value.message == "email: is not a valid email address"


def test_a_non_string_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_email(42)  # type: ignore[arg-type]
    assert caught.value.argument == "email"


def test_the_error_never_echoes_the_address() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_email("secret.person@@example.com")
    assert "secret.person" not in str(caught.value)


_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_-"
_local = st.text(alphabet=_LOCAL_CHARS, min_size=1, max_size=30)
_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20)
_tld = st.sampled_from(["com", "org", "de"])


@given(local=_local, labels=st.lists(_label, min_size=1, max_size=3), tld=_tld)
def test_normalisation_is_idempotent_and_case_blind(
    local: str, labels: list[str], tld: str
) -> None:
    address = f"{local}@{'.'.join([*labels, tld])}"
    once = normalize_email(address)
    assert normalize_email(once) == once
    assert normalize_email(address.upper()) == once
    assert once == address.lower()
