"""Session commands: /help, /clear, /compact, /resume, /cost, /model, /permissions, /expand, /exit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agent.repl.commands.base import Command, CommandContext, split_args
from agent.repl.formatting import format_cost, format_duration, format_tokens

CLEAR_SCREEN = "\x1b[H\x1b[2J"  # cursor home, erase the screen (the scrollback above stays)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

KEYS_HELP = (
    ("Enter", "send (while a turn runs, the message waits and runs right after it)"),
    ("Esc Enter, or \\ at the end", "new line"),
    ("Tab", "complete a /command or an @file"),
    ("Esc", "interrupt the running turn"),
    ("Shift-Tab", "cycle the permission mode: default, acceptEdits, plan"),
    ("!command", "run a shell command yourself; the model sees it and its output with your next message"),
    ("@path", "attach a project file to the message"),
    ("Ctrl-C", "interrupt the running turn; clear the line; twice on an empty line to exit"),
    ("Ctrl-D", "exit (on an empty line; asks first while session loops would stop)"),
    ("Ctrl-O", "verbose transcript on/off: tool results whole (/expand shows the last one)"),
)


def help_command(commands: Callable[[], Sequence[Command]],
                 custom: Callable[[], Sequence[tuple[str, str]]] | None = None) -> Command:
    """/help, listing whatever `commands()` (and `custom()`: the custom commands) return when it runs."""

    async def show_help(ctx: CommandContext, args: str) -> None:
        rows = [(c.signature, c.summary) for c in commands()]
        ctx.renderer.table(("Command", "What it does"), rows, title="Commands")
        custom_rows = custom() if custom is not None else []
        if custom_rows:
            ctx.renderer.table(("Command", "What it does"), custom_rows,
                               title="Custom commands (.claude/commands, ~/.claude/commands)")
        ctx.renderer.table(("Key", "What it does"), KEYS_HELP, title="Keys")

    return Command("help", "show the commands and keys", show_help, needs_session=False)


async def clear(ctx: CommandContext, args: str) -> None:
    async def job() -> None:
        conversation = ctx.host.conversation()
        if conversation is not None:
            conversation.clear()
        from rich.text import Text

        done = Text("Started a new conversation: the model no longer sees the earlier messages.", style="green")
        ctx.renderer.write(CLEAR_SCREEN + ctx.renderer.to_text(done))  # a clean screen too, as in Claude Code

    ctx.host.between_turns("clear", job)


async def resume(ctx: CommandContext, args: str) -> None:
    """/resume [id]: pick a saved session (arrow keys, type to filter) and continue it here."""
    import asyncio

    from agent.engine.transcript import find_session, list_sessions

    if ctx.host.is_busy():
        ctx.renderer.error("A turn is running: /resume when it has ended (Esc stops it).")
        return
    project, env = ctx.session.project_dir, ctx.session.env
    current = getattr(ctx.host, "session_id", None)
    if args.strip():
        chosen = await asyncio.to_thread(find_session, project, env, args.strip())
        if chosen is None:
            ctx.renderer.error(f"No saved session {args.strip()!r} in this project; /resume alone lists them.")
            return
    else:
        from agent.repl.session_picker import pick_session_async

        sessions = [s for s in await asyncio.to_thread(list_sessions, project, env) if s.session_id != current]
        if not sessions:
            ctx.renderer.info("No other saved session in this project yet.")
            return
        chosen = await pick_session_async(sessions)
        if chosen is None:
            return
    await ctx.host.resume_session(chosen.session_id, chosen.path)


async def compact(ctx: CommandContext, args: str) -> None:
    async def job() -> None:
        conversation = ctx.host.conversation()
        if conversation is None or not conversation.history:
            ctx.renderer.info("Nothing to compact yet.")
            return
        if await conversation.compact() is None:
            ctx.renderer.info("Nothing to compact yet: the conversation is still short.")

    ctx.host.between_turns("compact", job)


async def cost(ctx: CommandContext, args: str) -> None:
    stats = ctx.host.stats
    usage = stats.usage
    rows = [
        ("Cost", format_cost(stats.cost_usd if stats.cost_known else None)),
        ("Input tokens", f"{usage.input_tokens:,}"),
        ("Output tokens", f"{usage.output_tokens:,}"),
        ("Cache reads / writes", f"{usage.cache_read_tokens:,} / {usage.cache_write_tokens:,}"),
        ("Turns / model requests", f"{stats.turns} / {stats.requests}"),
        ("Session time", format_duration(time.monotonic() - stats.started)),
    ]
    if stats.context_window:
        share = 100 * stats.context_tokens / stats.context_window
        rows.append(("Context now", f"{format_tokens(stats.context_tokens)} of "
                                    f"{format_tokens(stats.context_window)} tokens ({share:.0f}%)"))
    ctx.renderer.table(("", ""), rows, title="This session")


async def model(ctx: CommandContext, args: str) -> None:
    from agent.engine.llm.models import MODEL_ALIASES

    name = args.strip()
    if not name:
        aliases = ", ".join(f"{k} = {v}" for k, v in MODEL_ALIASES.items())
        ctx.renderer.line(f"Model: {ctx.session.model}")
        ctx.renderer.info(f"Change it with /model <name>. Short names: {aliases}")
        return

    async def job() -> None:
        ctx.host.switch_model(name)
        ctx.renderer.success(f"Model: {ctx.session.model} (from the next request on)")

    ctx.host.between_turns("model", job)


async def permissions(ctx: CommandContext, args: str) -> None:
    from agent.permissions.rules import PermissionConfigError, PermissionMode, parse_rule

    policy = ctx.session.policy
    word, rest = split_args(args)
    modes = [m.value for m in PermissionMode]
    if word in modes or word == "mode":
        chosen = rest if word == "mode" else word
        if chosen not in modes:
            ctx.renderer.error(f"Unknown mode {chosen!r}: use one of {', '.join(modes)}")
            return
        policy.mode = PermissionMode(chosen)
        ctx.renderer.success(f"Permission mode: {chosen}")
        return
    if word == "allow" and rest:
        try:
            parse_rule(rest)
        except PermissionConfigError as exc:
            ctx.renderer.error(str(exc))
            return
        policy.allow_for_session(rest)
        ctx.renderer.success(f"Allowed for this session: {rest}")
        return
    if word:
        ctx.renderer.error(f"Unknown /permissions argument {word!r}. Use /permissions [<mode>|allow <rule>]")
        return
    rows = [("Mode", f"{policy.mode.value}  (one of {', '.join(modes)})")]
    for label, rules in (("Allow", policy.allow), ("Deny", policy.deny), ("Ask", policy.ask),
                         ("Allowed this session", policy.session_allow)):
        rows.append((label, ", ".join(r.text for r in rules) or "-"))
    rows.append(("Web", _web_row(ctx)))
    ctx.renderer.table(("", ""), rows, title="Permissions")


def _web_row(ctx: CommandContext) -> str:
    """Where the model may reach: WebFetch's domain rules and the sandbox's network allowedDomains, together."""
    policy = ctx.session.policy
    fetch = [f"{word} {r.specifier.removeprefix('domain:')}" for word, rules in
             (("allow", (*policy.allow, *policy.session_allow)), ("deny", policy.deny)) for r in rules
             if r.tool == "WebFetch" and r.specifier]
    sandbox = getattr(getattr(ctx.session.sandbox, "settings", None), "allowed_domains", ())
    return (f"WebFetch: {', '.join(fetch) or 'asks per domain'} · sandbox network (Bash): "
            f"{', '.join(sandbox) or 'no domains allowed'}")
    ctx.renderer.info("Change the mode with /permissions <mode>; add a rule for this session with "
                      "/permissions allow <rule>; keep rules in .claude/settings.json.")


async def expand(ctx: CommandContext, args: str) -> None:
    ctx.renderer.show_last_result()


async def exit_repl(ctx: CommandContext, args: str) -> None:
    ctx.host.request_exit()


SESSION_COMMANDS = (
    Command("clear", "start a new conversation (forget the history)", clear),
    Command("compact", "summarise the older part of the conversation now", compact),
    Command("resume", "continue a saved session (pick from a list, or give its id)", resume, usage="[id]"),
    Command("cost", "tokens and money spent in this session", cost),
    Command("model", "show or change the model", model, usage="[name]"),
    Command("permissions", "show the permission rules; change the mode", permissions,
            usage="[mode | allow <rule>]"),
    Command("expand", "show the last tool result whole", expand, needs_session=False),
    Command("exit", "leave (Ctrl-D does too)", exit_repl, aliases=("quit",), needs_session=False),
)
