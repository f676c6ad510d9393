"""Shared fixtures of the export tests: tasks (one with a hostile prompt), a fixed context, and
decoders that undo each target's quoting the way the target does (cron, systemd, Kubernetes)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from agent.cron.expr import parse_cron
from agent.export.formats import ExportContext, ExportTask

HOSTILE = ("it's \"quoted\" $HOME ${HOME} $(id) `id` 100% done \\% 50%% back\\\\slash \\\n"
           "second line\twith a tab ${{ secrets.OTHER }} $$(VAR) $(VAR) é 日本 end;|&>")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

TASKS = [
    ExportTask(id="1a2b3c4d", expr=parse_cron("30 9 * * 1-5"), prompt=HOSTILE, max_turns=8,
               catch_up="latest", jitter_s=900, min_interval_s=86400),
    ExportTask(id="5e6f7a8b", expr=parse_cron("0 8-18/2 * * *"), prompt="-summarise new issues", catch_up="skip",
               jitter_s=720, min_interval_s=7200),
]
ISOLATED = ExportTask(id="9c0d1e2f", expr=parse_cron("15 6 * * *"), prompt="Fix one lint warning",
                      isolation=True, jitter_s=900, min_interval_s=86400)


def context(**changes: object) -> ExportContext:
    values: dict = {"project": "/home/user/my project", "agent_argv": ("/usr/local/bin/agent",), "zone": BERLIN,
                    "zone_name": "Europe/Berlin", "now": NOW, "env_file": "/home/user/.config/agent/env",
                    "log_dir": "/home/user/.local/state/agent/logs", "image": "registry.example/agent-project:1"}
    values.update(changes)
    return ExportContext(**values)


def cron_command(line: str) -> str:
    """What cronie runs for a crontab line: `\\%` becomes `%`; an unescaped `%` would end the command
    (the rest going to stdin), which the export must never leave."""
    command = line.split(" ", 5)[5]
    out: list[str] = []
    escaped = False
    for ch in command:
        if escaped:
            escaped = False
            if ch == "%":
                out[-1] = "%"
                continue
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            raise AssertionError(f"unescaped % in crontab command: {command!r}")
        out.append(ch)
    return "".join(out)


def k8s_expand(text: str) -> str:
    """Kubernetes' expansion of command/args (k8s.io/kubernetes third_party expansion.go) with no
    variables defined: `$$` is `$`, `$(NAME)` of an undefined NAME stays as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    out.append(text[i:end + 1])  # undefined: left as written
                    i = end + 1
                    continue
            out.append(text[i:i + 2])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


_C_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f", "r": "\r",
              "v": "\v", "s": " "}


def systemd_words(value: str) -> list[str]:
    """An ExecStart= value split and unquoted as systemd.syntax(7) documents: specifiers (`%%`) first,
    then words in double quotes with C escapes, then `$$` as a literal `$`."""
    value = value.replace("%%", "\0pct\0")
    assert "%" not in value, f"unescaped specifier in {value!r}"
    words: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        assert value[i] == '"', f"unquoted word at {value[i:]!r}"
        i += 1
        word: list[str] = []
        while value[i] != '"':
            if value[i] == "\\":
                code = value[i + 1]
                if code in "xuU":
                    width = {"x": 2, "u": 4, "U": 8}[code]
                    word.append(chr(int(value[i + 2:i + 2 + width], 16)))
                    i += 2 + width
                    continue
                word.append(_C_ESCAPES[code])
                i += 2
                continue
            word.append(value[i])
            i += 1
        i += 1
        text = "".join(word).replace("\0pct\0", "%")
        assert "$" not in text.replace("$$", ""), f"unescaped $ in {text!r}"
        words.append(text.replace("$$", "$"))
    return words
