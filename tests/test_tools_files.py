"""Read, Write and Edit against a temporary project folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent.tools.files import EditTool, ReadTool, WriteTool


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(project_dir=tmp_path)


async def call(tool: Tool, ctx: ToolContext, **raw: Any) -> ToolResult:
    return await tool.run(tool.parse_input(raw), ctx)


# --- Read ---------------------------------------------------------------------------------------

async def test_read_numbers_lines_as_claude_code_does(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\nbeta\n")
    result = await call(ReadTool(), ctx, file_path=str(tmp_path / "a.txt"))
    assert result.content == "1\talpha\n2\tbeta"
    assert result.summary == "read 2 lines"
    assert not result.is_error


async def test_read_relative_path_is_taken_from_the_project(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text("x = 1")
    result = await call(ReadTool(), ctx, file_path="src/m.py")
    assert result.content == "1\tx = 1"


async def test_read_offset_and_limit_select_a_window_and_say_how_to_continue(
    ctx: ToolContext, tmp_path: Path
) -> None:
    (tmp_path / "n.txt").write_text("".join(f"line{i}\n" for i in range(1, 11)))
    result = await call(ReadTool(), ctx, file_path="n.txt", offset=3, limit=2)
    assert result.content.startswith("3\tline3\n4\tline4")
    assert "line5" not in result.content
    assert "offset=5" in result.content and "of 10" in result.content


async def test_read_strips_crlf_line_endings(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    result = await call(ReadTool(), ctx, file_path="w.txt")
    assert result.content == "1\tone\n2\ttwo"


async def test_read_cuts_lines_over_2000_characters(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text("x" * 5000 + "\nshort\n")
    result = await call(ReadTool(), ctx, file_path="long.txt")
    first, second = result.content.split("\n")
    assert first.startswith("1\t" + "x" * 2000) and "x" * 2001 not in first
    assert "5,000 characters" in first
    assert second == "2\tshort"


async def test_read_refuses_a_binary_file_and_suggests_bash_tools(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "img.bin").write_bytes(b"\x89PNG\r\n\x00\x00\x01")
    with pytest.raises(ToolError, match="binary") as info:
        await call(ReadTool(), ctx, file_path="img.bin")
    assert "xxd" in str(info.value)


async def test_read_refuses_undecodable_bytes_as_binary(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(ToolError, match="binary"):
        await call(ReadTool(), ctx, file_path="latin.txt")


async def test_read_empty_file_returns_a_note(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    result = await call(ReadTool(), ctx, file_path="empty.txt")
    assert "empty" in result.content and not result.is_error


async def test_read_missing_file_error_suggests_glob(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="does not exist") as info:
        await call(ReadTool(), ctx, file_path="nope.txt")
    assert "Glob" in str(info.value)


async def test_read_directory_error_suggests_glob_or_ls(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    with pytest.raises(ToolError, match="directory") as info:
        await call(ReadTool(), ctx, file_path="pkg")
    assert "Glob" in str(info.value) and "ls" in str(info.value)


async def test_read_offset_beyond_the_end_states_the_line_count(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    with pytest.raises(ToolError, match="has 3 lines"):
        await call(ReadTool(), ctx, file_path="three.txt", offset=10)


async def test_read_offset_zero_reads_from_the_first_line(ctx: ToolContext, tmp_path: Path) -> None:
    # Claude-trained models send offset 0 (recorded in D_toolcalls); it means the start, not an error
    (tmp_path / "notes.txt").write_text("alpha line\nbeta line\ngamma line\n")
    result = await call(ReadTool(), ctx, file_path="notes.txt", offset=0, limit=2)
    assert result.content.startswith("1\talpha line\n2\tbeta line")


async def test_read_rejects_a_negative_offset(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="offset"):
        ReadTool().parse_input({"file_path": "x", "offset": -1})


def test_read_schema_requires_only_file_path_and_has_defaults() -> None:
    schema = ReadTool.input_schema()
    assert schema["required"] == ["file_path"]
    assert schema["properties"]["limit"]["default"] == 2000
    assert all("description" in p for p in schema["properties"].values())


def test_file_tools_report_paths_for_display_permissions_and_outside_check(
    ctx: ToolContext, tmp_path: Path
) -> None:
    tool = ReadTool()
    args = tool.parse_input({"file_path": "src/../a.txt"})
    assert tool.key_argument(args) == "src/../a.txt"
    assert tool.permission_subject(args) == "src/../a.txt"
    assert tool.touched_paths(args, ctx) == [(tmp_path / "a.txt").resolve()]
    assert ReadTool.read_only and not WriteTool.read_only and not EditTool.read_only


# --- Write --------------------------------------------------------------------------------------

async def test_write_creates_file_and_parent_folders(ctx: ToolContext, tmp_path: Path) -> None:
    result = await call(WriteTool(), ctx, file_path="deep/er/new.py", content="a\nb\n")
    assert (tmp_path / "deep/er/new.py").read_text() == "a\nb\n"
    assert result.content.startswith("Created") and "2 lines" in result.content
    assert result.summary.startswith("created")


async def test_write_overwrites_and_says_so(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("old")
    result = await call(WriteTool(), ctx, file_path="f.txt", content="new\n")
    assert (tmp_path / "f.txt").read_text() == "new\n"
    assert result.content.startswith("Overwrote")
    assert result.summary == "wrote 1 line"


async def test_write_keeps_the_existing_file_mode_and_leaves_no_temp_file(
    ctx: ToolContext, tmp_path: Path
) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    await call(WriteTool(), ctx, file_path="run.sh", content="#!/bin/sh\necho hi\n")
    assert script.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["run.sh"]


async def test_write_through_a_symlink_updates_the_target(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    await call(WriteTool(), ctx, file_path="link.txt", content="new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"


async def test_write_to_a_directory_is_an_error(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(ToolError, match="directory"):
        await call(WriteTool(), ctx, file_path="d", content="x")


def test_write_schema_requires_path_and_content() -> None:
    assert sorted(WriteTool.input_schema()["required"]) == ["content", "file_path"]


# --- Edit ---------------------------------------------------------------------------------------

async def test_edit_replaces_a_unique_string_and_shows_a_snippet(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return 1\n\nprint(f())\n")
    result = await call(EditTool(), ctx, file_path="m.py", old_string="return 1", new_string="return 2")
    assert (tmp_path / "m.py").read_text() == "def f():\n    return 2\n\nprint(f())\n"
    assert result.summary == "edited 1 line"
    assert "2\t    return 2" in result.content


async def test_edit_counts_changed_lines_in_the_summary(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_text("a\nb\nc\nd\n")
    result = await call(EditTool(), ctx, file_path="m.txt", old_string="a\nb\nc\n", new_string="A\nb\nC\nX\n")
    assert result.summary == "edited 3 lines"


async def test_edit_missing_file_is_an_error(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await call(EditTool(), ctx, file_path="gone.py", old_string="a", new_string="b")


async def test_edit_with_identical_strings_is_an_error(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "m.txt").write_text("same")
    with pytest.raises(ToolError, match="same"):
        await call(EditTool(), ctx, file_path="m.txt", old_string="same", new_string="same")


async def test_edit_not_found_hints_at_whitespace_and_reading_first(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("\tindented = 1\n")
    with pytest.raises(ToolError, match="not found") as info:
        await call(EditTool(), ctx, file_path="m.py", old_string="    indented = 1", new_string="x = 2")
    assert "whitespace" in str(info.value) and "Read" in str(info.value)
    assert (tmp_path / "m.py").read_text() == "\tindented = 1\n"


async def test_edit_ambiguous_match_says_how_many_and_suggests_replace_all(
    ctx: ToolContext, tmp_path: Path
) -> None:
    (tmp_path / "m.py").write_text("x = 1\nx = 1\nx = 1\n")
    with pytest.raises(ToolError, match="3 times") as info:
        await call(EditTool(), ctx, file_path="m.py", old_string="x = 1", new_string="x = 2")
    assert "replace_all" in str(info.value)
    assert (tmp_path / "m.py").read_text() == "x = 1\nx = 1\nx = 1\n"


async def test_edit_replace_all_changes_every_occurrence(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("foo(foo)\nfoo\n")
    args = {"file_path": "m.py", "old_string": "foo", "new_string": "bar", "replace_all": True}
    result = await call(EditTool(), ctx, **args)
    assert (tmp_path / "m.py").read_text() == "bar(bar)\nbar\n"
    assert "every occurrence (3)" in result.content


async def test_edit_keeps_crlf_line_endings_when_given_lf_strings(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    await call(EditTool(), ctx, file_path="win.txt", old_string="one\ntwo", new_string="1\n2\n2.5")
    assert (tmp_path / "win.txt").read_bytes() == b"1\r\n2\r\n2.5\r\nthree\r\n"


async def test_edit_keeps_a_utf8_bom_and_non_ascii_text(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffcafé = 1\n".encode())
    await call(EditTool(), ctx, file_path="bom.txt", old_string="1", new_string="2")
    assert (tmp_path / "bom.txt").read_bytes() == "\ufeffcafé = 2\n".encode()


async def test_edit_keeps_utf16_encoding(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "u16.txt").write_bytes("hello\n".encode("utf-16"))
    await call(EditTool(), ctx, file_path="u16.txt", old_string="hello", new_string="bye")
    assert (tmp_path / "u16.txt").read_bytes().decode("utf-16") == "bye\n"


async def test_edit_refuses_binary_files(ctx: ToolContext, tmp_path: Path) -> None:
    (tmp_path / "b.bin").write_bytes(b"a\x00b")
    with pytest.raises(ToolError, match="binary"):
        await call(EditTool(), ctx, file_path="b.bin", old_string="a", new_string="c")


async def test_edit_with_empty_old_string_creates_a_missing_file(ctx: ToolContext, tmp_path: Path) -> None:
    await call(EditTool(), ctx, file_path="fresh.txt", old_string="", new_string="hi\n")
    assert (tmp_path / "fresh.txt").read_text() == "hi\n"


async def test_edit_with_empty_old_string_on_a_non_empty_file_is_an_error(
    ctx: ToolContext, tmp_path: Path
) -> None:
    (tmp_path / "full.txt").write_text("content")
    with pytest.raises(ToolError, match="Write"):
        await call(EditTool(), ctx, file_path="full.txt", old_string="", new_string="x")


async def test_edit_keeps_file_mode(ctx: ToolContext, tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text("echo a\n")
    os.chmod(script, 0o750)
    await call(EditTool(), ctx, file_path="s.sh", old_string="a", new_string="b")
    assert script.stat().st_mode & 0o777 == 0o750


def test_edit_schema_defaults_replace_all_to_false() -> None:
    schema = EditTool.input_schema()
    assert sorted(schema["required"]) == ["file_path", "new_string", "old_string"]
    assert schema["properties"]["replace_all"]["default"] is False
