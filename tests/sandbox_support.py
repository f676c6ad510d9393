"""The sandbox backends this machine has, as a pytest parameter, and a runner for one project.

A test module that runs commands for real defines a `backend` fixture with `params=BACKEND_NAMES` that
returns `backend_or_skip(request.param)`: its tests run once per backend, and a backend this machine
lacks is skipped with its probe's reason. Set AGENT_SANDBOX_REQUIRE (e.g.
"bubblewrap,landlock", as CI does) to turn such a skip into a failure, so a CI machine that lost a backend
cannot pass silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.permissions.sandbox.backends import Backend, Bubblewrap, LandlockBackend, LandlockOnly
from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.runner import SandboxRunner

BACKEND_NAMES = ("bubblewrap", "landlock", "landlock-only")
_PROBES: dict[str, tuple[bool, str]] = {}


def make_backend(name: str) -> Backend:
    return {"bubblewrap": Bubblewrap, "landlock": LandlockBackend, "landlock-only": LandlockOnly}[name]()


def backend_or_skip(name: str) -> Backend:
    backend = make_backend(name)
    if name not in _PROBES:
        probe = backend.probe()
        _PROBES[name] = (probe.available, probe.reason)
    available, reason = _PROBES[name]
    if not available:
        required = {n.strip() for n in os.environ.get("AGENT_SANDBOX_REQUIRE", "").split(",") if n.strip()}
        if name in required:
            pytest.fail(f"{name} is required (AGENT_SANDBOX_REQUIRE) but unavailable: {reason}")
        pytest.skip(f"{name} unavailable here: {reason}")
    return backend


def runner_for(project: Path, backend: Backend, *, home: Path, settings: SandboxSettings | None = None,
               read_deny: tuple[str, ...] = (), edit_deny: tuple[str, ...] = ()) -> SandboxRunner:
    return SandboxRunner(project, settings or SandboxSettings(enabled=True), home=home, read_deny=read_deny,
                         edit_deny=edit_deny, backends=[backend])
