"""Glob and Grep: matching, ordering, ignored folders, output modes and errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent.tools.registry import default_tools
from agent.tools.search import GLOB_MAX_RESULTS, GlobTool, GrepTool, glob_to_regex, list_files


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(project_dir=tmp_path)


async def call(tool: Tool, ctx: ToolContext, **raw: Any) -> ToolResult:
    return await tool.run(tool.parse_input(raw), ctx)


def make(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# --- glob_to_regex ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),  # `*` stays in one folder
        ("**/*.py", "a.py", True),  # `**/` may match no folder
        ("**/*.py", "src/deep/a.py", True),
        ("src/**", "src/x/y.txt", True),
        ("src/**", "other/y.txt", False),
        ("src/**/test_*.py", "src/test_a.py", True),
        ("*.{ts,tsx}", "a.tsx", True),
        ("*.{ts,tsx}", "a.js", False),
        ("file?.txt", "file1.txt", True),
        ("[!a]*.md", "a.md", False),
        ("[!a]*.md", "b.md", True),
        ("a.b", "axb", False),  # dots are literal
    ],
)
def test_glob_to_regex_follows_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert bool(glob_to_regex(pattern).fullmatch(path)) is expected


# --- Glob ---------------------------------------------------------------------------------------

async def test_glob_returns_absolute_paths_newest_first(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"old.py": "", "src/new.py": "", "notes.md": ""})
    os.utime(tmp_path / "old.py", (1_000_000, 1_000_000))
    result = await call(GlobTool(), ctx, pattern="**/*.py")
    assert result.content.splitlines() == [str(tmp_path / "src/new.py"), str(tmp_path / "old.py")]
    assert result.summary == "2 files"


async def test_glob_skips_git_and_generated_folders_outside_git(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"a.js": "", "node_modules/lib/x.js": "", ".git/hooks/h.js": "", ".venv/y.js": ""})
    result = await call(GlobTool(), ctx, pattern="**/*.js")
    assert result.content.splitlines() == [str(tmp_path / "a.js")]


async def test_glob_searches_under_the_given_path(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"a/x.txt": "", "b/x.txt": ""})
    result = await call(GlobTool(), ctx, pattern="*.txt", path="b")
    assert result.content.splitlines() == [str(tmp_path / "b/x.txt")]


async def test_glob_accepts_an_absolute_pattern(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"a/x.txt": "", "b/y.txt": ""})
    result = await call(GlobTool(), ctx, pattern=f"{tmp_path}/a/*.txt")
    assert result.content.splitlines() == [str(tmp_path / "a/x.txt")]


async def test_glob_caps_results_with_a_note(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {f"f{i:03}.txt": "" for i in range(GLOB_MAX_RESULTS + 5)})
    result = await call(GlobTool(), ctx, pattern="*.txt")
    lines = result.content.splitlines()
    assert len(lines) == GLOB_MAX_RESULTS + 1
    assert f"of {GLOB_MAX_RESULTS + 5} files" in lines[-1]
    assert result.summary == f"{GLOB_MAX_RESULTS + 5} files"


async def test_glob_no_match_hints_at_double_star(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"src/a.py": ""})
    result = await call(GlobTool(), ctx, pattern="*.py")
    assert "No files found" in result.content and "**/*.py" in result.content
    assert not result.is_error and result.summary == "0 files"


async def test_glob_missing_path_is_an_error(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        await call(GlobTool(), ctx, pattern="*", path="missing")


def test_search_tools_are_read_only_and_touch_their_folder(ctx: ToolContext, tmp_path: Path) -> None:
    tool = GrepTool()
    args = tool.parse_input({"pattern": "x", "path": "sub"})
    assert GlobTool.read_only and GrepTool.read_only
    assert tool.key_argument(args) == "x in sub"
    assert tool.touched_paths(args, ctx) == [(tmp_path / "sub").resolve()]
    assert tool.touched_paths(tool.parse_input({"pattern": "x"}), ctx) == [tmp_path.resolve()]


# --- Grep ---------------------------------------------------------------------------------------

@pytest.fixture
def code(tmp_path: Path) -> Path:
    make(tmp_path, {
        "app.py": "import os\n\ndef main():\n    return os.getcwd()\n",
        "lib/util.py": "def helper():\n    pass\n# TODO later\n",
        "web/index.ts": "// TODO: ship\nexport const x = 1;\n",
        "web/view.tsx": "export const View = () => null; // todo\n",
    })
    return tmp_path


async def test_grep_lists_matching_files_by_default(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="TODO")
    assert sorted(result.content.splitlines()) == [str(code / "lib/util.py"), str(code / "web/index.ts")]
    assert result.summary == "2 files"


async def test_grep_case_insensitive_flag(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="todo", **{"-i": True})
    assert len(result.content.splitlines()) == 3


async def test_grep_content_mode_shows_path_line_number_and_text(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern=r"def \w+", output_mode="content")
    assert result.content.splitlines() == [
        f"{code / 'app.py'}:3:def main():", f"{code / 'lib/util.py'}:1:def helper():",
    ]
    assert result.summary == "2 matches"


async def test_grep_content_mode_without_line_numbers(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="helper", output_mode="content", **{"-n": False})
    assert result.content == f"{code / 'lib/util.py'}:def helper():"


async def test_grep_context_lines_use_dashes_and_separate_groups(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"f.txt": "a\nhit1\nb\nc\nd\ne\nhit2\nf\n"})
    result = await call(GrepTool(), ctx, pattern="hit", output_mode="content", **{"-C": 1})
    p = tmp_path / "f.txt"
    assert result.content.splitlines() == [
        f"{p}-1-a", f"{p}:2:hit1", f"{p}-3-b", "--", f"{p}-6-e", f"{p}:7:hit2", f"{p}-8-f",
    ]


async def test_grep_count_mode_counts_matching_lines_per_file(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="e", output_mode="count", glob="*.py")
    counts = dict(line.rsplit(":", 1) for line in result.content.splitlines())
    assert counts == {str(code / "app.py"): "2", str(code / "lib/util.py"): "2"}
    assert result.summary == "4 matches"


async def test_grep_glob_with_braces_filters_file_names_at_any_depth(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="export", glob="*.{ts,tsx}")
    assert sorted(result.content.splitlines()) == [str(code / "web/index.ts"), str(code / "web/view.tsx")]


async def test_grep_type_filter_selects_by_extension(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="TODO", type="py")
    assert result.content.splitlines() == [str(code / "lib/util.py")]


async def test_grep_unknown_type_is_an_error(ctx: ToolContext, code: Path) -> None:
    with pytest.raises(ToolError, match="Unknown type"):
        await call(GrepTool(), ctx, pattern="x", type="cobol")


async def test_grep_searches_a_single_file_path(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="os", path="app.py", output_mode="count")
    assert result.content == f"{code / 'app.py'}:2"


async def test_grep_head_limit_keeps_the_first_entries(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"f.txt": "x\n" * 10})
    result = await call(GrepTool(), ctx, pattern="x", output_mode="content", head_limit=3)
    lines = result.content.splitlines()
    assert len(lines) == 4 and lines[-1] == "(Showing the first 3 of 10.)"
    assert result.summary == "10 matches"


async def test_grep_bad_regex_names_the_problem(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="Invalid regular expression") as info:
        await call(GrepTool(), ctx, pattern="foo(")
    assert "missing )" in str(info.value)


async def test_grep_no_match_is_not_an_error(ctx: ToolContext, code: Path) -> None:
    result = await call(GrepTool(), ctx, pattern="zzz_nothing")
    assert result.content == "No matches found." and not result.is_error
    assert result.summary == "0 files"


async def test_grep_skips_binary_and_huge_files(ctx: ToolContext, tmp_path: Path, monkeypatch: Any) -> None:
    import agent.tools.search as search  # GREP_MAX_FILE_BYTES lives here

    monkeypatch.setattr(search, "GREP_MAX_FILE_BYTES", 100)
    (tmp_path / "bin.dat").write_bytes(b"needle\x00\x01")
    (tmp_path / "big.txt").write_text("needle\n" + "x" * 200)
    (tmp_path / "ok.txt").write_text("needle\n")
    result = await call(GrepTool(), ctx, pattern="needle")
    assert result.content.splitlines() == [str(tmp_path / "ok.txt")]


async def test_grep_skips_generated_folders_outside_git(ctx: ToolContext, tmp_path: Path) -> None:
    make(tmp_path, {"a.py": "needle", "__pycache__/a.py": "needle", "node_modules/m.js": "needle"})
    result = await call(GrepTool(), ctx, pattern="needle")
    assert result.content.splitlines() == [str(tmp_path / "a.py")]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
async def test_grep_honours_gitignore_inside_a_git_work_tree(ctx: ToolContext, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    make(tmp_path, {".gitignore": "logs/\n*.tmp\n", "kept.txt": "needle", "logs/x.txt": "needle",
                    "y.tmp": "needle", "sub/untracked.txt": "needle"})
    result = await call(GrepTool(), ctx, pattern="needle")
    expected = [str(tmp_path / "kept.txt"), str(tmp_path / "sub/untracked.txt")]
    assert sorted(result.content.splitlines()) == expected
    # An ignored folder searched on purpose is still searched (git lists nothing there, so we walk it).
    inside = await call(GrepTool(), ctx, pattern="needle", path="logs")
    assert inside.content.splitlines() == [str(tmp_path / "logs/x.txt")]


def test_list_files_walk_skips_ignored_folders(tmp_path: Path) -> None:
    make(tmp_path, {"a.txt": "", "build/b.txt": "", ".mypy_cache/c": "", "src/d.txt": ""})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in list_files(tmp_path)) == ["a.txt", "src/d.txt"]


def test_grep_schema_uses_claude_code_flag_names() -> None:
    schema = GrepTool.input_schema()
    assert schema["required"] == ["pattern"]
    assert {"-i", "-n", "-C", "-A", "-B", "glob", "output_mode", "head_limit"} <= set(schema["properties"])
    assert schema["properties"]["output_mode"]["default"] == "files_with_matches"


def test_default_tools_are_the_working_tools_in_claude_code_order() -> None:
    assert [t.name for t in default_tools()][:6] == ["Bash", "Glob", "Grep", "Read", "Edit", "Write"]
