"""The pure domain core: stdlib and msgspec only, no I/O, no clock, no randomness."""
