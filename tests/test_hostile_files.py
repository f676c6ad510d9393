"""Hostile files committed to a repository: Read, Grep and Glob never leak, hang or blow up on them.

Every row of HOSTILE is one file a repository (or an injected prompt) could plant. Each is checked
through the real permission policy's per-file verdicts (ToolContext.search_filter), as in a session.
"""

from __future__ import annotations

import os
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.permissions.policy import PermissionPolicy
from agent.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent.tools.files import ReadTool
from agent.tools.grep_engine import compile_matcher, scan
from agent.tools.safe_open import NotRegularFileError, read_regular
from agent.tools.search import GlobTool, GrepTool

SECRET = "BEGIN-PRIVATE-KEY-hunter2"


@dataclass
class World:
    project: Path
    home: Path
    policy: PermissionPolicy
    ctx: ToolContext


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    project, home = tmp_path / "project", tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"{SECRET} ssh\n")
    (project / "secrets").mkdir(parents=True)
    (project / ".env").write_text(f"TOKEN={SECRET} env\n")
    (project / "secrets" / "key.txt").write_text(f"{SECRET} folder\n")
    (project / "readme.txt").write_text("needle in a normal file\n")
    policy = PermissionPolicy(project, deny=["Read(./.env)", "Read(secrets/**)"], home=home)
    ctx = ToolContext(project_dir=project, search_filter=policy.search_filter)
    yield World(project, home, policy, ctx)


async def call(tool: Tool, ctx: ToolContext, **raw: Any) -> ToolResult:
    return await tool.run(tool.parse_input(raw), ctx)


def _fifo(w: World, name: str) -> Path:
    path = w.project / name
    os.mkfifo(path)
    return path


def _socket(w: World, name: str) -> Path:
    path = w.project / name
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))  # left bound: the file is a socket for the test's life
    w.__dict__.setdefault("sockets", []).append(server)
    return path


def _link(target: Callable[[World], Path | str]) -> Callable[[World, str], Path]:
    def make(w: World, name: str) -> Path:
        path = w.project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target(w))
        return path
    return make


# name in the project, how it is made, and whether Read refuses it at once (True) or the policy must ask.
HOSTILE: list[tuple[str, Callable[[World, str], Path], str]] = [
    ("docs.txt", _link(lambda w: w.home / ".ssh" / "id_rsa"), "outside"),
    ("nested/deep/notes.md", _link(lambda w: w.home / ".ssh" / "id_rsa"), "outside"),
    ("relative.txt", _link(lambda w: "../home/.ssh/id_rsa"), "outside"),
    ("vendor", _link(lambda w: w.home / ".ssh"), "outside-folder"),
    ("env-copy.txt", _link(lambda w: w.project / ".env"), "denied"),
    ("key-link.txt", _link(lambda w: w.project / "secrets" / "key.txt"), "denied"),
    ("pipe.txt", _fifo, "not-regular"),
    ("pipe-link.txt", _link(lambda w: _fifo(w, "hidden-pipe")), "not-regular"),
    ("zero.txt", _link(lambda w: "/dev/zero"), "outside-device"),
    ("sock.txt", _socket, "not-regular"),
    ("loop.txt", _link(lambda w: w.project / "loop.txt"), "broken"),
    ("dangling.txt", _link(lambda w: w.project / "missing.txt"), "broken"),
]


@pytest.mark.parametrize(("name", "make", "kind"), HOSTILE, ids=[row[0] for row in HOSTILE])
async def test_grep_and_glob_over_the_project_never_leak_or_hang(world: World, name: str, make: Any, kind: str) -> None:
    make(world, name)
    for mode in ("content", "files_with_matches", "count"):
        result = await call(GrepTool(), world.ctx, pattern="PRIVATE|needle", output_mode=mode)
        assert SECRET not in result.content and "PRIVATE" not in result.content.replace(
            'pattern="PRIVATE', "")
        assert "readme.txt" in result.content  # the harmless file is still searched
    listing = await call(GlobTool(), world.ctx, pattern="**/*")
    assert str(world.project / "readme.txt") in listing.content
    for leaked in (".env", "secrets/key.txt", "env-copy.txt", "key-link.txt"):  # denied: not even listed
        assert str(world.project / leaked) not in listing.content
    if kind.startswith("outside") and kind != "outside-folder":
        assert "needs the user's permission" in result.content and name in result.content


@pytest.mark.parametrize(("name", "make", "kind"), HOSTILE, ids=[row[0] for row in HOSTILE])
async def test_read_of_a_hostile_file_is_refused_at_once_or_asked(
        world: World, name: str, make: Any, kind: str) -> None:
    path = make(world, name)
    decision = world.policy.check(ReadTool(), {"file_path": name}, world.ctx)
    if kind in ("outside", "outside-folder", "outside-device"):
        assert decision.behavior == "ask"  # headless: denied
    elif kind == "denied":
        assert decision.behavior == "deny"
    else:
        with pytest.raises(ToolError) as info:
            await call(ReadTool(), world.ctx, file_path=str(path))
        assert "not a regular file" in str(info.value) or "does not exist" in str(info.value) \
            or "Cannot read" in str(info.value)


async def test_read_of_a_fifo_fails_at_once_instead_of_waiting_for_a_writer(world: World) -> None:
    fifo = _fifo(world, "wait.txt")
    # Guard: if Read ever opened the FIFO, this writer would connect and close, giving it an empty file
    # (the assertion below then fails) rather than hanging the suite.
    threading.Thread(target=lambda: open(fifo, "wb").close(), daemon=True).start()
    try:
        with pytest.raises(ToolError, match="named pipe"):
            await call(ReadTool(), world.ctx, file_path="wait.txt")
        with pytest.raises(ToolError, match="named pipe"):
            await call(GrepTool(), world.ctx, pattern="x", path="wait.txt")
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # release the guard thread


def test_dev_zero_is_refused_without_reading_a_byte() -> None:
    with pytest.raises(NotRegularFileError, match="character device"):
        read_regular(Path("/dev/zero"), 1024)


async def test_read_of_a_file_over_the_cap_is_refused_without_reading_it(world: World) -> None:
    big = world.project / "sparse.log"
    with open(big, "wb") as handle:
        handle.truncate(40 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(ToolError, match="too large to read"):
        await call(ReadTool(), world.ctx, file_path="sparse.log")


async def test_catastrophic_regex_over_a_long_line_returns(world: World) -> None:
    (world.project / "long.txt").write_text("a" * 200_000 + "b\n")
    result = await call(GrepTool(), world.ctx, pattern="(a+)+$", output_mode="count")
    assert result.content == "No matches found."
    result = await call(GrepTool(), world.ctx, pattern="(a|aa)*c|(a+)+b", path="long.txt", output_mode="count")
    assert result.content == f"{world.project / 'long.txt'}:1"


async def test_catastrophic_glob_returns(world: World) -> None:
    (world.project / ("a" * 200)).write_text("x")
    result = await call(GlobTool(), world.ctx, pattern="*a*a*a*a*a*a*a*a*a*a*a*a*b")
    assert result.content.startswith("No files found")


async def test_huge_line_is_searched_and_cut_in_the_output(world: World) -> None:
    (world.project / "min.js").write_text("needle" + "x" * (3 * 1024 * 1024) + "\nneedle again\n")
    result = await call(GrepTool(), world.ctx, pattern="needle", path="min.js", output_mode="content")
    lines = result.content.splitlines()
    assert len(lines) == 2 and lines[0].endswith(" [...]") and lines[1].endswith(":2:needle again")


@pytest.mark.parametrize("pattern", ["foo(?=bar)", "(a)\\1", "(?<=x)y"])
async def test_pattern_re2_rejects_gets_a_clear_error(world: World, pattern: str) -> None:
    with pytest.raises(ToolError, match="RE2 syntax"):
        await call(GrepTool(), world.ctx, pattern=pattern)


async def test_glob_with_an_absolute_pattern_outside_the_project_asks(world: World) -> None:
    for pattern in ("/etc/pass*", str(world.home / ".ssh" / "*"), "~/.ssh/*"):
        decision = world.policy.check(GlobTool(), {"pattern": pattern}, world.ctx)
        assert decision.behavior == "ask", pattern
    assert world.policy.check(GlobTool(), {"pattern": str(world.project / "*.txt")}, world.ctx).behavior == "allow"


async def test_grep_under_an_approved_outside_root_reads_files_there(world: World) -> None:
    result = await call(GrepTool(), world.ctx, pattern="ssh", path=str(world.home / ".ssh"))
    assert result.content == str(world.home / ".ssh" / "id_rsa")  # the user said yes to the root


# --- memory: bounded by head_limit, not by the matches ---------------------------------------------

def test_scan_reads_only_as_far_as_the_consumer_asks(tmp_path: Path) -> None:
    path = tmp_path / "many.txt"
    path.write_bytes(b"match me\n" * (2 * 1024 * 1024))  # 18 MiB, every line matches
    with open(path, "rb") as handle:
        lines = scan(handle, compile_matcher("match"), max_bytes=1 << 30)
        assert next(lines).number == 1
        assert handle.tell() <= 2 * 1024 * 1024


async def test_grep_memory_stays_bounded_with_head_limit_on_20_mb_of_matches(tmp_path: Path) -> None:
    ctx = ToolContext(project_dir=tmp_path)
    (tmp_path / "big.log").write_bytes((b"needle " + b"y" * 92 + b"\n") * (200 * 1024))  # 20 MiB
    tracemalloc.start()
    try:
        result = GrepTool()._grep(GrepTool().parse_input(  # type: ignore[arg-type]
            {"pattern": "needle", "output_mode": "content", "head_limit": 5}), ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.content.splitlines()[-1] == f"(Showing the first 5 of {200 * 1024}.)"
    assert peak < 8 * 1024 * 1024, f"peak {peak:,} bytes"


def test_hostile_table_size() -> None:
    assert len(HOSTILE) == 12
