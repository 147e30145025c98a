"""Deterministic benchmark captures: seeded TCP traffic written fast enough for gigabytes.

Every flow has a full handshake, a request, a response, delayed ACKs and a FIN teardown;
a seeded share of data segments is sent out of order or retransmitted (identical bytes,
so first-wins and last-wins reassembly agree), a share is IPv6 and a share carries an
802.1Q tag (PCP 0, so tcpflow's whole-TCI name equals our VLAN ID). Frames are never
padded: a frame is exactly its headers plus payload, so tcpflow's caplen-based payload
length equals the IP length. Checksums are correct: a 16-bit one's complement sum is
`int.from_bytes(data) % 0xffff`, and the payload sums come from a small set of seeded
patterns, computed once.

Flows depend only on (seed, flow id), so the two files of a split workload hold exactly the
flows of the unsplit one (flow id modulo the number of files), each file self-contained.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

GENERATOR_VERSION = 1
QUICK_SCALE = 0.05
CHUNK = 8 << 20                 # bytes buffered before one write
PATTERNS = 61                   # payload patterns per segment size (prime: adjacent segments differ)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
ETH = struct.Struct("!6s6sH")
VLAN_TAG = struct.Struct("!HH")          # TCI, inner ethertype (the outer type is 0x8100)
IPV4 = struct.Struct("!BBHHHBBH4s4s")
IPV6 = struct.Struct("!IHBB16s16s")
TCP = struct.Struct("!HHIIBBHHH")
MSS_OPTION = struct.Struct("!BBH")
MAC_CLIENT, MAC_SERVER = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
ETHERTYPE = {4: 0x0800, 6: 0x86DD}
IP_HEADER = {4: IPV4.size, 6: IPV6.size}
START_NS = 1_700_000_000 * 10**9


@dataclass(frozen=True)
class Workload:
    """The shape of one benchmark capture (or folder of captures)."""

    name: str
    target_bytes: int           # approximate capture size at scale 1
    flows: int
    concurrency: int
    segment: int                # payload bytes per full segment
    request: int                # mean request size (bytes, client -> server)
    ooo: float = 0.01           # share of data segments swapped with the next one
    retrans: float = 0.005      # share of data segments sent twice
    ipv6: float = 0.2
    vlan: float = 0.1
    files: int = 1
    seed: int = 6
    ack_every: int = 2          # the receiver ACKs every n-th data segment

    def scaled(self, scale: float) -> "Workload":
        """Same per-flow shape, more or fewer flows: memory should not follow the flow count."""
        flows = max(self.files * 2, round(self.flows * scale))
        return replace(self, flows=flows, target_bytes=round(self.target_bytes * flows / self.flows),
                       concurrency=min(self.concurrency, max(1, flows // 2)))

    def key(self) -> str:
        return f"{self.name}-{self.flows}f-{self.target_bytes // 1_000_000}MB-s{self.seed}-v{GENERATOR_VERSION}"


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("bulk", 1_000_000_000, 2_000, 100, 1448, 400),
    Workload("small", 300_000_000, 2_000, 100, 100, 400),
    Workload("short", 300_000_000, 200_000, 1_000, 1448, 200),
    Workload("split", 1_000_000_000, 2_000, 100, 1448, 400, files=2),
    # Shaped like real traffic: every connection open at once (the short shape: 1,000 at a time),
    # interleaved packet by packet, 10% VLAN, 10% IPv6, 1% reordered, 1% retransmitted.
    Workload("mix-bulk", 1_000_000_000, 2_000, 2_000, 1448, 400, ooo=0.01, retrans=0.01, ipv6=0.1, vlan=0.1),
    Workload("mix-small", 300_000_000, 2_000, 2_000, 100, 400, ooo=0.01, retrans=0.01, ipv6=0.1, vlan=0.1),
    Workload("mix-short", 330_000_000, 200_000, 1_000, 1448, 200, ooo=0.01, retrans=0.01, ipv6=0.1, vlan=0.1),
)}


@dataclass
class CaptureInfo:
    """What was written, for the runner's MB/s and packets/s."""

    workload: dict
    paths: list[str]
    bytes: int
    packets: int
    flows: int
    payload_bytes: int
    seconds: float


# --- checksums and payloads ---------------------------------------------------------------

def word_sum(data: bytes | bytearray | memoryview) -> int:
    """The 16-bit one's complement sum modulo 0xffff (odd lengths padded with a zero byte)."""
    value = int.from_bytes(data, "big")
    return (value << 8 if len(data) & 1 else value) % 0xFFFF


def fold(total: int) -> int:
    """The checksum field for a sum (never 0xffff: both zeros are equal in one's complement)."""
    return (0xFFFF - total % 0xFFFF) % 0xFFFF


class Payloads:
    """Seeded payload patterns with their sums; a segment's pattern depends on its index."""

    def __init__(self, seed: int, size: int) -> None:
        rng = random.Random(seed * 7919 + size)
        self.size = size
        self.blocks = [rng.randbytes(size) for _ in range(PATTERNS)]
        self.sums = [word_sum(b) for b in self.blocks]

    def get(self, index: int, length: int) -> tuple[bytes, int]:
        block = self.blocks[index % PATTERNS]
        if length == self.size:
            return block, self.sums[index % PATTERNS]
        part = block[:length]
        return part, word_sum(part)


# --- flows --------------------------------------------------------------------------------

@dataclass(slots=True)
class Side:
    """One endpoint's addressing, precomputed once per flow."""

    addr: bytes
    port: int
    seq: int


class Flow:
    """One connection as a list of packet events (direction, flags, seq, ack, segment index, length)."""

    __slots__ = ("fid", "family", "vlan", "sides", "addr_sum", "events", "cursor")

    def __init__(self, workload: Workload, fid: int, mean_response: float) -> None:
        rng = random.Random(workload.seed * 1_000_003 + fid)
        self.fid = fid
        self.family = 6 if rng.random() < workload.ipv6 else 4
        self.vlan = 100 + fid % 400 if rng.random() < workload.vlan else 0
        if self.family == 4:
            client = struct.pack("!I", 0x0A000001 + fid // 1000)
            server = bytes((10, 200, fid % 16, 1 + fid % 200))
        else:
            client = bytes.fromhex("20010db8000c0000") + struct.pack("!Q", fid + 1)
            server = bytes.fromhex("20010db8000500000000000000000000")[:14] + struct.pack("!H", 1 + fid % 200)
        self.sides = (Side(client, 20_000 + fid % 1000, rng.getrandbits(32)),
                      Side(server, 443 if fid & 1 else 80, rng.getrandbits(32)))
        self.addr_sum = word_sum(client + server) + 6
        request = max(1, round(workload.request * (0.5 + rng.random())))
        response = max(1, round(mean_response * (0.2 + 1.6 * rng.random())))
        self.events = self._script(workload, rng, request, response)
        self.cursor = 0

    def _script(self, w: Workload, rng: random.Random, request: int, response: int) -> list[tuple]:
        c_isn, s_isn = self.sides[0].seq, self.sides[1].seq
        nxt = [(c_isn + 1) & 0xFFFFFFFF, (s_isn + 1) & 0xFFFFFFFF]
        ev: list[tuple] = [(0, SYN, c_isn, 0, -1, 0), (1, SYN | ACK, s_isn, nxt[0], -1, 0), (0, ACK, nxt[0], nxt[1], -1, 0)]
        for direction, size in ((0, request), (1, response)):
            data: list[tuple] = []
            for k, off in enumerate(range(0, size, w.segment)):
                length = min(w.segment, size - off)
                data.append((direction, PSH | ACK, (nxt[direction] + off) & 0xFFFFFFFF, nxt[1 - direction],
                             k * 3 + direction + self.fid, length))
            self._perturb(w, rng, data)
            ev.extend(self._acked(w, data, nxt[direction], nxt[1 - direction]))
            nxt[direction] = (nxt[direction] + size) & 0xFFFFFFFF
        ev.append((1, FIN | ACK, nxt[1], nxt[0], -1, 0))
        ev.append((0, ACK, nxt[0], (nxt[1] + 1) & 0xFFFFFFFF, -1, 0))
        ev.append((0, FIN | ACK, nxt[0], (nxt[1] + 1) & 0xFFFFFFFF, -1, 0))
        ev.append((1, ACK, (nxt[1] + 1) & 0xFFFFFFFF, (nxt[0] + 1) & 0xFFFFFFFF, -1, 0))
        return ev

    @staticmethod
    def _acked(w: Workload, data: list[tuple], expected: int, peer_seq: int) -> list[tuple]:
        """The data segments with the receiver's cumulative ACK after every n-th and the last."""
        waiting: dict[int, int] = {}
        out: list[tuple] = []
        for n, event in enumerate(data, 1):
            out.append(event)
            waiting[event[2]] = max(waiting.get(event[2], 0), event[5])
            while expected & 0xFFFFFFFF in waiting:
                expected += waiting.pop(expected & 0xFFFFFFFF)
            if n % w.ack_every == 0 or n == len(data):
                out.append((1 - event[0], ACK, peer_seq, expected & 0xFFFFFFFF, -1, 0))
        return out

    @staticmethod
    def _perturb(w: Workload, rng: random.Random, data: list[tuple]) -> None:
        """Swap a share of adjacent data segments and send a share twice (a little later)."""
        i = 0
        while i < len(data) - 1:
            if rng.random() < w.ooo:
                data[i], data[i + 1] = data[i + 1], data[i]
                i += 2
            else:
                i += 1
        for i in range(len(data) - 1, -1, -1):
            if rng.random() < w.retrans:
                data.insert(min(len(data), i + 3), data[i])


def mean_response(w: Workload) -> float:
    """The response size that makes the capture come out near target_bytes."""
    per_packet = RECORD.size + ETH.size + 4 * w.vlan + IPV4.size + 20 * w.ipv6 + TCP.size
    per_byte = (w.segment + per_packet * (1 + 1 / w.ack_every)) / w.segment
    fixed = 9 * per_packet + w.request * per_byte
    return max(1.0, (w.target_bytes / w.flows - fixed) / per_byte)


# --- the writer ---------------------------------------------------------------------------

class PcapWriter:
    """Packets built in place in a large bytearray, written in big chunks."""

    def __init__(self, path: Path, payloads: Payloads) -> None:
        self.fh = open(path, "wb")
        self.fh.write(PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.buf = bytearray(CHUNK + 65536 + 256)
        self.off = 0
        self.bytes = PCAP_HEADER.size
        self.packets = 0
        self.payload_bytes = 0
        self.clock_ns = START_NS
        self.payloads = payloads

    def packet(self, flow: Flow, direction: int, flags: int, seq: int, ack: int, index: int, length: int) -> None:
        buf, off = self.buf, self.off
        src, dst = flow.sides[direction], flow.sides[1 - direction]
        family = flow.family
        tcp_len = TCP.size + (MSS_OPTION.size if flags & SYN else 0)
        l3 = ETH.size + (VLAN_TAG.size if flow.vlan else 0)
        frame = l3 + IP_HEADER[family] + tcp_len + length
        self.clock_ns += 1000 + length * 8
        RECORD.pack_into(buf, off, self.clock_ns // 10**9, self.clock_ns // 1000 % 10**6, frame, frame)
        p = off + RECORD.size
        macs = (MAC_CLIENT, MAC_SERVER) if direction == 0 else (MAC_SERVER, MAC_CLIENT)
        if flow.vlan:
            ETH.pack_into(buf, p, macs[1], macs[0], 0x8100)
            VLAN_TAG.pack_into(buf, p + ETH.size, flow.vlan, ETHERTYPE[family])
        else:
            ETH.pack_into(buf, p, macs[1], macs[0], ETHERTYPE[family])
        p += l3
        if family == 4:
            IPV4.pack_into(buf, p, 0x45, 0, IPV4.size + tcp_len + length, self.packets & 0xFFFF, 0x4000, 64, 6, 0,
                           src.addr, dst.addr)
            struct.pack_into("!H", buf, p + 10, fold(word_sum(memoryview(buf)[p:p + IPV4.size])))
            p += IPV4.size
        else:
            IPV6.pack_into(buf, p, 0x60000000, tcp_len + length, 6, 64, src.addr, dst.addr)
            p += IPV6.size
        TCP.pack_into(buf, p, src.port, dst.port, seq, ack, (tcp_len // 4) << 4, flags, 65535, 0, 0)
        if flags & SYN:
            MSS_OPTION.pack_into(buf, p + TCP.size, 2, 4, 1460 if family == 4 else 1440)
        total = flow.addr_sum + tcp_len + length + word_sum(memoryview(buf)[p:p + tcp_len])
        if length:
            data, data_sum = self.payloads.get(index, length)
            buf[p + tcp_len:p + tcp_len + length] = data
            total += data_sum
            self.payload_bytes += length
        struct.pack_into("!H", buf, p + 16, fold(total))
        self.off = off + RECORD.size + frame
        self.packets += 1
        if self.off >= CHUNK:
            self.flush()

    def flush(self) -> None:
        self.fh.write(memoryview(self.buf)[:self.off])
        self.bytes += self.off
        self.off = 0

    def close(self) -> None:
        self.flush()
        self.fh.close()


def write_capture(w: Workload, path: Path, part: int = 0) -> PcapWriter:
    """One file: the flows whose id modulo w.files is `part`, `concurrency / files` at a time."""
    rng = random.Random(w.seed * 31 + part)
    writer = PcapWriter(path, Payloads(w.seed, w.segment))
    response = mean_response(w)
    pending = iter(range(part, w.flows, w.files))
    active: list[Flow] = []
    width = max(1, w.concurrency // w.files)
    for fid in pending:
        active.append(Flow(w, fid, response))
        if len(active) >= width:
            break
    while active:
        slot = rng.randrange(len(active))
        flow = active[slot]
        for _ in range(rng.randint(1, 4)):
            writer.packet(flow, *flow.events[flow.cursor])
            flow.cursor += 1
            if flow.cursor == len(flow.events):
                nxt = next(pending, None)
                if nxt is None:
                    active[slot] = active[-1]
                    active.pop()
                else:
                    active[slot] = Flow(w, nxt, response)
                break
    writer.close()
    return writer


def generate(w: Workload, root: Path) -> CaptureInfo:
    """Write the workload under root/<key>/ (a folder of files when split) unless already there."""
    folder = root / w.key()
    meta = folder / "capture.json"
    if meta.exists():
        info = CaptureInfo(**json.loads(meta.read_text()))
        if info.workload == asdict(w) and all(Path(p).exists() for p in info.paths):
            return info
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    names = [f"{w.name}.pcap"] if w.files == 1 else [f"{w.name}-part{i + 1}.pcap" for i in range(w.files)]
    writers = [write_capture(w, data / name, i) for i, name in enumerate(names)]
    info = CaptureInfo(asdict(w), [str(data / n) for n in names], sum(x.bytes for x in writers),
                       sum(x.packets for x in writers), w.flows, sum(x.payload_bytes for x in writers),
                       round(time.perf_counter() - start, 2))
    meta.write_text(json.dumps(asdict(info), indent=1))
    return info


def bench_dir() -> Path:
    return Path(os.environ.get("FTF_BENCH_DIR", "/var/tmp/forensics-tcpflow-bench"))


def capture_input(info: CaptureInfo) -> str:
    """What to hand the tools: the file, or the folder of a split workload."""
    return info.paths[0] if len(info.paths) == 1 else str(Path(info.paths[0]).parent)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", action="append", choices=sorted(WORKLOADS), help="default: all")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the flow count (4: the 4 GB variant)")
    ap.add_argument("--quick", action="store_true", help=f"scale {QUICK_SCALE} (development)")
    ap.add_argument("--dir", type=Path, default=bench_dir(), help="where captures live ($FTF_BENCH_DIR)")
    args = ap.parse_args(argv)
    scale = args.scale * (QUICK_SCALE if args.quick else 1.0)
    for name in args.workload or sorted(WORKLOADS):
        info = generate(WORKLOADS[name].scaled(scale), args.dir)
        print(f"{name}: {capture_input(info)} {info.bytes / 1e6:.1f} MB, {info.packets} packets, "
              f"{info.flows} flows, generated in {info.seconds} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
