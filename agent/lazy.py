"""Lazy re-exports for a package's `__init__` (PEP 562): `agent.engine.Conversation` imports
`agent.engine.conversation` only when first named, so that importing one light module of a package (the
queue, the events) never pays for the SDK, the shell parser or pydantic. Standard library only."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that finds `name` in `package.<exports[name]>` on first use."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__


__all__ = ["lazy_exports"]
