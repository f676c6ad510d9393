"""The sandbox's end of the network: run a command with a proxy on 127.0.0.1 that leads to the agent's.

    python -m agent.permissions.network.relay --socket SOCK --port PORT -- CMD ARGS...
    python -I -S relay.py --socket SOCK --port PORT -- CMD ARGS...   (what the sandbox runs: faster)
    python -I -S relay.py --socket SOCK --port PORT                  (no command: relay until killed)

Runs inside the sandbox's private network namespace, where the only way out is the unix socket SOCK
(the agent's filtering proxy, bind-mounted in). It brings the loopback interface up if nobody did
(Landlock's backend makes a bare namespace), listens on 127.0.0.1:PORT (0: any free port), starts CMD
with HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy and ALL_PROXY pointing there (NO_PROXY empty, so
nothing bypasses it), copies each connection's bytes to and from SOCK, and exits with CMD's status when
CMD ends (killed by a signal: the same signal). Signals it receives go to CMD. Without CMD it only
relays, until it is killed (a sandbox launcher that starts the command itself and sets the variables).

Standard library only, and only the cheap modules (no typing, contextlib or argparse unless run as a
program): it imports nothing from `agent`, runs by file path under `python -I -S` with nothing of the
command's environment able to change what it loads, and the sandbox launcher loads it into a fork of
itself (`start_in_background`) rather than starting a second interpreter.
"""

from __future__ import annotations

import _socket  # the C module: `socket` imports enum and selectors, which the launcher's path need not pay
import os
import sys
import threading

# `socket`, `signal`, `fcntl` and `struct` are imported where used: the sandbox launcher loads this module
# on each command's critical path, and only the forked relay needs them.

CHUNK = 64 * 1024
MAX_CONNECTIONS = 256
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def proxy_environment(env: dict[str, str], port: int) -> dict[str, str]:
    """`env` with every proxy variable pointing at 127.0.0.1:port and no bypass list."""
    url = f"http://127.0.0.1:{port}"
    out = dict(env)
    out.update(dict.fromkeys(PROXY_VARIABLES, url))
    out.update(dict.fromkeys(NO_PROXY_VARIABLES, ""))
    return out


def bring_up_loopback() -> None:
    """Set `lo` up in this network namespace (a new one starts with it down); harmless if it is up."""
    import fcntl
    import struct

    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


def listen(port: int) -> _socket.socket:
    """A listening socket on 127.0.0.1:port. Loopback is brought up first: in a new namespace it is
    down, and binding to 127.0.0.1 still succeeds there but nothing can connect."""
    try:
        bring_up_loopback()
    except OSError as exc:  # not allowed to (no CAP_NET_ADMIN here): binding says whether it matters
        print(f"agent sandbox: cannot bring up the loopback interface: {exc.strerror or exc}", file=sys.stderr)
    listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def _pump(source: _socket.socket, target: _socket.socket) -> None:
    """Copy one direction until the source ends, then half-close the target."""
    try:
        while data := source.recv(CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:  # noqa: SIM105 (contextlib would cost an import at start)
            target.shutdown(_socket.SHUT_WR)
        except OSError:
            pass


def _serve_one(client: _socket.socket, proxy_socket: str, slots: threading.BoundedSemaphore) -> None:
    import socket

    try:
        with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
            try:
                upstream.connect(proxy_socket)
            except OSError as exc:
                body = f"The agent's network proxy is not reachable ({exc.strerror or exc}).\n".encode()
                head = f"HTTP/1.1 502 Bad Gateway\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                try:  # noqa: SIM105
                    client.sendall(head.encode() + body)
                except OSError:
                    pass
                return
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()
    finally:
        slots.release()


def accept_forever(listening: _socket.socket, proxy_socket: str) -> None:
    import socket

    listener = socket.socket(fileno=listening.detach())
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        if not slots.acquire(blocking=False):
            client.close()  # over the cap: refused rather than queued without bound
            continue
        threading.Thread(target=_serve_one, args=(client, proxy_socket, slots), daemon=True).start()


def _exit_like(status: int) -> None:
    """End this process the way the command ended: its exit code, or its signal."""
    if status < 0:
        import signal

        sig = -status
        try:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        except (OSError, ValueError):
            pass
        os._exit(128 + sig)
    os._exit(status)


def start_in_background(argv: list[str]) -> int:
    """For a sandbox launcher that is itself Python (`agent.permissions.sandbox.launcher`): listen now,
    then fork a child that relays. No second interpreter starts, and the port already listens when this
    returns, so the command need not wait for it. `argv`: `--socket SOCK --port PORT`. The child's pid."""
    options = dict(zip(argv[::2], argv[1::2], strict=False))
    listener = listen(int(options["--port"]))
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            accept_forever(listener, options["--socket"])
        finally:
            os._exit(0)
    listener.close()
    return pid


def run(proxy_socket: str, port: int, command: list[str]) -> int:
    import signal
    import subprocess

    try:
        listener = listen(port)
    except OSError as exc:
        print(f"agent sandbox: cannot listen on 127.0.0.1:{port} for the network proxy: {exc}", file=sys.stderr)
        return 125
    bound_port = listener.getsockname()[1]
    threading.stack_size(256 * 1024)
    threading.Thread(target=accept_forever, args=(listener, proxy_socket), daemon=True).start()
    # Handlers first, so that a signal in the instant the command starts is not lost: it is kept until
    # there is a command to pass it to.
    child_pid: list[int] = []
    pending: list[int] = []

    def on_signal(number: int, _frame: object) -> None:
        if child_pid:
            _forward_signal(child_pid[0], number)
        else:
            pending.append(number)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, on_signal)
    try:
        child = subprocess.Popen(command, env=proxy_environment(dict(os.environ), bound_port),
                                 restore_signals=True)
    except OSError as exc:
        print(f"agent sandbox: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    child_pid.append(child.pid)
    for number in pending:
        _forward_signal(child.pid, number)
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


def _forward_signal(pid: int, number: int) -> None:
    try:  # noqa: SIM105
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def relay_command(proxy_socket: str, command: list[str], *, port: int | str = 0,
                  python: str = sys.executable) -> list[str]:
    """The argv that runs `command` behind the relay (no command: the relay alone): this file by path,
    isolated (-I) and without site-packages (-S), so it starts fast and nothing in the environment
    changes what it loads."""
    argv = [python, "-I", "-S", os.path.abspath(__file__), "--socket", proxy_socket, "--port", str(port)]
    return [*argv, "--", *command] if command else argv


def relay_template(python: str = sys.executable) -> list[str]:
    """The relay alone, with `{socket}` and `{port}` left for the sandbox to fill in."""
    return relay_command("{socket}", [], port="{port}", python=python)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="relay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True, help="the agent proxy's unix socket")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on, on 127.0.0.1 (0: any)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        try:
            listener = listen(args.port)
        except OSError as exc:
            parser.exit(125, f"agent sandbox: cannot listen on 127.0.0.1:{args.port} for the network proxy: {exc}\n")
        accept_forever(listener, args.socket)
        return
    _exit_like(run(args.socket, args.port, command))


if __name__ == "__main__":
    main()
