"""Captures in tests: reading one to the end (the records, and the error that stopped it if any);
crafting one from hand-built packets; sample_pcaps/generate.py's builders, to make captures of our own."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

from forensics_tcpflow.capture.reader import open_capture
from forensics_tcpflow.capture.record import CaptureError, Record
from forensics_tcpflow.capture.writer import PcapWriter


def drain(path: Path) -> tuple[list[Record], CaptureError | None]:
    records: list[Record] = []
    try:
        with open_capture(path) as capture:
            records.extend(capture)
    except CaptureError as exc:
        return records, exc
    return records, None


SAMPLES = Path(__file__).resolve().parents[1] / "sample_pcaps"


def sample_generator() -> ModuleType:
    """sample_pcaps/generate.py as a module (it is a script, not a package)."""
    name = "sample_pcaps_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SAMPLES / "generate.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]
# -- crafted packets, written as a classic pcap ---------------------------------------------------
MAC_A, MAC_B = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")


def ipv4(src: bytes, dst: bytes, proto: int, body: bytes, ident: int = 0, frag: int = 0) -> bytes:
    """An IPv4 header (no options, checksum left 0: nothing here checks it) before `body`."""
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, frag, 64, proto, 0, src, dst) + body


def ipv6(src: bytes, dst: bytes, nh: int, body: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, 64, src, dst) + body


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes = b"", ack: int = 0) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def ether(body: bytes, etype: int = 0x0800, vlan: int | None = None, src: bytes = MAC_A, dst: bytes = MAC_B) -> bytes:
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", etype) + body


def write_pcap(path: Path, frames: list[tuple[int, bytes]], cut: dict[int, int] | None = None) -> Path:
    """(ts_ns, Ethernet frame) pairs as a classic pcap, in the order given; `cut` maps a frame's
    position (0-based) to the bytes the snaplen takes off its end."""
    writer = PcapWriter(path.open("xb"))
    for frame, (ts_ns, data) in enumerate(frames, 1):
        kept = data[:len(data) - (cut or {}).get(frame - 1, 0)]
        writer.write(Record(frame, 1, ts_ns, len(kept), len(data), kept, 0))
    writer.close()
    return path


def write_exchange(path: Path, start_s: float, request: bytes, response: bytes, client: bytes = bytes([10, 9, 8, 7]),
                   server: bytes = bytes([10, 9, 8, 6]), sport: int = 40000) -> None:
    """A pcap of one whole TCP connection to port 80 (handshake, one request, one response, both FINs),
    a tenth of a second between packets from `start_s` (seconds since 1970)."""
    syn, ack, fin = 0x02, 0x10, 0x01
    end_c, end_s = 101 + len(request), 501 + len(response)
    packets = [(client, server, sport, 80, 100, 0, syn, b""), (server, client, 80, sport, 500, 101, syn | ack, b""),
               (client, server, sport, 80, 101, 501, ack, request), (server, client, 80, sport, 501, end_c, ack, response),
               (server, client, 80, sport, end_s, end_c, fin | ack, b""),
               (client, server, sport, 80, end_c, end_s + 1, fin | ack, b"")]
    start_ns = round(start_s * 1_000_000_000)
    write_pcap(path, [(start_ns + number * 100_000_000,
                       ether(ipv4(src, dst, 6, tcp(sp, dp, seq, flags, data, ack=acked)), src=b"\x02" * 6, dst=b"\x04" * 6))
                      for number, (src, dst, sp, dp, seq, acked, flags, data) in enumerate(packets)])
