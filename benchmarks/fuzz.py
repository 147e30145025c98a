"""Our own fuzzer: structure-aware mutations of captures, run through the real program.

Seeds are small captures built here that reach every decoder layer (Ethernet,
stacked VLANs, MPLS, PPPoE, IPv4 and IPv6 with extension chains, fragments,
GRE, VXLAN, IP-in-IP, SLL, raw IP, sequence wrap). Every header field the
decoders read is declared once in LAYOUTS, so a mutation can aim at a field
(an interesting value, a nearby value, a bit flip) rather than at random bytes;
the container (pcap or pcapng records and blocks) is mutated the same way.

`python -m benchmarks.fuzz --count N` runs a campaign: cases go in batches into
a child process with a deadline (so a hang is caught and killed), and a batch
that does not end cleanly is re-run case by case to name the culprit. Outcome
classes: clean, input-error (handled: the report names the error), internal-error,
hang, invalid-report.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lxml import etree

from forensics_tcpflow.report.dfxml import FTF_NS

# --- layouts: (field, offset, size) of every header field a decoder reads -----------------------

LAYOUTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "eth": (("type", 12, 2),),
    "vlan": (("tci", 0, 2), ("type", 2, 2)),
    "mpls": (("label", 0, 3), ("ttl", 3, 1)),
    "pppoe": (("verstype", 0, 1), ("code", 1, 1), ("length", 4, 2), ("proto", 6, 2)),
    "ipv4": (("verihl", 0, 1), ("length", 2, 2), ("ident", 4, 2), ("frag", 6, 2), ("proto", 9, 1),
             ("src", 12, 4), ("dst", 16, 4)),
    "ipv6": (("version", 0, 1), ("plen", 4, 2), ("next", 6, 1), ("src", 8, 16), ("dst", 24, 16)),
    "ext6": (("next", 0, 1), ("len", 1, 1)),
    "frag6": (("next", 0, 1), ("offset", 2, 2), ("ident", 4, 4)),
    "tcp": (("sport", 0, 2), ("dport", 2, 2), ("seq", 4, 4), ("ack", 8, 4), ("offset", 12, 1),
            ("flags", 13, 1)),
    "udp": (("sport", 0, 2), ("dport", 2, 2), ("length", 4, 2)),
    "gre": (("flags", 0, 2), ("proto", 2, 2)),
    "vxlan": (("flags", 0, 1), ("vni", 4, 3)),
    "sll": (("hatype", 2, 2), ("halen", 4, 2), ("proto", 14, 2)),
    "payload": (),
}
PCAP_RECORD = struct.Struct("<IIII")         # ts_sec, ts_frac, caplen, origlen
PCAP_FIELDS = (("ts_sec", 0, 4), ("ts_frac", 4, 4), ("caplen", 8, 4), ("origlen", 12, 4))
PCAP_HEADER_FIELDS = (("magic", 0, 4), ("version", 4, 4), ("snaplen", 16, 4), ("linktype", 20, 4))
PCAPNG_FIELDS = (("type", 0, 4), ("length", 4, 4), ("interface", 8, 4), ("caplen", 20, 4), ("origlen", 24, 4))


@dataclass(slots=True)
class Frame:
    """A packet as a stack of (layer name, bytes): field offsets follow from the layouts."""

    layers: list[tuple[str, bytearray]] = field(default_factory=list)

    def fields(self) -> list[tuple[int, int]]:
        out, base = [], 0
        for name, data in self.layers:
            out.extend((base + off, size) for _, off, size in LAYOUTS[name] if off + size <= len(data))
            base += len(data)
        return out

    def bytes(self) -> bytearray:
        return bytearray(b"".join(data for _, data in self.layers))


# --- seeds --------------------------------------------------------------------------------------

A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6, B6 = bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes.fromhex("20010db8" + "00" * 11 + "02")
MACS = bytes.fromhex("0200000000aa0200000000bb")
SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def _b(fmt: str, *values: int | bytes) -> bytearray:
    return bytearray(struct.pack(fmt, *values))


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes = b"") -> list[tuple[str, bytearray]]:
    return [("tcp", _b("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)),
            ("payload", bytearray(data))]


def ipv4(proto: int, body: list, src: bytes = A4, dst: bytes = B4, ident: int = 1, frag: int = 0x4000,
         length: int | None = None) -> list:
    size = 20 + sum(len(d) for _, d in body)
    return [("ipv4", _b("!BBHHHBBH4s4s", 0x45, 0, size if length is None else length, ident, frag, 64, proto, 0,
                        src, dst))] + body


def ipv6(nh: int, body: list, src: bytes = A6, dst: bytes = B6) -> list:
    return [("ipv6", _b("!IHBB16s16s", 6 << 28, sum(len(d) for _, d in body), nh, 64, src, dst))] + body


def eth(etype: int, body: list) -> list:
    return [("eth", bytearray(MACS + struct.pack("!H", etype)))] + body


def conversation(wrap: Callable[[list, int], list], sport: int = 1234, isn: int = 1000,
                 payloads: tuple[bytes, bytes] = (b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\nhello")) -> list[Frame]:
    """A whole connection (handshake, data both ways, teardown); wrap(layers, direction) adds the lower layers."""
    c, s = isn, 5000
    req, resp = payloads
    steps = [(0, c, 0, SYN, b""), (1, s, c + 1, SYN | ACK, b""), (0, c + 1, s + 1, ACK, b""),
             (0, c + 1, s + 1, PSH | ACK, req), (1, s + 1, c + 1 + len(req), PSH | ACK, resp),
             (0, c + 1 + len(req), s + 1 + len(resp), FIN | ACK, b""),
             (1, s + 1 + len(resp), c + 2 + len(req), FIN | ACK, b""),
             (0, c + 2 + len(req), s + 2 + len(resp), ACK, b"")]
    frames = []
    for d, seq, ack, flags, data in steps:
        ports = (sport, 80) if d == 0 else (80, sport)
        frames.append(Frame(wrap(tcp(*ports, seq, ack, flags, data), d)))
    return frames


def _v4(body: list, d: int) -> list:
    return ipv4(6, body, *((A4, B4) if d == 0 else (B4, A4)))


def _v6(body: list, d: int, nh: int = 6, ext: list | None = None) -> list:
    src, dst = (A6, B6) if d == 0 else (B6, A6)
    return ipv6(nh, (ext or []) + body, src, dst)


def _ext_chain(body: list, d: int) -> list:
    """Hop-by-hop, routing and destination options before TCP."""
    ext = [("ext6", _b("!BB6x", 43, 0)), ("ext6", _b("!BBBB4x", 60, 0, 0, 0)), ("ext6", _b("!BB6x", 6, 0))]
    return _v6(body, d, nh=0, ext=ext)


def fragments4(payload: bytes, sizes: tuple[int, ...]) -> list[Frame]:
    """One TCP segment cut into IPv4 fragments (sizes in multiples of 8 but the last)."""
    body = b"".join(bytes(d) for _, d in tcp(1234, 80, 1, 1, PSH | ACK, payload))
    out, off = [], 0
    for i, size in enumerate(sizes):
        more = 0x2000 if i < len(sizes) - 1 else 0
        piece = body[off:off + size] if more else body[off:]
        out.append(Frame(eth(0x0800, ipv4(6, [("payload", bytearray(piece))], ident=77, frag=more | off // 8))))
        off += size
    return out


def fragments6(payload: bytes, size: int) -> list[Frame]:
    body = b"".join(bytes(d) for _, d in tcp(1234, 80, 1, 1, PSH | ACK, payload))
    pieces = [body[:size], body[size:]]
    out = []
    for i, piece in enumerate(pieces):
        frag = ("frag6", _b("!BBHI", 6, 0, (i * size) | (1 if i == 0 else 0), 99))
        out.append(Frame(eth(0x86DD, ipv6(44, [frag, ("payload", bytearray(piece))]))))
    return out


def seeds() -> list[tuple[str, int, list[Frame]]]:
    """(name, link type, frames) covering every decoder layer."""
    vxlan = lambda body, d: eth(0x0800, ipv4(17, [("udp", _b("!HHHH", 40000, 4789, 0, 0)),
                                                  ("vxlan", _b("!B3xI", 0x08, 42 << 8))] + eth(0x0800, _v4(body, d))))
    def pppoe(body: list, d: int) -> list:
        inner = _v4(body, d)
        return eth(0x8864, [("pppoe", _b("!BBHHH", 0x11, 0, 1, 2 + sum(len(x) for _, x in inner), 0x0021))] + inner)
    gre = lambda body, d: eth(0x0800, ipv4(47, [("gre", _b("!HH", 0, 0x0800))] + _v4(body, d), B4, A4))
    return [
        ("ipv4", 1, conversation(lambda b, d: eth(0x0800, _v4(b, d)))),
        ("ipv6-ext", 1, conversation(lambda b, d: eth(0x86DD, _ext_chain(b, d)))),
        ("qinq", 1, conversation(lambda b, d: eth(0x88A8, [("vlan", _b("!HH", 100, 0x8100)),
                                                            ("vlan", _b("!HH", 200, 0x0800))] + _v4(b, d)))),
        ("mpls", 1, conversation(lambda b, d: eth(0x8847, [("mpls", _b("!I", (16 << 12) | 0x100 | 64))] + _v4(b, d)))),
        ("pppoe", 1, conversation(pppoe)),
        ("gre", 1, conversation(gre)),
        ("vxlan", 1, conversation(vxlan)),
        ("ipip", 1, conversation(lambda b, d: eth(0x0800, ipv4(4, _v4(b, d), B4, A4)))),
        ("6in4", 1, conversation(lambda b, d: eth(0x0800, ipv4(41, _v6(b, d), B4, A4)))),
        ("raw", 101, conversation(lambda b, d: _v4(b, d))),
        ("sll", 113, conversation(lambda b, d: [("sll", _b("!HHH8sH", 0, 1, 6, MACS[:6] + b"\0\0", 0x0800))]
                                  + _v4(b, d))),
        ("wrap", 1, conversation(lambda b, d: eth(0x0800, _v4(b, d)), isn=0xFFFFFFF0,
                                 payloads=(b"A" * 40, b"B" * 30))),
        ("frag4", 1, fragments4(b"fragmented payload " * 4, (24, 32, 40))),
        ("frag6", 1, fragments6(b"fragmented payload " * 4, 48)),
    ]


# --- containers ---------------------------------------------------------------------------------

@dataclass(slots=True)
class Capture:
    """Records (header fields as data) and where each record sits, for container-level mutations."""

    data: bytearray
    records: list[tuple[int, int]]       # (offset of the record header, length of header + data)
    fields: tuple[tuple[str, int, int], ...]


def to_pcap(linktype: int, frames: list[bytes], big: bool = False, nano: bool = False) -> Capture:
    order = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = bytearray(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
    records = []
    for i, frame in enumerate(frames):
        records.append((len(out), 16 + len(frame)))
        out += struct.pack(order + "IIII", 1_700_000_000 + i, i * 1000, len(frame), len(frame)) + frame
    return Capture(out, records, PCAP_FIELDS)


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def to_pcapng(linktype: int, frames: list[bytes]) -> Capture:
    out = bytearray(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    out += _block(1, struct.pack("<HHI", linktype, 0, 65535) + struct.pack("<HHB3xHH", 9, 1, 9, 0, 0))
    records = []
    for i, frame in enumerate(frames):
        ts = (1_700_000_000 + i) * 1_000_000_000
        block = _block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
        records.append((len(out), len(block)))
        out += block
    return Capture(out, records, PCAPNG_FIELDS)


# --- mutations ----------------------------------------------------------------------------------

def _interesting(size: int, old: int, rng: random.Random) -> int:
    top = (1 << (8 * size)) - 1
    choice = rng.randrange(6)
    if choice == 0:
        return rng.choice((0, 1, top, top - 1, top >> 1, (top >> 1) + 1))
    if choice == 1:
        return (old + rng.randint(-16, 16)) & top
    if choice == 2:
        return old ^ (1 << rng.randrange(8 * size))
    if choice == 3:
        return rng.randrange(top + 1)
    if choice == 4:
        return (old * 2 + rng.randint(0, 3)) & top
    return rng.choice((20, 40, 60, 0x0800, 0x86DD, 0x8100, 6, 17, 44, 0x1000, 65535, 9000)) & top


def _set_field(buf: bytearray, off: int, size: int, rng: random.Random, order: str = "big") -> None:
    old = int.from_bytes(buf[off:off + size], order)
    buf[off:off + size] = _interesting(size, old, rng).to_bytes(size, order)


def mutate_frame(frame: Frame, rng: random.Random) -> bytearray:
    """A header field set to a telling value, bytes inserted or cut at a layer boundary, or a bit flip."""
    data = frame.bytes()
    fields = frame.fields()
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind = rng.randrange(10)
        if kind < 6 and fields:
            off, size = rng.choice(fields)
            if off + size <= len(data):
                _set_field(data, off, size, rng)
        elif kind < 8 and data:
            cut = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                del data[cut:cut + rng.randint(1, 8)]
            else:
                data[cut:cut] = rng.randbytes(rng.randint(1, 8))
        elif data:
            bit = rng.randrange(8 * len(data))
            data[bit // 8] ^= 1 << (bit % 8)
    return data


def mutate_container(cap: Capture, rng: random.Random) -> bytearray:
    """Record header fields, the file header, records dropped, repeated or swapped, a truncation."""
    data = cap.data
    kind = rng.randrange(8)
    order = "little"
    if kind <= 2 and cap.records:
        start, _ = rng.choice(cap.records)
        _, off, size = rng.choice(cap.fields)
        _set_field(data, start + off, size, rng, order)
    elif kind == 3:
        fields = PCAP_HEADER_FIELDS if cap.fields is PCAP_FIELDS else (("shb-length", 4, 4), ("idb-linktype", 36, 2),
                                                                       ("idb-snaplen", 40, 4), ("idb-option", 44, 2))
        _, off, size = rng.choice(fields)
        _set_field(data, off, size, rng, order)
    elif kind == 4 and len(cap.records) > 1:
        (a, alen), (b, blen) = sorted(rng.sample(cap.records, 2))
        first, second = bytes(data[a:a + alen]), bytes(data[b:b + blen])
        data = data[:a] + second + data[a + alen:b] + first + data[b + blen:]
    elif kind == 5 and cap.records:
        start, length = rng.choice(cap.records)
        record = bytes(data[start:start + length])
        if rng.random() < 0.5:
            data = data[:start] + data[start + length:]
        else:
            data = data[:start] + record * rng.randint(2, 4) + data[start:]
    elif kind == 6 and data:
        data = data[:rng.randrange(len(data))]
    elif cap.records:
        start, _ = rng.choice(cap.records)
        data = data[:start + rng.randrange(32)]
    return data


COMPRESSORS: tuple[Callable[[bytes], bytes], ...] = (gzip.compress, bz2.compress, lzma.compress)


def mutated_capture(rng: random.Random) -> bytes:
    """One mutated capture from a random seed, container and mix of mutations."""
    name, linktype, frames = rng.choice(seeds())
    raw = [f.bytes() for f in frames]
    for _ in range(rng.choice((0, 1, 1, 2, 4))):
        i = rng.randrange(len(frames))
        raw[i] = mutate_frame(frames[i], rng)
    if rng.random() < 0.2:
        rng.shuffle(raw)
    container = rng.randrange(4)
    cap = to_pcapng(linktype, raw) if container == 0 else to_pcap(linktype, raw, big=container == 2,
                                                                  nano=container == 3)
    data = bytes(mutate_container(cap, rng)) if rng.random() < 0.6 else bytes(cap.data)
    if rng.random() < 0.08:
        packed = rng.choice(COMPRESSORS)(data)
        data = packed if rng.random() < 0.5 else packed[:rng.randrange(1, len(packed) + 1)]
    return data


def case(seed: int, index: int) -> bytes:
    """The capture of case `index` of a campaign: reproducible from (seed, index) alone."""
    return mutated_capture(random.Random(seed * 1_000_003 + index))


# --- running and classifying --------------------------------------------------------------------

OUTCOMES = ("clean", "input-error", "internal-error", "hang", "invalid-report", "twins-differ")
UNHANDLED = ("internal-error", "hang", "invalid-report", "twins-differ")
BATCH_SPEEDUP = 20      # a batch of n cases may take deadline * n / BATCH_SPEEDUP seconds


@dataclass(slots=True)
class Batch:
    """What one run of the program over a folder of cases said."""

    status: int | None               # None: killed at the deadline
    stderr: str
    errors: dict[str, bool]          # case file name -> the report names an error for it


# The program as a child, taking the kernel wherever a capture allows it ("kernel": the compiled one
# where it is built; "twin": the pure-Python kernel) or never ("general").
CHILD = ("import os, sys; sys.argv[1] == 'twin' and os.environ.__setitem__('FTF_KERNEL', 'python');"
         " import forensics_tcpflow.engine as e; from forensics_tcpflow.cli import main;"
         " e.kernel_header = e.kernel_header if sys.argv[1] in ('kernel', 'twin') else (lambda head: None);"
         " sys.exit(main(sys.argv[2:]))")
# Runs take turns with these: the general path, the kernel, its twin, merged evidence, other reassembly
# choices (UDP flows among them).
VARIANTS: tuple[tuple[str, ...], ...] = (("general",), ("kernel",), ("twin",), ("general", "--merge"),
                                         ("general", "--overlap", "last", "--idle-timeout", "1", "-F", "c", "--udp"))


def run_folder(folder: Path, out: Path, deadline: float, variant: tuple[str, ...] = VARIANTS[0]) -> Batch:
    """The real program in a child process over every case in `folder`, killed at the deadline."""
    path, *extra = variant
    cmd = [sys.executable, "-c", CHILD, path, str(folder), "-o", str(out), "-q", "-j", "1", *extra]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        return Batch(None, exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or "", {})
    errors: dict[str, bool] = {}
    report = out / "report.xml"
    if report.is_file():
        try:
            root = etree.parse(str(report)).getroot()
            for element in root.iter(f"{{{FTF_NS}}}input"):
                errors[Path(element.get("path", "")).name] = element.find(f"{{{FTF_NS}}}error") is not None
            for element in root.iter(f"{{{FTF_NS}}}skipped"):      # not a capture any more: handled
                errors[Path(element.get("path", "")).name] = True
        except etree.XMLSyntaxError:
            errors = {}
    return Batch(done.returncode, done.stderr, errors)


def classify(batch: Batch, names: list[str]) -> str | None:
    """One outcome for the whole batch when it ended cleanly, else None (re-run case by case)."""
    if batch.status is None:
        return "hang"
    if batch.status not in (0, 1) or "Traceback" in batch.stderr or "internal error" in batch.stderr:
        return "internal-error"
    if "invalid report" in batch.stderr or not all(name in batch.errors for name in names):
        return "invalid-report"
    return None


def outputs(out: Path) -> dict[str, bytes]:
    """What a run wrote that must not depend on the kernel: flow files, their indexes, flows.jsonl/csv
    (the report, its case page and the page's data carry run times, ids and the kernel's name)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).parts[0].startswith("report")}


def run_cases(cases: dict[str, bytes], work: Path, deadline: float,
              variant: tuple[str, ...] = VARIANTS[0]) -> dict[str, str]:
    """Outcome per case name; a batch that fails is split until each failure is pinned to its case."""
    if work.exists():
        shutil.rmtree(work)
    folder, out = work / "in", work / "out"
    folder.mkdir(parents=True)
    for name, data in cases.items():
        (folder / name).write_bytes(data)
    batch = run_folder(folder, out, deadline * max(1.0, len(cases) / BATCH_SPEEDUP), variant)
    bad = classify(batch, list(cases))
    if bad is None and variant == ("kernel",):     # the compiled kernel's output is its twin's, case by case
        twin = run_folder(folder, work / "twin", deadline * max(1.0, len(cases) / BATCH_SPEEDUP), ("twin",))
        if classify(twin, list(cases)) is not None or outputs(out) != outputs(work / "twin"):
            bad = "twins-differ"
    if bad is None:
        return {name: "input-error" if batch.errors[name] else "clean" for name in cases}
    if len(cases) == 1:
        return {name: bad for name in cases}
    names = list(cases)
    half = len(names) // 2
    result: dict[str, str] = {}
    for part in (names[:half], names[half:]):
        result.update(run_cases({n: cases[n] for n in part}, work, deadline, variant))
    return result


def campaign(count: int, seed: int, batch_size: int, deadline: float, work: Path,
             log: Callable[[str], None]) -> tuple[Counter[str], list[tuple[int, str]]]:
    """Every outcome counted, and the (index, outcome) of every unhandled case."""
    tally: Counter[str] = Counter()
    failures: list[tuple[int, str]] = []
    started = time.monotonic()
    for first in range(0, count, batch_size):
        indices = range(first, min(count, first + batch_size))
        cases = {f"case{i:07d}.pcap": case(seed, i) for i in indices}
        variant = VARIANTS[first // batch_size % len(VARIANTS)]
        for name, outcome in run_cases(cases, work, deadline, variant).items():
            tally[outcome] += 1
            if outcome in UNHANDLED:
                failures.append((int(name[4:11]), f"{outcome} ({' '.join(variant)})"))
        log(f"{indices.stop}/{count} cases, {time.monotonic() - started:.0f} s: {dict(tally)}")
    return tally, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="mutated captures to run")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed: case i is reproducible from (seed, i)")
    parser.add_argument("--batch", type=int, default=200, help="cases per run of the program")
    parser.add_argument("--deadline", type=float, default=10.0, help="seconds a single case may take")
    parser.add_argument("--save", type=Path, help="write each unhandled case's capture into this folder")
    parser.add_argument("--json", type=Path, help="write the outcome counts and failures as JSON here")
    args = parser.parse_args(argv)
    log = lambda line: print(line, file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="ftf-fuzz-") as tmp:
        tally, failures = campaign(args.count, args.seed, args.batch, args.deadline, Path(tmp), log)
    for index, outcome in failures:
        log(f"{outcome}: case {index} (seed {args.seed})")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"seed{args.seed}-case{index}.pcap").write_bytes(case(args.seed, index))
    summary = {"count": args.count, "seed": args.seed, **{k: tally[k] for k in OUTCOMES},
               "failures": [{"case": i, "outcome": o} for i, o in failures]}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    print(" ".join(f"{k}={tally[k]}" for k in OUTCOMES))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
