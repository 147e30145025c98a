"""IP fragment reassembly: the Defragmenter alone (with property tests) and through the Decoder."""

from __future__ import annotations

import random
import struct
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.decode.decoder import Decoder
from forensics_tcpflow.decode.defrag import Defragmenter

S = 10**9
SRC, DST = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
SRC6, DST6 = bytes(15) + b"\x01", bytes(15) + b"\x02"
KEY = (SRC, DST, 6, 1)


@dataclass
class Stats:
    counters: Counter = field(default_factory=Counter)
    fragment_overlaps: list = field(default_factory=list)


def defragmenter(**kw) -> Defragmenter:
    return Defragmenter(Stats(), **kw)


# ---- the Defragmenter alone ------------------------------------------------------------------

def test_in_order_and_reversed():
    for order in (1, -1):
        d = defragmenter()
        pieces = [(0, b"01234567", True), (8, b"89abcdef", True), (16, b"XY", False)][::order]
        results = [d.add(KEY, 6, off, data, more, 0) for off, data, more in pieces]
        assert results[:-1] == [None, None] and results[-1] == (6, b"0123456789abcdefXY")
        assert d.pending_bytes == 0 and d.stats.counters["datagrams-reassembled"] == 1


def test_proto_comes_from_the_first_fragment():
    d = defragmenter()
    assert d.add(KEY, 99, 8, b"tail", False, 0) is None
    assert d.add(KEY, 44, 0, b"headhead", True, 0) == (44, b"headheadtail")


@pytest.mark.parametrize("policy, expected", [("first", b"GOODGOOD"), ("last", b"GOODEVIL")])
def test_conflicting_overlap_follows_policy_and_is_recorded(policy, expected):
    d = defragmenter(overlap=policy)
    d.add(KEY, 6, 0, b"GOODGOOD", True, 0)
    d.add(KEY, 6, 4, b"EVIL", True, 0)
    assert d.add(KEY, 6, 8, b"!", False, 0) == (6, expected + b"!")
    assert d.stats.fragment_overlaps == [("10.0.0.1>10.0.0.2 proto 6 id 1", 4, 4, policy)]
    assert d.stats.counters["fragment-overlap-conflicts"] == 1


def test_identical_overlap_is_not_a_conflict():
    d = defragmenter()
    d.add(KEY, 6, 0, b"abcdefgh", True, 0)
    d.add(KEY, 6, 0, b"abcdefgh", True, 0)
    assert d.add(KEY, 6, 4, b"efghij", False, 0) == (6, b"abcdefghij")
    assert d.stats.fragment_overlaps == [] and d.stats.counters["fragment-overlaps"] == 2


def test_interleaved_datagrams():
    d = defragmenter()
    other = (SRC, DST, 6, 2)
    assert d.add(KEY, 6, 0, b"aaaaaaaa", True, 0) is None
    assert d.add(other, 6, 8, b"B", False, 0) is None
    assert d.add(other, 6, 0, b"bbbbbbbb", True, 0) == (6, b"bbbbbbbbB")
    assert d.add(KEY, 6, 8, b"A", False, 0) == (6, b"aaaaaaaaA")


def test_timeout_in_capture_time_counts_incomplete():
    d = defragmenter(timeout_ns=60 * S)
    d.add(KEY, 6, 0, b"aaaaaaaa", True, 0)
    assert d.add(KEY, 6, 8, b"late", False, 61 * S) is None     # the old part expired first
    assert d.stats.counters["datagrams-incomplete"] == 1
    assert d.stats.counters["datagrams-timed-out"] == 1
    d.add((SRC, DST, 6, 3), 6, 0, b"x" * 8, True, 200 * S)      # expires the late tail too
    assert d.stats.counters["datagrams-timed-out"] == 2


def test_memory_bound_evicts_oldest():
    d = defragmenter(memory=100)
    d.add((SRC, DST, 6, 1), 6, 0, bytes(60), True, 0)
    d.add((SRC, DST, 6, 2), 6, 0, bytes(60), True, 1)
    assert d.stats.counters["datagrams-evicted"] == 1 and d.pending_bytes == 60
    assert d.add((SRC, DST, 6, 2), 6, 60, b"end", False, 2) == (6, bytes(60) + b"end")
    assert d.add((SRC, DST, 6, 1), 6, 60, b"end", False, 2) is None   # its head is gone


def test_flush_counts_unfinished():
    d = defragmenter()
    d.add(KEY, 6, 8, b"tail", False, 0)
    d.flush()
    assert d.stats.counters["datagrams-incomplete"] == 1 and d.pending_bytes == 0


@pytest.mark.parametrize("pieces", [
    [(8, b"x" * 16, False), (16, b"y" * 16, True)],         # more data past the declared end
    [(16, b"y" * 16, True), (8, b"x" * 16, False)],         # a last fragment before data beyond it
    [(8, b"x" * 16, False), (16, b"y" * 16, False)],        # two different ends
])
def test_inconsistent_ends_are_dropped(pieces):
    d = defragmenter()
    for off, data, more in pieces:
        assert d.add(KEY, 6, off, data, more, 0) is None
    assert d.stats.counters["fragments-inconsistent"] == 1


def test_bad_policy_rejected():
    with pytest.raises(ValueError):
        defragmenter(overlap="middle")


@st.composite
def fragment_sets(draw, conflicting: bool = False):
    data = draw(st.binary(min_size=1, max_size=600))
    cuts = sorted(draw(st.sets(st.integers(1, len(data) - 1), max_size=12))) if len(data) > 1 else []
    bounds = [0, *cuts, len(data)]
    pieces = [(a, data[a:b]) for a, b in zip(bounds, bounds[1:])]
    for _ in range(draw(st.integers(0, 6))):            # duplicates and overlapping extras
        a = draw(st.integers(0, len(data) - 1))
        b = draw(st.integers(a + 1, len(data)))
        chunk = data[a:b]
        if conflicting and draw(st.booleans()):
            chunk = bytes(x ^ 0xFF for x in chunk)
        pieces.append((a, chunk))
    order = draw(st.permutations(range(len(pieces))))
    return data, [pieces[i] for i in order]


def feed(d: Defragmenter, total: int, pieces) -> tuple[bytes | None, list]:
    for n, (off, chunk) in enumerate(pieces):
        done = d.add(KEY, 6, off, chunk, off + len(chunk) < total, 0)
        if done is not None:
            return done[1], pieces[:n + 1]
    return None, pieces


@settings(max_examples=150, deadline=None)
@given(fragment_sets())
def test_any_cut_shuffled_duplicated_is_rebuilt_exactly(case):
    data, pieces = case
    d = defragmenter()
    rebuilt, _ = feed(d, len(data), pieces)
    assert rebuilt == data
    assert d.stats.fragment_overlaps == []


@settings(max_examples=150, deadline=None)
@given(fragment_sets(conflicting=True), st.sampled_from(["first", "last"]))
def test_conflicting_overlaps_follow_the_policy(case, policy):
    data, pieces = case
    d = defragmenter(overlap=policy)
    rebuilt, used = feed(d, len(data), pieces)
    assert rebuilt is not None
    expected, seen, conflict = bytearray(len(data)), [False] * len(data), False
    for off, chunk in used:
        for pos, byte in enumerate(chunk, off):
            conflict |= seen[pos] and expected[pos] != byte
            if policy == "last" or not seen[pos]:
                expected[pos] = byte
            seen[pos] = True
    assert rebuilt == bytes(expected)
    assert conflict == bool(d.stats.fragment_overlaps)
    assert all(kept == policy for *_, kept in d.stats.fragment_overlaps)


@settings(max_examples=50, deadline=None)
@given(fragment_sets())
def test_a_missing_piece_never_completes(case):
    data, pieces = case
    if len(data) < 2:
        return
    hole = random.Random(len(pieces)).randrange(len(data))
    d = defragmenter()
    kept = [(o, c) for o, c in pieces if not o <= hole < o + len(c)]
    assert feed(d, len(data), kept)[0] is None
    d.flush()
    assert d.stats.counters["datagrams-incomplete"] == (1 if kept else 0)


# ---- through the Decoder ---------------------------------------------------------------------

def tcp(payload: bytes, sport: int = 1025) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, 80, 1, 0, 0x50, 0x18, 512, 0, 0) + payload


def ip4_fragments(body: bytes, cuts: list[int], proto: int = 6, ident: int = 0x1234) -> list[bytes]:
    bounds = [0, *cuts, len(body)]
    out = []
    for a, b in zip(bounds, bounds[1:]):
        frag = (a >> 3) | (0x2000 if b < len(body) else 0)
        out.append(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + b - a, ident, frag, 64, proto, 0,
                               SRC, DST) + body[a:b])
    return out


def ip6_fragments(body: bytes, cuts: list[int], nh: int = 6, ident: int = 0xABCDEF) -> list[bytes]:
    bounds = [0, *cuts, len(body)]
    out = []
    for a, b in zip(bounds, bounds[1:]):
        fh = struct.pack("!BxHI", nh, a | (1 if b < len(body) else 0), ident)
        out.append(struct.pack("!IHBB16s16s", 6 << 28, 8 + b - a, 44, 64, SRC6, DST6) + fh + body[a:b])
    return out


def run(frames: list[bytes], linktype: int = 1, dec: Decoder | None = None) -> tuple[list, Decoder]:
    dec = dec or Decoder()
    segs = []
    for n, frame in enumerate(frames, 1):
        segs += dec.decode(Record(n, linktype, n * S, len(frame), len(frame), frame, 0))
    return segs, dec


ETH = bytes(6) + bytes(5) + b"\x01"


def test_tiny_first_fragment_splitting_tcp_header_out_of_order():
    body = tcp(b"A" * 40)
    frames = [ETH + b"\x08\x00" + f + bytes(6) for f in ip4_fragments(body, [8, 16, 32])]
    [seg], dec = run([frames[2], frames[0], frames[3], frames[1]])
    assert seg.payload == b"A" * 40 and seg.reassembled and seg.frame == 4 and seg.ts_ns == 4 * S
    assert dec.stats.counters["fragments"] == 4 and dec.stats.counters["datagrams-reassembled"] == 1
    assert dec.stats.undecodable == 0


def test_ipv6_fragments_with_a_later_extension_header():
    body = struct.pack("!BB6x", 6, 0) + tcp(b"six" * 20)        # destination options after fragment
    frames = [ETH + b"\x86\xdd" + f for f in ip6_fragments(body, [16, 48], nh=60)]
    [seg], _ = run(frames[::-1])
    assert seg.family == 6 and seg.payload == b"six" * 20 and seg.reassembled


def test_fragmented_gre_rebuilt_and_decapsulated():
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 20 + 30, 0, 0, 64, 6, 0, SRC, DST) + tcp(b"g" * 30)
    frames = [ETH + b"\x08\x00" + f for f in ip4_fragments(b"\x00\x00\x08\x00" + inner, [24], proto=47)]
    [seg], dec = run(frames)
    assert seg.payload == b"g" * 30 and seg.reassembled and dec.stats.counters["tunnel:gre"] == 1


ENCAPSULATIONS = {
    "vlan": (1, ETH + b"\x81\x00\x00\x0a\x08\x00"),
    "qinq": (1, ETH + b"\x88\xa8\x00\x0a\x81\x00\x00\x0b\x08\x00"),
    "mpls": (1, ETH + b"\x88\x47\x00\x01\x01\x40"),
    "sll": (113, bytes(14) + b"\x08\x00"),
    "raw": (101, b""),
    "null": (0, b"\x02\x00\x00\x00"),
    "ppp": (9, b"\xff\x03\x00\x21"),
}


@pytest.mark.parametrize("name", sorted(ENCAPSULATIONS))
def test_fragments_under_every_encapsulation(name):
    linktype, prefix = ENCAPSULATIONS[name]
    [seg], _ = run([prefix + f for f in ip4_fragments(tcp(b"z" * 50), [16, 40])], linktype)
    assert seg.payload == b"z" * 50 and seg.reassembled


def test_fragments_inside_pppoe_and_vxlan():
    frags = ip4_fragments(tcp(b"p" * 50), [32])
    pppoe = [ETH + b"\x88\x64" + struct.pack("!BBHH", 0x11, 0, 1, len(f) + 2) + b"\x00\x21" + f
             for f in frags]
    [seg], _ = run(pppoe)
    assert seg.payload == b"p" * 50
    vxlan = []
    for f in frags:
        inner = ETH + b"\x08\x00" + f
        udp = struct.pack("!HHHH", 999, 4789, 16 + len(inner), 0) + struct.pack("!II", 0x08000000, 0)
        outer = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(inner), 0, 0, 64, 17, 0,
                            b"\x01\x01\x01\x01", b"\x02\x02\x02\x02")
        vxlan.append(ETH + b"\x81\x00\x00\x07\x08\x00" + outer + udp + inner)
    [seg], _ = run(vxlan)
    assert seg.payload == b"p" * 50 and seg.vlans == (7,)


def test_truncated_fragment_and_unfinished_datagram():
    frags = [ETH + b"\x08\x00" + f for f in ip4_fragments(tcp(b"q" * 50), [32])]
    segs, dec = run([frags[0][:-5], frags[1]])
    dec.flush()
    assert segs == [] and dec.stats.counters["truncated-fragment"] == 1
    assert dec.stats.counters["datagrams-incomplete"] == 1


@pytest.mark.parametrize("policy, expected", [("first", b"GOOD" * 4), ("last", b"GOODEVILEVILEVIL")])
def test_decoder_overlap_policy_and_conflict_record(policy, expected):
    good = ip4_fragments(tcp(b"GOOD" * 4), [24])
    evil = ip4_fragments(tcp(b"EVIL" * 4), [24])[1]
    frames = [ETH + b"\x08\x00" + f for f in (good[1], evil, good[0])]
    [seg], dec = run(frames, dec=Decoder(overlap=policy))
    assert seg.payload == expected
    assert dec.stats.fragment_overlaps == [("10.0.0.1>10.0.0.2 proto 6 id 4660", 24, 12, policy)]
