"""Local HTTP servers that speak external providers' wire formats, for contract tests."""
