"""Run the reference tools (tcpflow 1.6.1, tshark 4.0) and turn their output into comparable directions.

A *direction* is one side of one TCP connection: (src, sport, dst, dport) plus the bytes that side sent,
holes zero-filled at their true offsets. See ../shared/ORACLES.md for the formats and each tool's bugs.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple

TCPFLOW = "tcpflow"
TSHARK = "tshark"
FOLLOW_BATCH = 50            # -z follow options per tshark run (start-up is ~0.5 s)
REPORT_NAMES = frozenset({"report.xml", "flows.jsonl", "flows.csv", "report.html", "report_files"})

Key = tuple[str, int, str, int]          # (src, sport, dst, dport), addresses normalised


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def norm_addr(text: str) -> str:
    """Dotted IPv4 without zero padding, compressed IPv6: the one spelling every tool is mapped to."""
    text = text.strip("[]")
    if ":" in text:
        return ipaddress.IPv6Address(text).compressed
    return ".".join(str(int(octet)) for octet in text.split("."))


# --------------------------------------------------------------------------- tcpflow-style file names

_NAME = re.compile(
    r"^(?P<src>.+)\.(?P<sport>\d{5})-(?P<dst>.+)\.(?P<dport>\d{5})(?:--(?P<vlan>\d+))?(?:c(?P<conn>\d+))?$"
)


class FlowName(NamedTuple):
    src: str
    sport: int
    dst: str
    dport: int
    vlan: int | None
    conn: int

    @property
    def key(self) -> Key:
        return (self.src, self.sport, self.dst, self.dport)


def parse_flow_name(name: str) -> FlowName:
    """`%A.%a-%B.%b%V%v%C%c` back into its parts (addresses normalised, conn 0 when no cN suffix)."""
    m = _NAME.match(name)
    if m is None:
        raise ValueError(f"not a tcpflow flow file name: {name!r}")
    vlan = m["vlan"]
    return FlowName(norm_addr(m["src"]), int(m["sport"]), norm_addr(m["dst"]), int(m["dport"]),
                    None if vlan is None else int(vlan), int(m["conn"] or 0))


def format_flow_name(src: str, sport: int, dst: str, dport: int, vlan: int | None = None, conn: int = 0) -> str:
    """tcpflow's default `%A.%a-%B.%b%V%v%C%c` (IPv4 zero-padded, IPv6 compressed)."""
    def addr(a: str) -> str:
        return a if ":" in a else ".".join(f"{int(o):03d}" for o in a.split("."))
    return (f"{addr(src)}.{sport:05d}-{addr(dst)}.{dport:05d}" + ("" if vlan is None else f"--{vlan}")
            + (f"c{conn}" if conn else ""))


def read_flow_dir(outdir: Path) -> dict[str, bytes]:
    """Flow files by name; report files and anything that is not a flow name are left out."""
    return {p.name: p.read_bytes() for p in sorted(outdir.iterdir())
            if p.is_file() and p.name not in REPORT_NAMES and _NAME.match(p.name)}


# --------------------------------------------------------------------------- tcpflow

class TcpflowRun(NamedTuple):
    files: dict[str, bytes]
    rc: int


def run_tcpflow(capture: Path, outdir: Path, *extra_args: str) -> TcpflowRun:
    """The reference run `tcpflow -r FILE -o OUT -X OUT/report.xml`; flow files by name and the exit status."""
    outdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([TCPFLOW, "-r", str(capture), "-o", str(outdir), "-X", str(outdir / "report.xml"),
                           *extra_args], capture_output=True, timeout=120)
    return TcpflowRun(read_flow_dir(outdir), proc.returncode)


# --------------------------------------------------------------------------- tshark

@dataclass
class TsharkDirection:
    """One side of one tcp.stream. `gaps` are (offset, length) holes, zero bytes in `data`."""

    stream: int
    src: str
    sport: int
    dst: str
    dport: int
    data: bytes = b""
    gaps: list[tuple[int, int]] = field(default_factory=list)
    source: str = "follow"       # "follow" | "fields": which tshark output the bytes came from

    @property
    def key(self) -> Key:
        return (self.src, self.sport, self.dst, self.dport)


_FIELDS = ("tcp.stream", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
           "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.flags", "tcp.payload")
_GAP = re.compile(rb"^\[(\d+) bytes missing in capture file\]\x00$")
_NODE = re.compile(r"^Node ([01]): (.*):(\d+)$")
SYN = 0x02


def _tshark(capture: Path, *args: str) -> str:
    # rc 2 on a cut-short capture still prints everything read; other failures leave stdout empty
    proc = subprocess.run([TSHARK, "-n", "-r", str(capture), *args], capture_output=True, timeout=300)
    return proc.stdout.decode("ascii", "replace")


class _Packet(NamedTuple):
    stream: int
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    flags: int
    payload: bytes


def _last(value: str) -> str:
    return value.split(",")[-1] if value else ""


def tshark_packets(capture: Path) -> list[_Packet]:
    """TCP packets in file order with the innermost IP header's addresses (tunnels are nested)."""
    out = _tshark(capture, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                  *(a for f in _FIELDS for a in ("-e", f)))
    packets = []
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) != len(_FIELDS) or not cols[0]:
            continue
        stream, protos, ip_s, ip_d, ip6_s, ip6_d, sport, dport, seq, flags, payload = cols
        layers = [p for p in protos.split(":") if p in ("ip", "ipv6")]
        v6 = bool(layers) and layers[-1] == "ipv6"
        src, dst = (_last(ip6_s), _last(ip6_d)) if v6 else (_last(ip_s), _last(ip_d))
        packets.append(_Packet(int(_last(stream)), norm_addr(src), int(_last(sport)), norm_addr(dst),
                               int(_last(dport)), int(_last(seq)), int(_last(flags), 16),
                               bytes.fromhex(_last(payload).replace(":", ""))))
    return packets


def _follow(capture: Path, streams: list[int], proto: str = "tcp") -> dict[int, list[TsharkDirection]]:
    """`-z follow,PROTO,raw,N` for each stream (batched), parsed into its two directions."""
    result: dict[int, list[TsharkDirection]] = {}
    for i in range(0, len(streams), FOLLOW_BATCH):
        batch = streams[i:i + FOLLOW_BATCH]
        out = _tshark(capture, "-q", *(a for n in batch for a in ("-z", f"follow,{proto},raw,{n}")))
        for block in out.split(f"Follow: {proto},raw")[1:]:
            stream, nodes, chunks = _parse_block(block)
            if stream in batch and all(nodes):
                result[stream] = _assemble(stream, nodes, chunks)
    return result


def _parse_block(block: str) -> tuple[int, list[tuple[str, int] | None], list[tuple[int, bytes]]]:
    stream = -1
    nodes: list[tuple[str, int] | None] = [None, None]
    chunks: list[tuple[int, bytes]] = []
    for line in block.splitlines():
        if line.startswith("Filter: ") and ".stream eq " in line:
            stream = int(line.rsplit(" ", 1)[1])
        elif (m := _NODE.match(line)) is not None:
            if m[2]:
                nodes[int(m[1])] = (norm_addr(m[2]), int(m[3]))
        elif line and not line.startswith("="):
            chunks.append((1 if line.startswith("\t") else 0, bytes.fromhex(line.strip())))
    return stream, nodes, chunks


def _assemble(stream: int, nodes: list, chunks: list[tuple[int, bytes]]) -> list[TsharkDirection]:
    dirs = [TsharkDirection(stream, *nodes[n], *nodes[1 - n]) for n in (0, 1)]
    parts: list[list[bytes]] = [[], []]
    sizes = [0, 0]
    for node, chunk in chunks:
        m = _GAP.match(chunk)
        if m:
            dirs[node].gaps.append((sizes[node], int(m[1])))
            chunk = bytes(int(m[1]))
        parts[node].append(chunk)
        sizes[node] += len(chunk)
    for d, p in zip(dirs, parts):
        d.data = b"".join(p)
    return dirs


def rebuild_from_fields(stream: int, key: Key, packets: list[_Packet], overlap: str = "first") -> TsharkDirection:
    """ORACLES.md fallback: packets in file order, holes zero-filled at their true offsets.

    On overlaps the first arrival wins (tshark), or with overlap="last" the latest copy (tcpflow,
    our `--overlap last`).
    The origin is the first SYN's seq + 1, else the lowest data seq seen (seq compared modulo 2**32
    relative to the first packet, so wrapping flows work).
    """
    mine = [p for p in packets if p.stream == stream and (p.src, p.sport, p.dst, p.dport) == key]
    d = TsharkDirection(stream, *key, source="fields")
    if not mine:
        return d
    ref = mine[0].seq

    def rel(seq: int) -> int:
        r = (seq - ref) & 0xFFFFFFFF
        return r - (1 << 32) if r >= 1 << 31 else r

    syn = next((p for p in mine if p.flags & SYN), None)
    data = [(rel(p.seq) + (1 if p.flags & SYN else 0), p.payload) for p in mine if p.payload]
    if syn is not None:
        origin = rel(syn.seq) + 1
    elif data:
        origin = min(off for off, _ in data)
    else:
        return d
    buf = bytearray()
    written = bytearray()
    for off, payload in data:
        start = off - origin
        if start < 0:              # before the SYN: a different connection's bytes, not ours to place
            payload, start = payload[-start:], 0
        end = start + len(payload)
        if end > len(buf):
            buf.extend(bytes(end - len(buf)))
            written.extend(bytes(end - len(written)))
        if overlap == "last":
            buf[start:end] = payload
            written[start:end] = b"\x01" * len(payload)
            continue
        for i in range(start, end):        # first arrival wins, byte by byte
            if not written[i]:
                buf[i] = payload[i - start]
                written[i] = 1
    d.data = bytes(buf)
    d.gaps = _holes(written)
    return d


def _holes(written: bytearray) -> list[tuple[int, int]]:
    return [(m.start(), m.end() - m.start()) for m in re.finditer(rb"\x00+", bytes(written))]


SOURCES = ("follow", "fields")


def tshark_streams(capture: Path, source: str = "follow", overlap: str = "first") -> list[TsharkDirection]:
    """Every direction tshark knows (with or without data), in tcp.stream order.

    source="follow": bytes from `-z follow,tcp,raw` (gaps from its missing-bytes markers).
    source="fields": rebuilt from per-packet fields, for captures that hit a follow bug (ORACLES.md);
    `overlap` then picks which copy of overlapping bytes is kept.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown tshark source {source!r}")
    packets = tshark_packets(capture)
    streams = sorted({p.stream for p in packets})
    if source == "fields":
        return [rebuild_from_fields(stream, d.key, packets, overlap)
                for stream in streams for d in _directions_from_packets(stream, packets)]
    followed = _follow(capture, streams)
    return [d for stream in streams for d in followed.get(stream) or _directions_from_packets(stream, packets)]


def _directions_from_packets(stream: int, packets: list[_Packet]) -> list[TsharkDirection]:
    first = next(p for p in packets if p.stream == stream)
    return [TsharkDirection(stream, first.src, first.sport, first.dst, first.dport),
            TsharkDirection(stream, first.dst, first.dport, first.src, first.sport)]


# --------------------------------------------------------------------------- tshark, UDP

_UDP_FIELDS = ("frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.stream", "udp.srcport",
               "udp.dstport")


@dataclass
class TsharkUdpStream:
    """One udp.stream: its directions' payload bytes (`-z follow,udp,raw`), datagrams per direction (from
    per-packet fields, empty datagrams included) and the ports of its datagrams."""

    stream: int
    directions: list[TsharkDirection]
    datagrams: dict[Key, int]
    ports: set[int]


def _udp_layers(cols: list[str]) -> Iterable[tuple[int, Key]]:
    """(stream, key) of every UDP layer of one packet, each with the IP header just before it; UDP
    headers quoted inside an ICMP error are not datagrams."""
    ip_s, ip_d, ip6_s, ip6_d, streams, sports, dports = (c.split(",") for c in cols[1:])
    seen = {"ip": -1, "ipv6": -1}
    last = ""
    k = 0
    for layer in cols[0].split(":"):
        if layer in seen:
            seen[layer] += 1
            last = layer
        elif layer.startswith("icmp"):
            return
        elif layer == "udp" and last and k < len(streams) and streams[k]:
            i = seen[last]
            src, dst = (ip_s[i], ip_d[i]) if last == "ip" else (ip6_s[i], ip6_d[i])
            yield int(streams[k]), (norm_addr(src), int(sports[k]), norm_addr(dst), int(dports[k]))
            k += 1


def tshark_udp_streams(capture: Path) -> list[TsharkUdpStream]:
    """Every udp.stream of the capture, in stream order."""
    out = _tshark(capture, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                  *(a for f in _UDP_FIELDS for a in ("-e", f)))
    counts: dict[int, dict[Key, int]] = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) == len(_UDP_FIELDS) and cols[5]:
            for stream, key in _udp_layers(cols):
                per = counts.setdefault(stream, {})
                per[key] = per.get(key, 0) + 1
    followed = _follow(capture, sorted(counts), "udp")
    return [TsharkUdpStream(n, followed.get(n, []), counts[n], {port for key in counts[n] for port in key[1::2]})
            for n in sorted(counts)]
