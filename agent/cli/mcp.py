"""`agent mcp add|add-json|list|get|remove`: MCP servers from a shell, in Claude Code's formats.

    agent mcp add [--scope local|project|user] [--transport stdio|http|sse] [-e K=V] [-H 'K: V'] NAME -- CMD ARGS...
    agent mcp add --transport http NAME URL
    agent mcp add-json [--scope S] NAME '{"command": ...}'
    agent mcp list | get NAME | remove [--scope S] NAME

project scope writes `.mcp.json`; user and local scopes write `agent-mcp.json` in the user's config folder
(see agent.mcp.config for why not `~/.claude.json`, which is still read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Parser, UsageError

SCOPE_HELP = "local (default: you, this project), project (.mcp.json, shared), user (you, every project)"


def build_mcp_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="agent mcp", description="Configure MCP servers (Claude Code's formats and scopes). "
                    "Exit status: 0 done, 1 failed, 2 bad usage.")
    parser.add_argument("--cwd", type=Path, default=None, help="project folder (default: current folder)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="add|add-json|list|get|remove")
    add = sub.add_parser("add", help="add a server: NAME -- COMMAND ARGS... (stdio) or NAME URL (http, sse)")
    add.add_argument("--scope", "-s", choices=("local", "project", "user"), default="local", help=SCOPE_HELP)
    add.add_argument("--transport", "-t", choices=("stdio", "http", "sse"), default="stdio")
    add.add_argument("--env", "-e", action="append", default=[], metavar="KEY=VALUE", help="for a stdio server")
    add.add_argument("--header", "-H", action="append", default=[], metavar="'Name: value'",
                     help="for an http or sse server")
    add.add_argument("name")
    add.add_argument("target", nargs="*", help="the URL (http, sse), or the command and its arguments after --")
    add_json = sub.add_parser("add-json", help="add a server from its JSON entry")
    add_json.add_argument("--scope", "-s", choices=("local", "project", "user"), default="local", help=SCOPE_HELP)
    add_json.add_argument("name")
    add_json.add_argument("json")
    sub.add_parser("list", help="list the servers, with a connection check")
    get = sub.add_parser("get", help="show one server")
    get.add_argument("name")
    remove = sub.add_parser("remove", help="remove a server")
    remove.add_argument("--scope", "-s", choices=("local", "project", "user"), default=None)
    remove.add_argument("name")
    return parser


def run_mcp_cli(argv: Sequence[str]) -> int:
    from agent.mcp.config import McpConfigError

    argv = list(argv)
    command: list[str] = []
    if "--" in argv:  # everything after `--` is the server's command line, never our options
        command, argv = argv[argv.index("--") + 1:], argv[:argv.index("--")]
    try:
        args = build_mcp_parser().parse_args(argv)
        project = (args.cwd or Path.cwd()).expanduser().resolve()
        env = dict(os.environ)
        if args.action == "add":
            return _add(args, command, project, env)
        if command:
            raise UsageError(f"agent mcp {args.action}: unexpected arguments after --")
        if args.action == "add-json":
            return _add_json(args, project, env)
        if args.action == "remove":
            return _remove(args, project, env)
        return _list(project, env) if args.action == "list" else _get(args.name, project, env)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except McpConfigError as exc:
        print(f"agent mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"agent mcp: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", file=sys.stderr)
        return EXIT_FAILURE


def _pairs(values: list[str], sep: str, what: str) -> dict[str, str]:
    found = {}
    for value in values:
        key, found_sep, rest = value.partition(sep)
        if not found_sep or not key.strip():
            form = "KEY=VALUE" if sep == "=" else "Name: value"
            raise UsageError(f"agent mcp add: {what} {value!r} must look like {form}")
        found[key.strip()] = rest.strip() if sep == ":" else rest
    return found


def _add(args: argparse.Namespace, command: list[str], project: Path, env: dict[str, str]) -> int:
    from agent.mcp.config import check_name

    check_name(args.name)
    if args.transport == "stdio":
        command = command or args.target
        if not command:
            raise UsageError("agent mcp add: give the server's command after --, e.g. "
                             "agent mcp add files -- npx -y @modelcontextprotocol/server-filesystem .")
        entry: dict[str, Any] = {"type": "stdio", "command": command[0], "args": command[1:],
                                 "env": _pairs(args.env, "=", "--env")}
    else:
        if len(args.target) != 1 or command:
            raise UsageError(f"agent mcp add: an {args.transport} server takes one URL: "
                             f"agent mcp add --transport {args.transport} NAME https://...")
        entry = {"type": args.transport, "url": args.target[0]}
        if args.header:
            entry["headers"] = _pairs(args.header, ":", "--header")
    return _write(args.scope, args.name, entry, project, env)


def _add_json(args: argparse.Namespace, project: Path, env: dict[str, str]) -> int:
    from agent.mcp.config import check_name, parse_server

    check_name(args.name)
    try:
        entry = json.loads(args.json)
    except ValueError as exc:
        raise UsageError(f"agent mcp add-json: not valid JSON ({exc})") from None
    spec = parse_server(args.name, entry, args.scope, "add-json", {k: "x" for k in env} | _placeholders(entry))
    if spec.problem:
        raise UsageError(f"agent mcp {spec.problem}")
    return _write(args.scope, args.name, entry, project, env)


def _placeholders(entry: Any) -> dict[str, str]:
    """Variables the entry names count as set while checking its form: they are expanded when it starts."""
    import re

    return {name: "x" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", json.dumps(entry))}


def _write(scope: str, name: str, entry: dict[str, Any], project: Path, env: dict[str, str]) -> int:
    from agent.mcp.store import add_server

    path = add_server(scope, name, entry, project, env)
    print(f"Added {entry.get('type', 'stdio')} MCP server {name} ({scope} scope) to {path}")
    if scope == "project":
        print("Servers of .mcp.json start once the folder is trusted (agent trust) and the server approved "
              "(asked in the chat, or enabledMcpjsonServers in settings).")
    return EXIT_OK


def _remove(args: argparse.Namespace, project: Path, env: dict[str, str]) -> int:
    from agent.mcp.config import scope_servers
    from agent.mcp.store import remove_server, scope_file

    scopes = [args.scope] if args.scope else [s for s in ("local", "project", "user")
                                              if any(x.name == args.name for x in scope_servers(s, project, env)[0])]
    if not args.scope and len(scopes) > 1:
        raise UsageError(f"agent mcp remove: {args.name} is in several scopes ({', '.join(scopes)}); "
                         "say which with --scope")
    if scopes and remove_server(scopes[0], args.name, project, env):
        print(f"Removed MCP server {args.name} ({scopes[0]} scope) from {scope_file(scopes[0], project, env)}")
        return EXIT_OK
    where = f" in {args.scope} scope" if args.scope else ""
    print(f"agent mcp remove: no MCP server named {args.name}{where} that agent mcp can change "
          "(agent mcp list shows them)", file=sys.stderr)
    return EXIT_FAILURE


def _checked(project: Path, env: dict[str, str]) -> Any:
    """The servers as a session would see them, each that may start given a bounded chance to connect."""
    from agent.mcp import open_mcp
    from agent.settings import load_settings

    manager = open_mcp(project, load_settings(project), env, report=lambda line: None)
    manager.start()
    manager.wait_ready()
    return manager


def _describe(state: Any) -> str:
    spec = state.spec
    target = spec.url if spec.transport != "stdio" else " ".join([spec.command, *spec.args])
    status = {"connected": "connected", "failed": f"failed: {state.error}", "pending": "still connecting",
              "disabled": f"off: {state.error}"}[state.status]
    return f"{spec.name}: {target} ({spec.transport}, {spec.scope} scope) - {status}"


def _list(project: Path, env: dict[str, str]) -> int:
    manager = _checked(project, env)
    try:
        for line in manager.problems:
            print(f"agent mcp: warning: {line}", file=sys.stderr)
        if not manager.states:
            print("No MCP servers configured. Add one with: agent mcp add NAME -- COMMAND ARGS...")
        for state in manager.states.values():
            print(_describe(state))
    finally:
        manager.close()
    return EXIT_OK


def _get(name: str, project: Path, env: dict[str, str]) -> int:
    manager = _checked(project, env)
    try:
        state = manager.states.get(name)
        if state is None:
            print(f"agent mcp get: no MCP server named {name} (agent mcp list shows them)", file=sys.stderr)
            return EXIT_FAILURE
        print(_describe(state))
        print(f"  source: {state.spec.source}")
        print(f"  config: {json.dumps(state.spec.raw)}")
        for tool in state.tools:
            print(f"  tool {tool.name}: {tool.description.splitlines()[0] if tool.description else ''}")
    finally:
        manager.close()
    return EXIT_OK
