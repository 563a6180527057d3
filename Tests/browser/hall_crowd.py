#!/usr/bin/python3
"""A crowd of simulated phones on one virtual-hall host, each with its own address, following
the rules a participant's page follows (participant.js, docs/replication.md "Failure modes"):
it joins, follows the room on the live socket, takes the node for silent when nothing (not
even a beat) came for SILENCE seconds and one check of /api/room fails within its deadline,
or when a request gets no answer within REQUEST seconds; then it moves to the next node the
room's view names and sends again what was in flight, with the same `once`.

Run inside a hall host by test_vanish.py and scripts/bench-replication:

  hall_crowd.py JOIN_URL CODE ADDRESS...

Commands on stdin, one JSON object per line:
  {"do": "write", "prompt": P, "prefix": S, "spread": SECONDS}   every phone writes once, at a random moment
  {"do": "status"}                                                one line: where each phone is
  {"do": "quit"}
Events on stdout, one JSON object per line: joined, silent, moved, acked (with the node that
answered, the moment, and how many tries), refused, status.
"""
import base64
import http.client
import json
import os
import random
import socket
import struct
import sys
import threading
import time

SILENCE = 6.0    # a node beats every 2 s on the live socket (docs/replication.md)
CHECK = 2.0      # the one check of /api/room after a silence
REQUEST = 6.0    # any other request
lock = threading.Lock()


def say(**event):
    event["at"] = round(time.time(), 3)
    with lock:
        print(json.dumps(event), flush=True)


def split(url):
    rest = url.split("//", 1)[1].rstrip("/")
    host, port = rest.split(":")
    return host, int(port)


class Silent(Exception):
    pass


class Phone:
    def __init__(self, number, address, url, code):
        self.number, self.address, self.url, self.code = number, address, url, code
        self.token, self.nodes, self.dead, self.sock = None, [], set(), None
        self.moving = threading.Lock()
        self.generation = 0

    # MARK: HTTP from this phone's own address

    def request(self, method, path, body=None, timeout=REQUEST, url=None):
        host, port = split(url or self.url)
        connection = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(self.address, 0))
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException) as error:
            raise Silent(str(error))
        finally:
            connection.close()

    def join(self):
        self.token = None
        status, body = self.request("POST", "/api/join", {"code": self.code})
        if status != 201:
            raise Silent(f"join answered {status}: {body}")
        self.token = body["token"]
        self.nodes = body["state"].get("nodes") or self.nodes
        say(phone=self.number, event="joined", node=self.url)

    # MARK: the live socket (RFC 6455, as small as a client can be)

    def follow(self):
        generation = self.generation
        host, port = split(self.url)
        try:
            sock = socket.create_connection((host, port), timeout=REQUEST, source_address=(self.address, 0))
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /api/live HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise Silent("closed during the upgrade")
                head += chunk
            buffered = head.split(b"\r\n\r\n", 1)[1]
            self.send_frame(sock, 1, json.dumps({"type": "hello", "token": self.token}).encode())
            sock.settimeout(SILENCE)
            self.sock = sock
            while generation == self.generation:
                opcode, payload, buffered = self.read_frame(sock, buffered)
                if opcode == 1:
                    message = json.loads(payload)
                    if message.get("type") == "state":
                        self.nodes = message["data"].get("nodes") or self.nodes
                elif opcode == 9:
                    self.send_frame(sock, 10, payload)
                elif opcode == 8:
                    raise Silent("the node closed the socket")
        except (OSError, Silent) as error:
            if generation != self.generation:
                return
            # Silence, or the socket closed: one quick check before moving on.
            say(phone=self.number, event="silent", node=self.url, why=str(error)[:80])
            try:
                status, _ = self.request("GET", "/api/room", timeout=CHECK)
                if status == 200:
                    threading.Thread(target=self.follow, daemon=True).start()
                    return
            except Silent:
                pass
            self.move_on()

    def send_frame(self, sock, opcode, payload):
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x80 | opcode]) + (bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + struct.pack(">H", length))
        sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read_frame(self, sock, buffered):
        def need(n, data):
            while len(data) < n:
                chunk = sock.recv(65536)
                if not chunk:
                    raise Silent("the socket closed")
                data += chunk
            return data
        data = need(2, buffered)
        opcode, length, at = data[0] & 15, data[1] & 127, 2
        if length == 126:
            data = need(4, data)
            length, at = struct.unpack(">H", data[2:4])[0], 4
        elif length == 127:
            data = need(10, data)
            length, at = struct.unpack(">Q", data[2:10])[0], 10
        data = need(at + length, data)
        return opcode, data[at:at + length], data[at + length:]

    # MARK: moving

    def move_on(self):
        """To the next node the room's view named, not one found silent; joins again there."""
        with self.moving:
            self.dead.add(self.url)
            while True:
                others = [u for u in self.nodes if u != self.url and u not in self.dead]
                if not others:
                    self.dead.clear()
                    time.sleep(1)
                    continue
                self.url = others[0]
                self.generation += 1
                if self.sock:
                    try:
                        self.sock.close()
                    except OSError:
                        pass
                try:
                    self.join()
                    say(phone=self.number, event="moved", node=self.url)
                    threading.Thread(target=self.follow, daemon=True).start()
                    return
                except Silent:
                    self.dead.add(self.url)

    def write(self, prompt, text, delay):
        time.sleep(delay)
        once = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        tries = 0
        while tries < 20:
            tries += 1
            url = self.url
            try:
                status, body = self.request("POST", "/api/reflections", {"prompt": prompt, "text": text, "once": once}, url=url)
            except Silent:
                if url == self.url:
                    self.move_on()
                continue
            code = ((body or {}).get("error") or {}).get("code")
            if status == 201:
                say(phone=self.number, event="acked", node=url, text=text, tries=tries)
                return
            if status == 401:
                self.join()
                continue
            if code == "standing-by":
                # The laptop it moved to has not yet noticed the silent one: ask again shortly.
                time.sleep(0.5)
                continue
            say(phone=self.number, event="refused", node=url, text=text, status=status, code=code)
            return
        say(phone=self.number, event="refused", node=self.url, text=text, code="gave-up")


def main():
    url, code, addresses = sys.argv[1], sys.argv[2], sys.argv[3:]
    phones = [Phone(i, a, url, code) for i, a in enumerate(addresses)]
    for phone in phones:
        phone.join()
        threading.Thread(target=phone.follow, daemon=True).start()
    say(event="ready", phones=len(phones))
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "write":
            for phone in phones:
                threading.Thread(target=phone.write, daemon=True, args=(
                    command["prompt"], f"{command['prefix']}{phone.number}", random.uniform(0, command.get("spread", 0)))).start()
        elif command["do"] == "status":
            say(event="status", nodes=[p.url for p in phones])
        elif command["do"] == "quit":
            break


if __name__ == "__main__":
    main()
