"""Bad bytes never crash `agent -p`: undecodable stdin, argv and file names, lone surrogates, JSON nested
50,000 deep, malformed keys. Each case runs the real CLI against the fake Messages API and ends with a
one-line error or the text carried through (bad bytes as U+FFFD), the result object on stdout for the
json formats, exit status 0, 1 or 2 as the case says, and never a traceback. The key never shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env, error_reply, text_reply, tool_reply

BAD = b"caf\xe9"  # Latin-1 "café": not UTF-8
SECRET = "sk-ant-api03-SECRETdoNOTshow0123456789"


def run(api: FakeAnthropic, tmp_path: Path, *args: str | bytes, stdin: bytes = b"", cwd: Path | bytes | None = None,
        **env: str) -> subprocess.CompletedProcess[bytes]:
    project = cwd if cwd is not None else tmp_path / "project"
    if isinstance(project, Path):
        project.mkdir(exist_ok=True)
    state = tmp_path / "state"
    environ = child_env(api, home=tmp_path / "home", XDG_STATE_HOME=str(state), **env)
    return subprocess.run([sys.executable, "-m", "agent", "--cwd", project, *args], input=stdin,
                          capture_output=True, timeout=60, env=environ)


def results(done: subprocess.CompletedProcess[bytes]) -> list[dict]:
    lines = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines() if line.strip()]
    return [line for line in lines if line.get("type") == "result"]


def assert_no_traceback(done: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in done.stderr, done.stderr


@pytest.fixture
def api(fake_api: FakeAnthropic) -> FakeAnthropic:
    fake_api.set_default(lambda request: text_reply("seen: " + request.turn_prompt()))
    return fake_api


# ----------------------------------------------------------------------------- carried through as U+FFFD


@pytest.mark.parametrize("output", ["text", "json", "stream-json"])
def test_non_utf8_stdin_is_carried_through_as_replacement_characters(api, tmp_path, output):
    extra = ["--verbose"] if output == "stream-json" else []
    done = run(api, tmp_path, "-p", "review", "--output-format", output, *extra, stdin=b"caf\xe9 \xff\xfe end")
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert "caf\ufffd \ufffd\ufffd end" in api.requests[0].turn_prompt()
    if output != "text":
        assert results(done)[-1]["is_error"] is False
    else:
        assert "caf\ufffd" in done.stdout.decode("utf-8")


@pytest.mark.parametrize("where", ["prompt", "--append-system-prompt", "--allowedTools"])
def test_undecodable_argv_bytes_are_carried_through(api, tmp_path, where):
    args: list[str | bytes] = ["-p", BAD if where == "prompt" else "hello", "--output-format", "json"]
    if where != "prompt":
        args += [where.encode(), b"Bash(" + BAD + b":*)" if where == "--allowedTools" else BAD]
    done = run(api, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert results(done)[0]["is_error"] is False
    request = api.requests[0]
    if where == "prompt":
        assert request.turn_prompt() == "caf\ufffd"
    elif where == "--append-system-prompt":
        assert "caf\ufffd" in request.system_text


def test_a_project_folder_whose_name_is_not_utf8_works(api, tmp_path):
    folder = os.fsencode(tmp_path) + b"/" + BAD
    os.mkdir(folder)
    os.mkdir(os.fsencode(tmp_path / "project"))
    done = run(api, tmp_path, "-p", "hi", "--output-format", "stream-json", "--verbose", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert "caf\ufffd" in api.requests[0].system_text


def test_a_file_name_that_is_not_utf8_reaches_the_model_as_replacement_characters(api, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (Path(os.fsdecode(os.fsencode(project) + b"/" + BAD + b".py"))).write_text("x = 1\n")
    api.script(tool_reply(("Glob", {"pattern": "*.py"})), text_reply("listed"))
    done = run(api, tmp_path, "-p", "list", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    assert "caf\ufffd.py" in api.requests[1].tool_result_texts()[0]


def test_a_lone_surrogate_from_the_model_is_replaced_and_the_session_stays_readable(api, tmp_path):
    api.script(text_reply("half \ud800 a pair"))
    done = run(api, tmp_path, "-p", "hi", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    assert results(done)[0]["result"] == "half \ufffd a pair"
    transcripts = list((tmp_path / "state").rglob("*.jsonl"))
    assert transcripts and all(json.loads(line) for t in transcripts for line in t.read_text("utf-8").splitlines())


def test_nested_json_on_plain_stdin_is_just_text(api, tmp_path):
    deep = b"[" * 50_000 + b"]" * 50_000
    done = run(api, tmp_path, "-p", "what is this", "--output-format", "json", stdin=deep)
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert deep.decode() in api.requests[0].turn_prompt()


# ----------------------------------------------------------------------------- stream-json input


def stream(api: FakeAnthropic, tmp_path: Path, *lines: bytes) -> subprocess.CompletedProcess[bytes]:
    return run(api, tmp_path, "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
               stdin=b"".join(line + b"\n" for line in lines))


def user_line(content: str) -> bytes:
    return json.dumps({"type": "user", "message": {"role": "user", "content": content}}).encode()


def test_stream_json_lone_surrogate_escape_is_carried_through(api, tmp_path):
    line = b'{"type": "user", "message": {"role": "user", "content": "x \\ud800 y \\udfff"}}'
    done = stream(api, tmp_path, line)
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert api.requests[0].turn_prompt() == "x \ufffd y \ufffd"
    assert [r["is_error"] for r in results(done)] == [False]


def test_stream_json_raw_non_utf8_line_is_carried_through(api, tmp_path):
    line = user_line("PLACEHOLDER").replace(b"PLACEHOLDER", BAD)
    done = stream(api, tmp_path, line, user_line("second"))
    assert done.returncode == 0, done.stderr
    assert [r.turn_prompt() for r in api.requests] == ["caf\ufffd", "second"]


def test_stream_json_nested_50000_deep_is_one_error_and_the_session_goes_on(api, tmp_path):
    deep = b"[" * 50_000 + b"]" * 50_000
    done = stream(api, tmp_path, deep, user_line("still here"))
    assert done.returncode == 1
    assert_no_traceback(done)
    first, second = results(done)
    assert first["is_error"] is True and "nested too deeply" in first["result"]
    assert second["is_error"] is False and api.requests[0].turn_prompt() == "still here"


@pytest.mark.parametrize("content", [
    [{"type": "text", "text": 42}],
    [{"type": "text", "text": None}, "loose string", 7],
    {"not": "a list"},
])
def test_stream_json_odd_content_blocks_are_a_one_line_error(api, tmp_path, content):
    line = json.dumps({"type": "user", "message": {"role": "user", "content": content}}).encode()
    done = stream(api, tmp_path, line)
    assert done.returncode == 1
    assert_no_traceback(done)
    assert results(done)[0]["is_error"] is True and api.requests == []


# ----------------------------------------------------------------------------- refused with one line


@pytest.mark.parametrize("model", [BAD, b"claude sonnet", b"claude-\x1b[31m", b""])
@pytest.mark.parametrize("output", ["text", "json", "stream-json"])
def test_a_model_name_that_cannot_be_one_is_a_usage_error(api, tmp_path, model, output):
    extra = ["--verbose"] if output == "stream-json" else []
    done = run(api, tmp_path, "-p", "hi", "--model", model, "--output-format", output, *extra)
    assert done.returncode == 2
    assert_no_traceback(done)
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "is not a model name" in lines[0]
    if output != "text":
        (result,) = results(done)
        assert result["is_error"] is True and "is not a model name" in result["result"]
    assert api.requests == []


MALFORMED_KEYS = {
    "trailing carriage return": (SECRET + "\r", "ends with a carriage return"),
    "trailing CRLF": (SECRET + "\r\n", "carriage return and a line feed"),
    "trailing space": (SECRET + " ", "ends with a space"),
    "trailing tab": (SECRET + "\t", "ends with a tab"),
    "leading space": (" " + SECRET, "starts or ends with white space"),
    "line feed inside": (SECRET[:10] + "\n" + SECRET[10:], "control character"),
    "only blanks": ("   ", "only white space"),
}


@pytest.mark.parametrize("variable", ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
@pytest.mark.parametrize("case", list(MALFORMED_KEYS))
def test_a_malformed_key_is_reported_as_such_without_showing_it(api, tmp_path, variable, case):
    key, flaw = MALFORMED_KEYS[case]
    env = {"ANTHROPIC_API_KEY": "", variable: key}
    done = run(api, tmp_path, "-p", "hi", "--output-format", "json", "--verbose", **env)
    assert done.returncode == 1
    assert_no_traceback(done)
    (result,) = results(done)
    assert result["is_error"] is True and f"{variable} is malformed" in result["result"] and flaw in result["result"]
    assert api.requests == []
    assert_secret_nowhere(done, tmp_path, key.strip() or key)


def test_a_non_utf8_key_is_malformed(api, tmp_path):
    environ = child_env(api, home=tmp_path / "home", XDG_STATE_HOME=str(tmp_path / "state"))
    environ_bytes = {os.fsencode(k): os.fsencode(v) for k, v in environ.items()}
    environ_bytes[b"ANTHROPIC_API_KEY"] = b"sk-" + BAD
    (tmp_path / "p").mkdir()
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(tmp_path / "p"), "-p", "hi",
                           "--output-format", "json"], capture_output=True, timeout=60, env=environ_bytes)
    assert done.returncode == 1
    assert_no_traceback(done)
    assert "ANTHROPIC_API_KEY is malformed" in results(done)[0]["result"]


# ----------------------------------------------------------------------------- the key never shows


def assert_secret_nowhere(done: subprocess.CompletedProcess[bytes], tmp_path: Path, secret: str) -> None:
    needle = secret.encode()
    assert needle not in done.stdout and needle not in done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert needle not in path.read_bytes(), f"the key is in {path}"


@pytest.mark.parametrize("output", ["text", "json", "stream-json"])
def test_a_good_key_never_appears_in_output_logs_or_files_even_verbose(api, tmp_path, output):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "a.txt").write_text("hello\n")
    api.script(tool_reply(("Read", {"file_path": "a.txt"})), tool_reply(("Bash", {"command": "env | sort"})),
               error_reply(401), text_reply("unused"))
    done = run(api, tmp_path, "-p", "read a.txt", "--output-format", output, "--verbose",
               ANTHROPIC_API_KEY=SECRET)
    assert done.returncode == 1
    assert_no_traceback(done)
    assert_secret_nowhere(done, tmp_path, SECRET)


# ----------------------------------------------------------------------------- files with bad bytes


def test_a_custom_command_file_with_a_latin1_byte_still_runs(api, tmp_path):
    commands = tmp_path / "project" / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "rev.md").write_bytes(b"---\ndescription: caf\xe9\n---\nreview caf\xe9 $ARGUMENTS\n")
    done = run(api, tmp_path, "-p", b"/rev x\xff", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    assert api.requests[0].turn_prompt().endswith("review caf\ufffd x\ufffd")


def test_resuming_a_session_with_a_line_nested_50000_deep_keeps_what_came_before(api, tmp_path):
    first = run(api, tmp_path, "-p", "remember alpha", "--output-format", "json")
    session = json.loads(first.stdout)["session_id"]
    (transcript,) = (tmp_path / "state").rglob(f"{session}.jsonl")
    with transcript.open("ab") as fh:
        fh.write(b'{"type": "user", "message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n")
    done = run(api, tmp_path, "-p", "and now?", "--resume", session, "--output-format", "json")
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert "remember alpha" in json.dumps(api.requests[-1].messages)


def test_a_trust_store_nested_50000_deep_means_untrusted_not_a_crash(tmp_path):
    from agent.settings.trust import trust_store

    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    store = trust_store(env)
    store.path.parent.mkdir(parents=True)
    store.path.write_text('{"trusted": ' + "[" * 50_000 + "]" * 50_000 + "}")
    assert store.is_trusted(tmp_path) is False


def test_the_daemon_refuses_a_model_name_that_cannot_be_one_and_a_malformed_key(api, tmp_path):
    (tmp_path / "project").mkdir()
    environ = child_env(api, home=tmp_path / "home", XDG_STATE_HOME=str(tmp_path / "state"))
    base = [sys.executable, "-m", "agent", "daemon", "--cwd", str(tmp_path / "project")]
    bad_model = subprocess.run([*base, "--model", BAD], capture_output=True, timeout=60, env=environ)
    assert bad_model.returncode == 2 and b"agent daemon: --model" in bad_model.stderr
    environ["ANTHROPIC_API_KEY"] = SECRET + "\r"
    bad_key = subprocess.run(base, capture_output=True, timeout=60, env=environ)
    assert bad_key.returncode == 1 and b"ANTHROPIC_API_KEY is malformed" in bad_key.stderr
    assert SECRET.encode() not in bad_key.stderr + bad_key.stdout
    for done in (bad_model, bad_key):
        assert_no_traceback(done)


def test_tool_results_never_hold_lone_surrogates(tmp_path):
    """Every face (chat screen, transcript, request) gets U+FFFD for a file name that is not UTF-8."""
    import asyncio

    from agent.tools.base import ToolContext
    from agent.tools.registry import default_tools

    folder = os.fsencode(tmp_path)
    with open(folder + b"/" + BAD + b".py", "w") as fh:
        fh.write("x = 1\n")
    tools = {tool.name: tool for tool in default_tools()}
    ctx = ToolContext(project_dir=tmp_path)
    for name, raw in (("Glob", {"pattern": "*.py"}), ("Grep", {"pattern": "x"}), ("Bash", {"command": "ls"})):
        result = asyncio.run(tools[name].run(tools[name].parse_input(raw), ctx))
        assert "caf\ufffd.py" in result.content, name
        result.content.encode("utf-8")  # no lone surrogate left
