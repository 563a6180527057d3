#!/usr/bin/python3
"""Load for scripts/bench-abuse: well-behaved participants, or a flood of abusive connections.

  abuse.py participants HOST PORT CODE --sources 198.18.0.100 --count 50 --each 20 --interval 0.2
      each participant connects from its own address, joins, and writes EACH reflections to
      prompt 0, one every INTERVAL seconds on a kept-alive connection; prints a JSON summary
      of acknowledgement latencies.
  abuse.py flood HOST PORT CODE --connections 1000 --seconds 30 [--peer-port P]
      1,000 concurrent abusive connections from this host, in five kinds (idle, slow head,
      requests as fast as it can, oversized WebSocket frames, joins and writes as fast as it
      can), each reopened as soon as the node closes it; prints a summary. With --peer-port,
      a quarter of them go to the node-to-node port instead: idle, garbage, and TLS
      handshakes without a node's certificate.
  abuse.py guess HOST PORT WRONGCODE --sources 198.18.0.100 --count 42 --seconds 30
      COUNT addresses each sending wrong join codes for SECONDS, as fast as the node answers;
      prints how many were checked (403) and slowed down (429).
Standard library only (Debian's python3).
"""
import argparse
import asyncio
import ipaddress
import json
import sys
import time


async def read_response(reader):
    """One HTTP/1.1 response with a Content-Length body: (status, body bytes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


def request(method, path, body=None, token=None):
    lines = [f"{method} {path} HTTP/1.1", "Host: node"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def participant(host, port, code, source, each, interval, latencies, failures, start_at):
    await asyncio.sleep(max(0, start_at - time.monotonic()))
    reader = writer = None
    token = None
    written = 0
    while written < each:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            if token is None:
                writer.write(request("POST", "/api/join", {"code": code}))
                status, body = await read_response(reader)
                if status != 201:
                    failures.append(f"join {status}")
                    await asyncio.sleep(1)
                    continue
                token = json.loads(body)["token"]
            sent = time.monotonic()
            writer.write(request("POST", "/api/reflections", {"prompt": 0, "text": f"from {source}, number {written}"}, token))
            status, body = await read_response(reader)
            if status == 201:
                latencies.append((time.monotonic() - sent) * 1000)
                written += 1
            else:
                failures.append(f"write {status}")
                await asyncio.sleep(1)
            await asyncio.sleep(interval)
        except (OSError, asyncio.IncompleteReadError) as error:
            failures.append(f"connection {type(error).__name__}")
            writer = None
            await asyncio.sleep(0.5)
    if writer:
        writer.close()


async def run_participants(args):
    first = ipaddress.ip_address(args.sources)
    latencies, failures = [], []
    start = time.monotonic() + 0.5
    # Phones do not all start at the same instant: spread over one interval.
    tasks = [participant(args.host, args.port, args.code, str(first + i), args.each, args.interval,
                         latencies, failures, start + args.interval * i / args.count) for i in range(args.count)]
    began = time.monotonic()
    await asyncio.gather(*tasks)
    took = time.monotonic() - began
    latencies.sort()
    pick = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else None
    if not latencies:
        print(f"{args.label}: nothing acknowledged; failures: {sorted(set(failures))[:8]}")
        return
    print(f"{args.label}: {len(latencies)}/{args.count * args.each} acknowledged in {took:.1f} s, "
          f"{len(failures)} failures {sorted(set(failures))[:8]}; "
          f"acknowledgement p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {latencies[-1]:.1f} ms")


class Tally:
    def __init__(self):
        self.opened = 0
        self.closed_by_node = 0
        self.statuses = {}
        self.held_seconds = []

    def status(self, kind, code):
        key = f"{kind} {code}"
        self.statuses[key] = self.statuses.get(key, 0) + 1


async def abusive(kind, host, port, code, until, tally):
    """One abusive client of `kind`, reconnecting whenever the node closes it."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        tally.opened += 1
        opened = time.monotonic()
        try:
            if kind == "idle":
                await asyncio.wait_for(reader.read(1), timeout=max(0.01, until - time.monotonic()))
            elif kind == "slow-head":
                writer.write(b"GET / HTTP/1.1\r\nHost: node\r\n")
                while time.monotonic() < until:
                    writer.write(b"X")
                    await writer.drain()
                    try:
                        if await asyncio.wait_for(reader.read(1), timeout=1) == b"":
                            break
                    except asyncio.TimeoutError:
                        pass
            elif kind == "fast":
                while time.monotonic() < until:
                    writer.write(request("GET", "/api/session", token="not-a-token"))
                    status, _ = await read_response(reader)
                    tally.status(kind, status)
            elif kind == "big-frame":
                writer.write(b"GET /api/live HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                await reader.readuntil(b"\r\n\r\n")
                writer.write(bytes([0x81, 0x80 | 127]) + (16 << 20).to_bytes(8, "big") + b"\0\0\0\0")
                chunk = b"a" * 65536
                while time.monotonic() < until:
                    writer.write(chunk)
                    await writer.drain()
            elif kind == "join-write":
                while time.monotonic() < until:
                    writer.write(request("POST", "/api/join", {"code": code}))
                    status, body = await read_response(reader)
                    tally.status("join", status)
                    if status == 201:
                        token = json.loads(body)["token"]
                        writer.write(request("POST", "/api/reflections", {"prompt": 0, "text": "spam " * 50}, token))
                        status, _ = await read_response(reader)
                        tally.status("write", status)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError, IndexError):
            pass
        if time.monotonic() < until:
            tally.closed_by_node += 1
            tally.held_seconds.append(time.monotonic() - opened)
        writer.close()


async def peer_abusive(kind, host, port, until, tally):
    """One abusive client of the node-to-node port, reconnecting whenever the node closes it."""
    import ssl
    while time.monotonic() < until:
        try:
            if kind == "peer-tls":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                reader, writer = await asyncio.open_connection(host, port, ssl=context)
            else:
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            tally.status(kind, "refused")
            await asyncio.sleep(0.05)
            continue
        tally.opened += 1
        opened = time.monotonic()
        try:
            if kind == "peer-garbage":
                writer.write(b"\x00\x00\x10\x00" + b"x" * 4096)
                await writer.drain()
            await asyncio.wait_for(reader.read(1), timeout=max(0.01, until - time.monotonic()))
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ssl.SSLError):
            pass
        if time.monotonic() < until:
            tally.closed_by_node += 1
            tally.held_seconds.append(time.monotonic() - opened)
            tally.status(kind, "closed")
        writer.close()


async def run_flood(args):
    kinds = ["idle", "slow-head", "fast", "big-frame", "join-write"]
    tally = Tally()
    until = time.monotonic() + args.seconds
    clients = []
    for i in range(args.connections):
        if args.peer_port and i % 4 == 3:
            clients.append(peer_abusive(["peer-idle", "peer-garbage", "peer-tls"][(i // 4) % 3], args.host, args.peer_port, until, tally))
        else:
            clients.append(abusive(kinds[i % len(kinds)], args.host, args.port, args.code, until, tally))
    await asyncio.gather(*clients)
    held = sorted(tally.held_seconds)
    median = f"{held[len(held) // 2]:.3f} s" if held else "-"
    print(f"abuser: {args.connections} connections at once for {args.seconds:.0f} s: {tally.opened} opened, "
          f"{tally.closed_by_node} closed by the node (median time held {median})")
    for key, count in sorted(tally.statuses.items()):
        print(f"  {key}: {count}")


async def guesser(host, port, code, source, until, tally):
    """Wrong join codes from one address, as fast as the node answers."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            while time.monotonic() < until:
                writer.write(request("POST", "/api/join", {"code": code}))
                status, body = await read_response(reader)
                tally.status("guess", status)
                if status == 429:
                    await asyncio.sleep(0.1)
            writer.close()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            await asyncio.sleep(0.1)


async def run_guess(args):
    first = ipaddress.ip_address(args.sources)
    tally = Tally()
    until = time.monotonic() + args.seconds
    await asyncio.gather(*[guesser(args.host, args.port, args.code, str(first + i), until, tally) for i in range(args.count)])
    print(f"guessers: {args.count} addresses for {args.seconds:.0f} s: " +
          ", ".join(f"{key}: {count}" for key, count in sorted(tally.statuses.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["participants", "flood", "guess"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("code")
    parser.add_argument("--sources", default="198.18.0.100")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--each", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--label", default="participants")
    parser.add_argument("--peer-port", type=int, default=0)
    args = parser.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    runs = {"participants": run_participants, "flood": run_flood, "guess": run_guess}
    asyncio.run(runs[args.mode](args))


if __name__ == "__main__":
    sys.exit(main())
