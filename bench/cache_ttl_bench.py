"""What 12 fires of `/loop 10m` cost in input tokens over a 30-turn chat, with 5-minute and 1-hour caching.

Run: python bench/cache_ttl_bench.py [--fires 12] [--turns 30] [--every-min 10]

The requests are the ones agent sends (`LLM.request_params`: the real tools, the real system prompt, the
cache breakpoints on the last tool, the system prompt and the last user message), for a 30-turn chat
(one turn a minute; the loop was started with the first) and then 12 fires 10 minutes apart with nobody
typing. A model of the API's prompt cache replays them: a request reads the longest cached prefix
(reading refreshes its lifetime), writes what lies between it and its last breakpoint, and pays the rest
in full. Prices use the API's published multipliers of the base input price: a 5-minute cache write
1.25x, a 1-hour write 2x, a read 0.1x. Tokens are estimated at 4 characters of JSON each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_api import estimate_tokens  # noqa: E402

from agent.engine.llm import LLM  # noqa: E402
from agent.engine.session import AgentSession, SessionOptions  # noqa: E402

WRITE = {"5m": 1.25, "1h": 2.0}
READ = 0.1
LIFETIME_S = {"5m": 300, "1h": 3600}


def blocks_of(params: dict) -> list[dict]:
    out = [*params.get("tools", []), *params.get("system", [])]
    for message in params["messages"]:
        content = message["content"]
        out += [{"type": "text", "text": content}] if isinstance(content, str) else content
    return out


class Cache:
    def __init__(self) -> None:
        self.entries: dict[str, float] = {}  # prefix hash -> expiry (s)

    def request(self, params: dict, now_s: float) -> tuple[int, int, int, str]:
        """(read, written, uncached) tokens of one request, and its TTL."""
        blocks = blocks_of(params)
        sizes = [estimate_tokens({k: v for k, v in b.items() if k != "cache_control"}) for b in blocks]
        hashes, digest = [], hashlib.sha256()
        for block in blocks:
            digest.update(json.dumps({k: v for k, v in block.items() if k != "cache_control"}).encode())
            hashes.append(digest.hexdigest())
        marks = [i for i, b in enumerate(blocks) if "cache_control" in b]
        ttl = blocks[marks[-1]]["cache_control"].get("ttl", "5m")
        hit = max((i for i, h in enumerate(hashes) if self.entries.get(h, -1) > now_s), default=-1)
        if hit >= 0:
            self.entries[hashes[hit]] = max(self.entries[hashes[hit]], now_s + LIFETIME_S[ttl])
        last = marks[-1]
        for i in marks:
            if i > hit:
                self.entries[hashes[i]] = now_s + LIFETIME_S[blocks[i]["cache_control"].get("ttl", "5m")]
        read = sum(sizes[:hit + 1])
        written = sum(sizes[hit + 1:last + 1]) if last > hit else 0
        return read, written, sum(sizes[max(last, hit) + 1:]), ttl


def replay(ttl: str | None, session: AgentSession, turns: int, fires: int, every_s: int) -> dict[str, float]:
    llm = LLM(model="claude-sonnet-4-6", api_key="bench")
    system, tools = session.system_prompt(), session.tools.definitions()
    cache, history, now = Cache(), [], 0.0
    totals = {"chat": 0.0, "fires": 0.0, "fire_tokens": 0}

    def send(kind: str, text: str, answer: str) -> None:
        history.append({"role": "user", "content": text})
        read, written, plain, used = cache.request(llm.request_params(system, history, tools, cache_ttl=ttl), now)
        totals[kind] += read * READ + written * WRITE[used] + plain
        if kind == "fires":
            totals["fire_tokens"] += read + written + plain
        history.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})

    for turn in range(turns):
        send("chat", f"turn {turn}: please look at module {turn} and explain what it does. " * 4,
             f"Module {turn} parses the settings and hands them on. " * 40)
        now += 60
    for fire in range(fires):
        now += every_s - (60 if fire == 0 else 0)
        send("fires", "This prompt was scheduled by /loop 10m; nobody typed it now:\n```\ncheck the deploy\n```",
             f"Fire {fire}: the deploy is healthy, all checks pass. " * 10)
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fires", type=int, default=12)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--every-min", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ".claude").mkdir()
        session = AgentSession(Path(tmp), SessionOptions())
        five = replay(None, session, args.turns, args.fires, args.every_min * 60)
        hour = replay("1h", session, args.turns, args.fires, args.every_min * 60)
    print(f"{args.fires} fires of /loop {args.every_min}m after a {args.turns}-turn chat "
          f"({five['fire_tokens'] / args.fires:,.0f} input tokens per fire on average)")
    print("base-equivalent input tokens (write 1.25x for 5 min, 2x for 1 h; read 0.1x):")
    for name, result in (("5-minute cache", five), ("1-hour cache", hour)):
        print(f"  {name}:  fires {result['fires']:>10,.0f}   chat {result['chat']:>10,.0f}   "
              f"total {result['fires'] + result['chat']:>10,.0f}")
    saved = 1 - (hour["fires"] + hour["chat"]) / (five["fires"] + five["chat"])
    print(f"  the 1-hour cache costs {saved:.0%} less in all "
          f"({1 - hour['fires'] / five['fires']:.0%} less for the fires alone)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
