"""The README's embedding example runs as written (so the docs cannot drift from the API)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_core_example_in_the_readme_runs() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Embedding the core", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README lost its embedding example"
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert namespace["np_w"] == 250.0
    assert 49.7 < float(namespace["vdot"]) < 49.9  # type: ignore[arg-type]
    assert len(namespace["series"]) == 4  # type: ignore[arg-type]
    assert float(namespace["trimp"]) > 0  # type: ignore[arg-type]
