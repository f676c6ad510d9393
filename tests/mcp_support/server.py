"""A small real MCP server for the tests, on the SDK's server side (MCPServer, ex-FastMCP).

`python server.py stdio` talks over stdin/stdout; `python server.py http|sse PORTFILE` listens on
127.0.0.1, a port the kernel picks, and writes `http://127.0.0.1:<port>` to PORTFILE once listening.
With MCP_TEST_MARKER set, it first writes that file: proof that the server was started.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.utilities.types import Image
from pydantic import BaseModel

# A 1x1 PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")

server = MCPServer("test-server")


class Sum(BaseModel):
    total: int


@server.tool(description="Echo the text back")
def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool(description="Add two numbers")
def add(a: int, b: int) -> Sum:
    return Sum(total=a + b)


@server.tool(description="A tiny picture")
def picture() -> Image:
    return Image(data=PNG, format="png")


@server.tool(description="Always fails")
def fail() -> str:
    raise ValueError("this tool always fails")


@server.tool(description="Sleep then answer")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@server.tool(description="One environment variable of the server")
def getenv(name: str) -> str:
    return os.environ.get(name, "(unset)")


@server.tool(description="One HTTP header of the request that called this tool")
def header(name: str, ctx: Context) -> str:
    request = ctx.request_context.request
    return request.headers.get(name, "(none)") if request is not None else "(not http)"


@server.tool(description="Exit the server process")
def die() -> str:
    os._exit(3)


@server.prompt(description="Greet someone")
def greet(name: str = "world") -> str:
    return f"Please greet {name} warmly."


def _listen() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


def main() -> None:
    if marker := os.environ.get("MCP_TEST_MARKER"):
        Path(marker).write_text(f"started {os.getpid()}\n")
    transport = sys.argv[1]
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    sock = _listen()
    app = server.streamable_http_app() if transport == "http" else server.sse_app()
    path = "/mcp" if transport == "http" else "/sse"
    tmp = Path(sys.argv[2] + ".tmp")
    tmp.write_text(f"http://127.0.0.1:{sock.getsockname()[1]}{path}")
    tmp.rename(sys.argv[2])
    config = uvicorn.Config(app, log_level="warning")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
