"""Reads a tcpdump capture of a hall host's interface as a sniffer would, after reassembling
TCP: every HTTP request each phone sent (WebSocket frames unmasked), every byte the node sent
back, and where in them a needle appears. Used by test_pages.py (NoIdentityAtRest)."""
import base64
import re
import struct


def packets(path):
    """(src, sport, dst, dport, seq, payload) of each TCP segment with data (Ethernet, IPv4)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    assert linktype == 1, f"expected an Ethernet capture, got link type {linktype}"
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != 6:
            continue
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            yield src, sport, dst, dport, seq, payload


def streams(path):
    """Each direction of each connection, reassembled: {(src, sport, dst, dport): bytes}."""
    segments = {}
    for src, sport, dst, dport, seq, payload in packets(path):
        segments.setdefault((src, sport, dst, dport), {})[seq] = payload
    out = {}
    for key, parts in segments.items():
        ordered = sorted(parts.items())
        base, data = ordered[0][0], bytearray()
        for seq, payload in ordered:
            start = (seq - base) & 0xFFFFFFFF
            if start > len(data):
                data += b"\0" * (start - len(data))  # a segment the capture missed
            data[start:start + len(payload)] = payload
        out[key] = bytes(data)
    return out


def websocket_payloads(data, masked):
    """The payloads of the WebSocket frames in `data`, unmasked."""
    out, i = [], 0
    while i + 2 <= len(data):
        length = data[i + 1] & 127
        i += 2
        if length == 126:
            length, i = struct.unpack(">H", data[i:i + 2])[0], i + 2
        elif length == 127:
            length, i = struct.unpack(">Q", data[i:i + 8])[0], i + 8
        mask = data[i:i + 4] if masked else b"\0\0\0\0"
        i += 4 if masked else 0
        out.append(bytes(b ^ mask[j % 4] for j, b in enumerate(data[i:i + length])))
        i += length
    return out


def http_messages(data, masked):
    """The HTTP messages in one direction of a connection: [(start line, headers, body)], and
    then the WebSocket payloads if it was upgraded."""
    messages, i = [], 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            break
        head = data[i:end].decode("latin-1")
        lines = head.split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        length = int(headers.get("content-length", "0"))
        body = data[end + 4:end + 4 + length]
        messages.append((lines[0], headers, body))
        i = end + 4 + length
        if headers.get("upgrade", "").lower() == "websocket" and (lines[0].startswith("GET") or " 101 " in lines[0]):
            messages += [("websocket", {}, p) for p in websocket_payloads(data[i:], masked)]
            break
    return messages


def encodings(text):
    """The ways a text could travel: UTF-8, UTF-16, JSON escapes, percent-encoding, base64."""
    raw = text.encode()
    forms = [raw, text.encode("utf-16-le"), text.encode("utf-16-be"),
             text.encode("ascii", "backslashreplace").replace(b"\\u", b"\\u"),
             "".join(c if c.isascii() else "\\u%04x" % ord(c) for c in text).encode(),
             "".join(c if c.isascii() else "%" + "%".join("%02X" % b for b in c.encode())[1:] for c in text).encode()]
    for skip in range(3):  # base64 at each alignment, without the edges that depend on neighbours
        encoded = base64.b64encode(raw[skip:])[4:-4]
        if len(encoded) >= 8:
            forms.append(encoded)
    return [f for f in set(forms) if len(f) >= 6]


def read(path, node):
    """What a sniffer reads: for each phone address, the requests it sent (start line, headers,
    body) and all bytes it sent unmasked; and all bytes the node sent to it."""
    sent, received = {}, {}
    for (src, sport, dst, dport), data in streams(path).items():
        # The raw stream too, so that nothing the parser skips (a part it cannot read) is unseen.
        if dst == node:
            sent.setdefault(src, []).extend(http_messages(data, masked=True) + [("raw", {}, data)])
        elif src == node:
            received.setdefault(dst, []).extend(http_messages(data, masked=False) + [("raw", {}, data)])
    return sent, received


def leaks(path, node, needles):
    """[(what, phone address, direction)] for every needle (name → [bytes]) found anywhere in the
    traffic between the node and a phone, in either direction."""
    sent, received = read(path, node)
    found = []
    for direction, traffic in (("from", sent), ("to", received)):
        for address, messages in traffic.items():
            blob = b"\n".join(start.encode() + b"\n" + "\n".join(f"{k}: {v}" for k, v in h.items()).encode() + b"\n" + body
                              for start, h, body in messages)
            for what, forms in needles.items():
                if any(form in blob for form in forms):
                    found.append((what, address, direction))
    return sorted(set(found))
