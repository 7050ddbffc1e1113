"""ID-token claim rules (OpenID Connect Core 1.0 §3.1.3.7) and the callback input checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.core.errors import InvalidInput, Unauthorized
from training_analyzer.core.identity import (
    VerifiedIdentity,
    check_code_verifier,
    check_redirect_uri,
    verify_id_token_claims,
)

NOW = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
ISSUER = "https://accounts.google.com"
CLIENT = "1234567890-test.apps.googleusercontent.com"
NONCE = "n-0S6_WzA2Mj"  # the nonce of OIDC Core §A.2's example


def _claims(**changes: Any) -> dict[str, Any]:
    # Shaped like Google's documented ID token payload (developers.google.com/identity/
    # openid-connect/openid-connect#an-id-tokens-payload).
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "azp": CLIENT,
        "aud": CLIENT,
        "sub": "110169484474386276334",
        "email": "Runner@Example.com",
        "email_verified": True,
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "nonce": NONCE,
        "name": "Rita Runner",
        "iat": NOW_S - 5,
        "exp": NOW_S + 3595,
    }
    for key, value in changes.items():
        if value is _DROP:
            claims.pop(key)
        else:
            claims[key] = value
    return claims


_DROP = object()


def _verify(claims: dict[str, Any], *, now: datetime = NOW, nonce: str = NONCE) -> VerifiedIdentity:
    return verify_id_token_claims(
        claims,
        provider="google",
        issuers={ISSUER, "accounts.google.com"},
        client_id=CLIENT,
        nonce=nonce,
        now=now,
        leeway_s=60,
    )


def test_valid_claims_yield_the_identity_keyed_on_sub() -> None:
    assert _verify(_claims()) == VerifiedIdentity(
        provider="google",
        subject="110169484474386276334",
        email="runner@example.com",
        email_verified=True,
        name="Rita Runner",
    )


def test_googles_scheme_less_issuer_is_accepted_when_listed() -> None:
    # Google: "The value of iss in the ID token is equal to accounts.google.com or
    # https://accounts.google.com."
    assert _verify(_claims(iss="accounts.google.com")).subject == "110169484474386276334"


def test_a_list_audience_containing_us_with_azp_us_is_accepted() -> None:
    assert _verify(_claims(aud=[CLIENT, "other-client"])).email == "runner@example.com"


def test_missing_name_gives_none_and_string_true_email_verified_counts() -> None:
    identity = _verify(_claims(name=_DROP, email_verified="true"))
    assert identity.name is None
    assert identity.email_verified is True


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"iss": _DROP}, "iss"),
        ({"aud": "other-client", "azp": "other-client"}, "aud"),
        ({"aud": _DROP}, "aud"),
        ({"aud": 42}, "aud"),
        # §3.1.3.7 item 4: several audiences without azp are refused.
        ({"aud": [CLIENT, "other-client"], "azp": _DROP}, "azp"),
        ({"azp": "other-client"}, "azp"),
        ({"exp": NOW_S - 60}, "exp"),  # leeway 60 s: exp + 60 <= now is expired
        ({"exp": _DROP}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"exp": True}, "exp"),  # a bool is not a NumericDate
        ({"exp": float("inf")}, "exp"),
        ({"exp": 10**400}, "exp"),  # Python's json parses it; no float can hold it
        ({"iat": NOW_S + 61}, "iat"),
        ({"iat": _DROP}, "iat"),
        ({"nonce": "another-nonce"}, "nonce"),
        ({"nonce": _DROP}, "nonce"),
        ({"sub": ""}, "sub"),
        ({"sub": "x" * 256}, "sub"),  # OIDC Core §2: at most 255 ASCII characters
        ({"sub": 1234}, "sub"),
        ({"email": _DROP}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email_verified": False}, "email_verified"),
        ({"email_verified": _DROP}, "email_verified"),
        ({"email_verified": "false"}, "email_verified"),
        ({"email_verified": 1}, "email_verified"),
    ],
)
def test_each_broken_claim_is_unauthorized_with_its_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthorized) as caught:
        _verify(_claims(**changes))
    assert caught.value.details["reason"] == reason


def test_expiry_boundary_with_60_seconds_of_leeway() -> None:
    claims = _claims(exp=NOW_S)
    assert _verify(claims, now=NOW + timedelta(seconds=59)).subject
    with pytest.raises(Unauthorized):
        _verify(claims, now=NOW + timedelta(seconds=60))


def test_a_naive_now_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        _verify(_claims(), now=datetime(2026, 3, 2, 7, 30))
    assert caught.value.argument == "now"


@given(offset_s=st.integers(min_value=-100_000, max_value=100_000))
def test_acceptance_is_exactly_exp_plus_leeway_after_now(offset_s: int) -> None:
    claims = _claims(exp=NOW_S + offset_s, iat=NOW_S - 100_001)
    if offset_s + 60 > 0:
        assert _verify(claims).subject == "110169484474386276334"
    else:
        with pytest.raises(Unauthorized):
            _verify(claims)


def test_rfc_7636_example_verifier_is_well_formed() -> None:
    check_code_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")  # RFC 7636 Appendix B
    check_code_verifier("a" * 128)


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " "])
def test_verifiers_outside_rfc_7636_are_invalid_input(verifier: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_code_verifier(verifier)
    assert caught.value.argument == "code_verifier"


@pytest.mark.parametrize(
    "uri", ["https://app.example/auth/callback", "http://127.0.0.1:8000/cb?x=1"]
)
def test_absolute_http_redirect_uris_pass(uri: str) -> None:
    check_redirect_uri(uri)


@pytest.mark.parametrize(
    "uri",
    ["", "/cb", "app.example/cb", "ftp://app.example/cb", "https://app.example/cb#f", "https://"],
)
def test_other_redirect_uris_are_invalid_input(uri: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_redirect_uri(uri)
    assert caught.value.argument == "redirect_uri"
