"""The TLS context of the model client, built in a background thread while `agent -p` starts.

Loading the system's CA certificates is most of what making the SDK client costs, and OpenSSL does it
with the GIL released, so it overlaps with the SDK's (CPU-bound) import instead of following it. The
context is the one the SDK's HTTP library would build itself (`httpcore2.default_ssl_context`, which
honours SSL_CERT_FILE and SSL_CERT_DIR): verification is never weakened. Without `prepare()`, or if
the build failed, `prepared_context()` is None and the SDK builds its own as usual.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

__all__ = ["prepare", "prepared_context"]

log = logging.getLogger(__name__)

_built: dict[str, Any] = {}
_thread: threading.Thread | None = None


def prepare() -> None:
    """Start building the context (once per process)."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_build, name="agent-tls-context", daemon=True)
        _thread.start()


def prepared_context() -> ssl.SSLContext | None:
    """The context `prepare()` built (waiting for it if needed); None when not prepared or failed."""
    if _thread is None:
        return None
    _thread.join()
    return _built.get("context")


def _build() -> None:
    try:
        import httpcore2

        _built["context"] = httpcore2.default_ssl_context()
    except Exception as exc:  # the SDK then builds its own and reports any real problem itself
        log.debug("TLS context not prepared: %s", exc)
