"""Unit tests of the identity core rules and token helpers."""
