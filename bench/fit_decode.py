"""FIT decode time per file: our specialised decoder against Garmin's official SDK.

Run from the repository root: `.venv/bin/python bench/fit_decode.py [--repeat N]`. For each real
device file in ../shared/fixtures/fit and a generated 1-hour 1 Hz ride with HR and power, it
prints the best-of-N wall time of:
  decode  `read_fit` (header, CRCs, messages -> scaled columns)
  parse   `parse_fit` (decode + activities, laps, streams: what an import uses)
  sdk     garmin-fit-sdk `Decoder.read()` with its defaults (the official decoder)
Target (issue "Activities and analytics"): a 1-hour ride parses in well under 30 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "fit"
sys.path.insert(0, str(ROOT))  # for tests.unit.files.fitgen, the ride generator

from garmin_fit_sdk import Decoder, Stream  # noqa: E402

from tests.unit.files import fitgen  # noqa: E402
from training_analyzer.adapters.files.fit import parse_fit, read_fit  # noqa: E402
from training_analyzer.core.errors import InvalidInput  # noqa: E402


def best_ms(action: Callable[[], object], repeat: int) -> float:
    """Best wall time of `repeat` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def sdk_read(data: bytes) -> None:
    """Decode with the official SDK, as its README shows."""
    Decoder(Stream.from_byte_array(bytearray(data))).read()


def main() -> None:
    """Print one line per file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    files = [(p.name, p.read_bytes()) for p in sorted(FIXTURES.glob("*.fit"))]
    files.append(("generated 1-hour 1 Hz ride (HR, power, GPS)", fitgen.one_hour_ride()))
    read_fit(files[0][1]) if files else None  # build the CRC table once, outside the timings
    print(f"{'file':<46} {'kB':>6} {'records':>7} {'decode':>9} {'parse':>9} {'sdk':>9} {'x':>5}")
    for name, data in files:
        try:
            records = sum(len(part.records.timestamp) for part in read_fit(data))
            decode = best_ms(lambda d=data: read_fit(d), args.repeat)  # type: ignore[misc]
        except InvalidInput as exc:
            print(f"{name:<46} {len(data) / 1000:>6.1f} refused: {exc.message}")
            continue
        try:
            parse = f"{best_ms(lambda d=data: parse_fit(data=d), args.repeat):>7.2f}ms"  # type: ignore[misc]
        except InvalidInput:
            parse = "refused"
        sdk = best_ms(lambda d=data: sdk_read(d), max(1, args.repeat // 3))  # type: ignore[misc]
        print(
            f"{name:<46} {len(data) / 1000:>6.1f} {records:>7} {decode:>7.2f}ms {parse:>9} "
            f"{sdk:>7.1f}ms {sdk / decode:>4.0f}x"
        )


if __name__ == "__main__":
    main()
