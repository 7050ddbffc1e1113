"""Refresh tokens: 256 random bits, URL-safe, stored as a SHA-256 hex digest."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_analyzer.adapters.identity.tokens import (
    SecretsRefreshTokenFactory,
    hash_refresh_token,
    new_refresh_token,
)
from training_analyzer.core.errors import InvalidInput
from training_analyzer.core.identity import refresh_token_hash
from training_analyzer.ports.identity import RefreshTokenFactory


def test_the_hash_is_sha256_hex_per_fips_180_2() -> None:
    # FIPS 180-2 Appendix B.1: SHA-256("abc").
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert refresh_token_hash("abc") == expected
    assert hash_refresh_token("abc") == expected


def test_a_new_token_carries_256_bits_url_safe_and_its_hash() -> None:
    issued = new_refresh_token()
    raw = base64.urlsafe_b64decode(issued.token + "=" * (-len(issued.token) % 4))
    assert len(raw) == 32
    assert len(issued.token) == 43  # ceil(256 / 6) base64url characters, unpadded
    assert set(issued.token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert issued.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in issued.token_hash


def test_tokens_do_not_repeat() -> None:
    tokens = {new_refresh_token().token for _ in range(1000)}
    assert len(tokens) == 1000


def test_the_factory_port_mints_and_hashes_consistently() -> None:
    factory: RefreshTokenFactory = SecretsRefreshTokenFactory()
    issued = factory.new()
    assert factory.hash(token=issued.token) == issued.token_hash
    assert factory.hash(token=issued.token + "x") != issued.token_hash


@pytest.mark.parametrize("token", ["", "x" * 513])
def test_a_presented_value_that_cannot_be_a_token_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        hash_refresh_token(token)
    assert caught.value.argument == "refresh_token"


@given(token=st.text(min_size=1, max_size=512))
def test_hashing_is_deterministic_and_64_hex_characters(token: str) -> None:
    digest = refresh_token_hash(token)
    assert digest == refresh_token_hash(token)
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")
