"""Memory files as Claude Code reads them: order, naming, @imports, AGENTS.md, subfolders on first touch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fake_api import text_reply, tool_reply

from agent.engine.memory import MemoryLoader, SubfolderMemory, imports_of, memory_section, read_memory_file


def files_at(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def loader(tmp_path: Path, files: dict[str, str]) -> tuple[MemoryLoader, Path]:
    files_at(tmp_path, files)
    project = tmp_path / "work" / "org" / "project"
    project.mkdir(parents=True, exist_ok=True)
    return MemoryLoader(project, tmp_path / "home", read_memory_file), project


def test_every_memory_file_is_read_in_claude_codes_order(tmp_path):
    memory, project = loader(tmp_path, {
        "home/.claude/CLAUDE.md": "user", "work/CLAUDE.md": "work", "work/org/CLAUDE.md": "org",
        "work/org/project/CLAUDE.md": "project", "work/org/project/.claude/CLAUDE.md": "dot-claude",
        "work/org/project/CLAUDE.local.md": "local", "work/org/project/AGENTS.md": "agents"})
    files = memory.load()
    assert [f.text for f in files] == ["user", "work", "org", "project", "dot-claude", "local"]
    assert [f.kind for f in files] == ["user", "parent", "parent", "project", "project", "local"]
    section = memory_section(files)
    assert f"Contents of {project / 'CLAUDE.local.md'} (the user's private project instructions" in section
    assert section.index("user") < section.index("org") < section.index("dot-claude")


def test_agents_md_is_read_only_when_the_project_has_no_claude_md(tmp_path):
    memory, _ = loader(tmp_path, {"work/org/project/AGENTS.md": "agents",
                                        "work/org/project/CLAUDE.local.md": "l"})
    assert [f.text for f in memory.load()] == ["agents", "l"]


def test_imports_are_relative_to_the_file_and_follow_five_levels(tmp_path):
    chain = {f"work/org/project/docs/l{i}.md": f"level {i} @l{i + 1}.md" for i in range(1, 8)}
    memory, _ = loader(tmp_path, {"work/org/project/CLAUDE.md": "see @docs/l1.md", **chain})
    texts = [f.text for f in memory.load()]
    assert texts[0] == "see @docs/l1.md" and texts[1:] == [f"level {i} @l{i + 1}.md" for i in range(1, 6)]


def test_imports_never_leave_the_project_or_home_and_cycles_end(tmp_path):
    memory, project = loader(tmp_path, {
        "work/org/project/CLAUDE.md": "@a.md @../../outside.md @/etc/passwd @~/notes.md mail me@example.com",
        "work/org/project/a.md": "a imports back @CLAUDE.md", "work/outside.md": "secret",
        "home/notes.md": "home notes"})
    files = memory.load()
    assert [f.text for f in files][1:] == ["a imports back @CLAUDE.md", "home notes"]
    assert files[1].kind == "import" and files[1].description == f"imported by {project / 'CLAUDE.md'}"


def test_imports_inside_code_are_not_imports():
    text = "run `npm i @types/node`\n```\n@x/y.md\n```\n@real.md and @./also.md"
    assert imports_of(text) == ["real.md", "./also.md"]


def test_a_project_memory_file_linking_outside_is_not_read(tmp_path):
    memory, project = loader(tmp_path, {"secret.txt": "key"})
    (project / "CLAUDE.md").symlink_to(tmp_path / "secret.txt")
    assert memory.load() == []


def test_subfolder_claude_md_is_read_when_a_tool_first_touches_the_folder(tmp_path):
    memory, project = loader(tmp_path, {"work/org/project/src/CLAUDE.md": "src rules",
                                        "work/org/project/src/api/CLAUDE.md": "api rules",
                                        "work/org/project/src/api/x.py": ""})
    memory.load()
    sub = SubfolderMemory(memory)
    assert [f.text for f in sub.touched(project / "src/api/x.py")] == ["src rules", "api rules"]
    assert sub.touched("src/api/x.py") == [] and sub.touched(project / "README.md") == []
    assert sub.touched("/etc/passwd") == []


def test_p_sends_user_project_local_and_imported_memory_and_subfolder_memory_on_touch(fake_api, fake_api_env,
                                                                                      tmp_path):
    """C_probe's set-up: ~/.claude/CLAUDE.md, CLAUDE.md with an @import, CLAUDE.local.md."""
    home, project = Path(fake_api_env["HOME"]), tmp_path / "project"
    files_at(home, {".claude/CLAUDE.md": "USER-MEMORY"})
    files_at(project, {"CLAUDE.md": "PROJECT-MEMORY @docs/style.md", "docs/style.md": "IMPORTED-STYLE",
                       "CLAUDE.local.md": "LOCAL-MEMORY", "pkg/CLAUDE.md": "PKG-MEMORY", "pkg/a.txt": "A"})
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "pkg/a.txt")})),
                    tool_reply(("Read", {"file_path": str(project / "pkg/a.txt")})), text_reply("ok"))
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "hi", "--output-format",
                           "json"], env=fake_api_env, capture_output=True, text=True, timeout=120)
    assert json.loads(done.stdout)["is_error"] is False, done.stderr
    system = fake_api.requests[0].system_text
    order = [system.index(m) for m in ("USER-MEMORY", "PROJECT-MEMORY", "IMPORTED-STYLE", "LOCAL-MEMORY")]
    assert order == sorted(order) and str(project / "CLAUDE.local.md") in system and "PKG-MEMORY" not in system
    first, second = (json.dumps(fake_api.requests[i].tool_results()) for i in (1, 2))
    assert "PKG-MEMORY" in first and "PKG-MEMORY" not in second
