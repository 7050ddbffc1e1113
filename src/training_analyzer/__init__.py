"""Training Analyzer: training-load metrics, an AI coach and a subscription service.

Embedding API (lazily imported so `training_analyzer.core` stays light and pure)::

    from training_analyzer import Settings, build_container, load_settings
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from training_analyzer.container import AppContainer, build_container, running
    from training_analyzer.settings import Settings, load_settings

__all__ = [
    "AppContainer",
    "Settings",
    "__version__",
    "build_container",
    "load_settings",
    "running",
]


def __getattr__(name: str) -> Any:
    if name in {"AppContainer", "build_container", "running"}:
        from training_analyzer import container

        return getattr(container, name)
    if name in {"Settings", "load_settings"}:
        from training_analyzer import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'training_analyzer' has no attribute {name!r}")
