"""Notice when another process changes `.claude/scheduled_tasks.json`, without a reload storm.

The tasks file is replaced atomically (temp file + os.replace), so the watch is on the folder and
events are matched by file name, moves by their destination. A burst of events is coalesced until
`quiet_s` of quiet, then `on_change` is called on the asyncio loop. watchdog's threads only post to
the loop (`call_soon_threadsafe`); the quiet timer is a loop timer, so no extra threads are made.

Our own writes are not news: the caller calls `note_own_write()` right after writing, and a burst
whose end finds the file with that signature (mtime_ns, size, inode) is dropped. The same check
drops bursts that leave the file as it was at the last delivery. An external write right after ours
changes the signature and is delivered.

The watch is lazy: `ensure_started()` starts it only once `.claude/` exists (it never creates the
folder) and is one `os.stat` when there is nothing to do, so the scheduler calls it every tick; it
also re-arms the watch when the folder was deleted or replaced. If the watch cannot be set up
(inotify limits: ENOSPC, EMFILE; or anything else), or `force_polling` / AGENT_CRON_FORCE_POLLING=1
asks for it, the watcher falls back to comparing the file's signature on each tick: `poll()` returns
True when the file changed since the last look (it does not call `on_change`; the caller reloads),
with one warning logged for the fallback. In watchdog mode `poll()` is a no-op returning False.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

logger = logging.getLogger(__name__)

FORCE_POLLING_ENV = "AGENT_CRON_FORCE_POLLING"
_RELEVANT_EVENTS = frozenset({"created", "modified", "moved", "deleted"})

Signature = tuple[int, int, int]
WatchMode = Literal["watchdog", "polling", "idle"]


def file_signature(path: Path) -> Signature | None:
    """(mtime_ns, size, inode) of a file, or None when it is missing or cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _dir_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class _TaskFileEvents(FileSystemEventHandler):
    """Runs on watchdog's thread: filter by name and type, then hand over to the loop."""

    def __init__(self, path: Path, notify: Callable[[], None]) -> None:
        self._dir = os.path.abspath(path.parent)
        self._name = path.name
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Opened/closed events come from mere reads (our own reloads): never news.
        if event.event_type not in _RELEVANT_EVENTS or event.is_directory:
            return
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        if any(self._is_task_file(os.fsdecode(p)) for p in paths if p):
            self._notify()

    def _is_task_file(self, path: str) -> bool:
        directory, name = os.path.split(os.path.abspath(path))
        return name == self._name and directory == self._dir


class TaskFileWatcher:
    """Watch one file; deliver external changes to `on_change` on `loop`, coalesced and deduplicated."""

    def __init__(
        self,
        path: Path,
        loop: asyncio.AbstractEventLoop,
        on_change: Callable[[], None],
        *,
        quiet_s: float = 0.3,
        force_polling: bool = False,
        observer_factory: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self.path = Path(path)
        self._loop = loop
        self._on_change = on_change
        self._quiet_s = quiet_s
        self._observer_factory = observer_factory
        self._observer: BaseObserver | None = None
        self._watched_dir: tuple[int, int] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._mode: WatchMode = "idle"
        # The file as we last knew it: at construction, at our own write, or at the last delivery.
        self._known = file_signature(self.path)
        if force_polling or os.environ.get(FORCE_POLLING_ENV) == "1":
            self._mode = "polling"

    @property
    def mode(self) -> WatchMode:
        """"watchdog" while observing, "polling" after a fallback, "idle" before the folder or after stop."""
        return self._mode

    def ensure_started(self) -> None:
        """Start watching if `.claude/` exists; re-arm if it was replaced. Cheap when nothing changes."""
        if self._closed or self._mode == "polling":
            return
        folder = _dir_identity(self.path.parent)
        if self._mode == "watchdog":
            if folder == self._watched_dir:
                return
            logger.debug("%s was removed or replaced; re-arming the watch", self.path.parent)
            self._stop_observer()
            self._mode = "idle"
        if folder is None:
            return
        try:
            self._start_observer()
        except Exception as exc:  # any failure to watch: polling is always correct, only slower
            self._stop_observer()
            self._mode = "polling"
            logger.warning(
                "Cannot watch %s (%s); checking %s for changes every tick instead",
                self.path.parent, exc, self.path.name,
            )
            return
        self._watched_dir = folder
        self._mode = "watchdog"
        # The file may have appeared while nothing was watching: check it once, as if after a burst.
        self._notify_from_any_thread()

    def poll(self) -> bool:
        """In polling mode: True when the file changed since the last look and it was not our write."""
        if self._mode != "polling" or self._closed:
            return False
        return self._take_change()

    def note_own_write(self) -> None:
        """Call right after writing the file, so the events it causes are not reported as changes."""
        self._known = file_signature(self.path)

    def stop(self) -> None:
        """Stop and join the observer threads and drop a pending burst. Idempotent; any thread."""
        self._closed = True
        self._stop_observer()
        self._mode = "idle"
        timer, self._timer = self._timer, None
        if timer is not None:
            self._call_on_loop(timer.cancel)

    # internals

    def _start_observer(self) -> None:
        self._observer = self._observer_factory()
        handler = _TaskFileEvents(self.path, self._notify_from_any_thread)
        self._observer.schedule(handler, str(self.path.parent))
        self._observer.start()

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is None:
            return
        observer.stop()  # also stops emitters and, for inotify, the reader thread made in __init__
        if observer.ident is not None and observer is not threading.current_thread():
            observer.join()
        self._watched_dir = None

    def _notify_from_any_thread(self) -> None:
        self._call_on_loop(self._restart_quiet_timer)

    def _call_on_loop(self, callback: Callable[[], object]) -> None:
        try:
            self._loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            logger.debug("Event loop closed; dropping a task file notification")

    def _restart_quiet_timer(self) -> None:
        """On the loop: each event pushes the end of the burst `quiet_s` further away."""
        if self._closed:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(self._quiet_s, self._burst_ended)

    def _burst_ended(self) -> None:
        self._timer = None
        if not self._closed and self._take_change():
            self._on_change()

    def _take_change(self) -> bool:
        current = file_signature(self.path)
        if current == self._known:
            return False
        self._known = current
        return True
