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


def test_every_setting_is_documented_in_the_readme_and_env_example() -> None:
    from training_analyzer.settings import PREFIX, Settings

    readme = README.read_text(encoding="utf-8")
    example = (README.parent / ".env.example").read_text(encoding="utf-8")
    for field in Settings.__struct_fields__:
        variable = PREFIX + field.upper()
        assert f"`{variable}`" in readme, f"{variable} is missing from the README table"
        assert re.search(rf"^#?\s*{variable}=", example, re.MULTILINE), (
            f"{variable} is missing from .env.example"
        )
