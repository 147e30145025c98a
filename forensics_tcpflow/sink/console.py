"""Console output (-c/-C): every TCP segment with data printed as it arrives, framed as tcpflow 1.6.1 does.

With --udp every UDP datagram with data is printed the same way, under its UDP flow name.

tcpflow prints in wire order, without reassembly (a retransmission is printed
again), under the flow's file name as it would be without a connection count.
Each output format is one function registered by name; the framing around it
(colour, header, newline) is the same for all.
"""

from __future__ import annotations

from typing import BinaryIO, Callable

from ..decode.segment import TH_ACK, TH_SYN, Segment
from ..errors import StdoutClosed
from ..flow.naming import NameFields, expand

# tcpflow's colours: client-to-server (the side that sent a plain SYN) blue, the rest red.
BLUE, RED, RESET = b"\033[0;34m", b"\033[0;31m", b"\033[0m"
HEX_BYTES_PER_LINE = 32
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n\r"
_STRIP = bytes(c if c in _PRINTABLE else 0x2E for c in range(256))        # isprint, \n and \r kept
_ASCII = bytes(c if 0x20 <= c <= 0x7E else 0x2E for c in range(256))


def _strip(name: str, data: bytes) -> bytes:
    return data.translate(_STRIP)


def _binary(name: str, data: bytes) -> bytes:
    return data


def _hex(name: str, data: bytes) -> bytes:
    """32 bytes a line: offset, hex in pairs, ASCII; lines padded to the widest line of the segment."""
    lines = []
    width = 0
    for i in range(0, len(data), HEX_BYTES_PER_LINE):
        chunk = data[i:i + HEX_BYTES_PER_LINE]
        pairs = "".join(f"{chunk[j:j + 2].hex()}{' ' if j + 1 < len(chunk) else ''}"
                        for j in range(0, len(chunk), 2))
        text = f"{i:04x}: {pairs}"
        width = max(width, len(text))
        lines.append(f"{text.ljust(width)} ".encode() + chunk.translate(_ASCII) + b"\n")
    return b"".join(lines)


def _atoi(text: str) -> int:
    """C's atoi: optional blanks and sign, then digits; 0 when there are none."""
    text = text.lstrip(" \t\n\v\f\r")
    sign, digits = 1, ""
    if text[:1] in "+-" and text:
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def _host_port(name: str, start: int, host: str) -> tuple[str, int, int, str]:
    """tcpflow's reading of an address and port back out of the file name: four dot-separated
    numbers, then the port up to the next '-'. Returns (host, port, end, unread host text)."""
    out, dots, pos = [], 0, start
    for i in range(start, len(name)):
        if name[i] == ".":
            dots += 1
            out.append(f"{_atoi(host)}{'.' if dots != 4 else ''}")
            host = ""
        else:
            host += name[i]
        if dots == 4:
            pos = i
            break
    end = pos
    while end < len(name) and name[end] != "-":
        end += 1
    return "".join(out), _atoi(name[pos + 1:end + 1]), end, host


def _json(name: str, data: bytes) -> bytes:
    """tcpflow's -J line, addresses parsed back out of the file name exactly as tcpflow parses them
    (so an output directory or an IPv6 name gives what tcpflow gives)."""
    src, sport, end, rest = _host_port(name, 0, "")
    dst, dport, _, _ = _host_port(name, end + 1, rest)
    payload = ",".join(str(b) for b in data)
    return (f'{{"src_host":"{src}","src_port":{sport},"dst_host":"{dst}","dst_port":{dport},'
            f'"payload": [{payload}]}}').encode()


FORMATS: dict[str, Callable[[str, bytes], bytes]] = {
    "strip": _strip, "binary": _binary, "hex": _hex, "json": _json,
}


class ConsolePrinter:
    """Prints segments to a binary stream; called for every decoded segment in arrival order."""

    def __init__(self, out: BinaryIO, *, template: str, outdir: str, fmt: str = "strip", header: bool = True,
                 color: bool = False, newline: bool = True, max_bytes: int | None = None) -> None:
        self.out = out
        self.template = template
        self.prefix = "" if outdir == "." else outdir + "/"
        self.render = FORMATS[fmt]
        self.header = header and fmt != "json"
        self.hex_header = fmt == "hex"
        self.color = color
        self.newline = newline
        self.max_bytes = max_bytes
        self.names: dict[tuple, str] = {}
        self.client: set[tuple] = set()        # directions whose last SYN was a plain SYN (-g: blue)
        self.printed: dict[tuple, int] = {}    # bytes printed per direction (-b)

    def __call__(self, seg: Segment) -> None:
        key = (seg.src, seg.dst, seg.sport, seg.dport, seg.vlans, seg.protocol)
        if seg.flags & TH_SYN and self.color:
            (self.client.discard if seg.flags & TH_ACK else self.client.add)(key)
        data = seg.payload
        if not data:
            return
        if self.max_bytes is not None:
            done = self.printed.get(key, 0)
            data = data[:max(0, self.max_bytes - done)]
            if not data:
                return
            self.printed[key] = done + len(data)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = self.prefix + expand(self.template, NameFields(
                seg.family, seg.src, seg.dst, seg.sport, seg.dport, seg.vlans, seg.mac_src, seg.mac_dst,
                seg.ts_ns, 0, 0, "", seg.protocol))
        parts = []
        if self.color:
            parts.append(BLUE if key in self.client else RED)
        if self.header:
            parts.append(f"{name}: ".encode(errors="surrogateescape") + (b"\n" if self.hex_header else b""))
        parts.append(self.render(name, data))
        if self.color:
            parts.append(RESET)
        if self.newline:
            parts.append(b"\n")
        try:
            self.out.write(b"".join(parts))
        except BrokenPipeError:
            raise StdoutClosed from None
