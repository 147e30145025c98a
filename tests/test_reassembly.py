"""Reassembly rules, one crafted conversation each."""

from __future__ import annotations

import hashlib

import pytest

from flowkit import ACK, CLIENT, FIN, RST, SERVER, SYN, Wire


def handshake(w: Wire, cisn: int = 1000, sisn: int = 5000) -> None:
    w.c(cisn, flags=SYN)
    w.s(sisn, flags=SYN | ACK)
    w.c(cisn + 1)


def test_in_order_stream_and_hashes(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"GET / HTTP/1.0\r\n\r\n")
    w.s(5001, b"HTTP/1.0 200 OK\r\n\r\nhello")
    w.c(1019, flags=FIN | ACK)
    w.s(5025, flags=FIN | ACK)
    recs = w.close()
    assert w.read(CLIENT) == b"GET / HTTP/1.0\r\n\r\n"
    assert w.read(SERVER) == b"HTTP/1.0 200 OK\r\n\r\nhello"
    rec = recs[CLIENT]
    assert rec.hashes["md5"] == hashlib.md5(w.read(CLIENT)).hexdigest()
    assert rec.hashes["sha256"] == hashlib.sha256(w.read(CLIENT)).hexdigest()
    assert rec.direction == "client-to-server" and recs[SERVER].direction == "server-to-client"
    assert rec.connection_id == recs[SERVER].connection_id
    assert rec.close_reason == "fin" and rec.holes == [] and rec.overlaps == []
    assert rec.packets == 4  # SYN, ACK, data, FIN


def test_out_of_order_and_retransmission(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1006, b"world")
    w.c(1001, b"hello")
    w.c(1001, b"hello")   # retransmission: identical, no conflict
    recs = w.close()
    assert w.read(CLIENT) == b"helloworld"
    assert recs[CLIENT].out_of_order >= 1 and recs[CLIENT].overlaps == []


@pytest.mark.parametrize("policy,expected,kept", [("first", b"GOODtail", "first"), ("last", b"EVILtail", "last")])
def test_conflicting_overlap_policy(tmp_path, policy, expected, kept):
    w = Wire(tmp_path, overlap=policy)
    handshake(w)
    w.c(1001, b"GOOD")
    w.c(1001, b"EVIL")
    w.c(1005, b"tail")
    recs = w.close()
    assert w.read(CLIENT) == expected
    assert recs[CLIENT].overlaps == [(0, 4, kept)]
    assert recs[CLIENT].hashes["md5"] == hashlib.md5(expected).hexdigest()


@pytest.mark.parametrize("policy,expected", [("first", b"abcXYZ"), ("last", b"abcDEF")])
def test_overlap_between_buffered_segments(tmp_path, policy, expected):
    w = Wire(tmp_path, overlap=policy)
    handshake(w)
    w.c(1004, b"XYZ")      # out of order, buffered
    w.c(1004, b"DEF")      # conflicts with the buffered copy
    w.c(1001, b"abc")
    recs = w.close()
    assert w.read(CLIENT) == expected
    assert len(recs[CLIENT].overlaps) == 1


def test_hole_is_zero_filled_and_recorded(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"abc")
    w.c(1010, b"xyz")
    recs = w.close()
    assert w.read(CLIENT) == b"abc" + bytes(6) + b"xyz"
    assert recs[CLIENT].holes == [(3, 6)]


def test_sequence_wraparound(tmp_path):
    w = Wire(tmp_path)
    isn = 0xFFFFFFF0
    handshake(w, cisn=isn)
    w.c(isn + 1, b"A" * 10)
    w.c(isn + 11, b"B" * 10)     # crosses 2**32
    w.close()
    assert w.read(CLIENT) == b"A" * 10 + b"B" * 10


def test_data_on_syn(tmp_path):
    w = Wire(tmp_path)
    w.c(1000, b"early", flags=SYN)
    w.c(1006, b"late")
    recs = w.close()
    assert w.read(CLIENT) == b"earlylate"
    assert recs[CLIENT].violations == 1


def test_midstream_data_before_first_byte_lands_in_place(tmp_path):
    w = Wire(tmp_path)
    w.c(2000, b"second")
    w.c(1995, b"first")     # arrives later, belongs earlier
    recs = w.close()
    assert w.read(CLIENT) == b"firstsecond"
    assert recs[CLIENT].holes == []
    assert recs[CLIENT].hashes["md5"] == hashlib.md5(b"firstsecond").hexdigest()


def test_late_syn_after_data_moves_origin(tmp_path):
    w = Wire(tmp_path)
    w.c(1004, b"defg")
    w.c(1000, flags=SYN)          # the SYN was captured last: bytes 1001..1003 never seen
    recs = w.close()
    assert w.read(CLIENT) == bytes(3) + b"defg"
    assert recs[CLIENT].holes == [(0, 3)]


def test_keepalive_is_not_data(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"abc")
    w.c(1003, b"\x00")     # keepalive: one old byte, already delivered
    w.close()
    assert w.read(CLIENT) == b"abc"


def test_fin_waits_for_missing_bytes(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1004, b"def", flags=FIN | ACK)
    w.c(1001, b"abc")
    recs = w.close()
    assert w.read(CLIENT) == b"abcdef"
    assert recs[CLIENT].close_reason == "fin" and recs[CLIENT].holes == []


def test_port_reuse_gets_next_connection_number(tmp_path):
    w = Wire(tmp_path)
    for isn, text in ((1000, b"one"), (90000, b"two")):
        handshake(w, cisn=isn, sisn=isn + 7)
        w.c(isn + 1, text)
        w.c(isn + 4, flags=FIN | ACK)
        w.s(isn + 8, flags=FIN | ACK)
        w.c(isn + 5)             # the last ACK: absorbed, no ghost connection
    recs = w.close()
    assert w.read(CLIENT) == b"one" and w.read(CLIENT + "c1") == b"two"
    assert recs[CLIENT + "c1"].connection_index == 1
    assert len(w.records) == 4    # two directions per connection, nothing else


def test_sequence_jump_starts_new_file(tmp_path):
    w = Wire(tmp_path, max_seek=1000)
    handshake(w)
    w.c(1001, b"abc")
    w.c(1001 + 50_000, b"far")
    recs = w.close()
    assert w.read(CLIENT) == b"abc" and w.read(CLIENT + "c1") == b"far"
    assert recs[CLIENT].close_reason == "seq-jump"


def test_rst_closes_connection(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"abc")
    w.s(5001, flags=RST | ACK)
    recs = w.close()
    assert recs[CLIENT].close_reason == "rst"


def test_data_in_flight_after_rst_continues_its_direction(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"abc")
    w.s(5001, flags=RST | ACK)
    w.c(1004, b"def")          # sent before the RST arrived: the same stream
    w.s(5001, flags=RST)       # the answer to it
    recs = w.close()
    assert w.read(CLIENT) == b"abcdef" and not (tmp_path / (CLIENT + "c1")).exists()
    assert recs[CLIENT].close_reason == "rst" and recs[CLIENT].packets == 4
    assert len(w.records) == 2


@pytest.mark.parametrize("pause, seq", [
    (10, 1004),                # ten seconds later: the reset connection no longer lingers
    (0, 1004 + 50_000),        # a jump beyond -m
])
def test_data_long_after_rst_or_far_away_is_a_new_file(tmp_path, pause, seq):
    w = Wire(tmp_path, max_seek=1000)
    handshake(w)
    w.c(1001, b"abc")
    w.s(5001, flags=RST | ACK)
    w.frame += pause
    w.c(seq, b"def")
    w.close()
    assert w.read(CLIENT) == b"abc" and w.read(CLIENT + "c1") == b"def"


def test_new_syn_after_rst_starts_a_new_connection(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"old")
    w.c(1004, flags=RST)
    handshake(w, cisn=70000, sisn=80000)
    w.c(70001, b"new")
    w.s(80001, b"reply")
    recs = w.close()
    assert w.read(CLIENT) == b"old" and w.read(CLIENT + "c1") == b"new"
    assert w.read(SERVER) == b"reply"      # the server's first file: at its new ISN's offsets, no zeros
    assert recs[CLIENT].close_reason == "rst" and recs[CLIENT + "c1"].connection_index == 1


def test_fin_retransmitted_after_data_retransmissions(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"abc")
    w.c(1004, b"def", flags=FIN | ACK)
    w.c(1001, b"abc")          # stale retransmissions after the FIN ...
    w.c(1004, b"def")
    w.c(1004, b"def", flags=FIN | ACK)   # ... and the FIN again
    w.s(5001, flags=FIN | ACK)
    w.c(1008)
    recs = w.close()
    assert w.read(CLIENT) == b"abcdef" and not (tmp_path / (CLIENT + "c1")).exists()
    assert recs[CLIENT].close_reason == "fin" and len(w.records) == 2


def test_simultaneous_close_with_unacknowledged_data(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"abc")
    w.s(5001, b"xyz")
    w.c(1007, flags=FIN | ACK)           # the client's FIN overtakes its own "def" ...
    w.s(5004, flags=FIN | ACK)           # ... while the server closes too
    w.c(1004, b"def")                    # the unacknowledged bytes arrive last
    w.s(5001, b"xyz")                    # and the server retransmits what was never ACKed
    recs = w.close()
    assert w.read(CLIENT) == b"abcdef" and w.read(SERVER) == b"xyz"
    assert recs[CLIENT].close_reason == "fin" and recs[SERVER].close_reason == "fin"
    assert recs[CLIENT].holes == [] and len(w.records) == 2


def test_payload_at_the_syn_sequence_number_is_not_data(tmp_path):
    w = Wire(tmp_path)
    w.c(1000, flags=SYN)
    w.c(998, b"XYZabc")        # X, Y and Z sit at or before the SYN's own number 1000
    recs = w.close()
    assert w.read(CLIENT) == b"abc" and recs[CLIENT].violations == 1


def test_snaplen_truncated_bytes_are_a_recorded_gap(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"ab", missing=3)     # 5-byte segment, 3 bytes cut by the snaplen
    w.c(1006, b"after")
    recs = w.close()
    assert w.read(CLIENT) == b"ab" + bytes(3) + b"after"
    assert recs[CLIENT].truncated == [(2, 3)] and recs[CLIENT].holes == []
    assert recs[CLIENT].caplen_short == 1


def test_retransmission_fills_truncated_range(tmp_path):
    w = Wire(tmp_path)
    handshake(w)
    w.c(1001, b"ab", missing=3)
    w.c(1001, b"abcde")
    recs = w.close()
    assert w.read(CLIENT) == b"abcde" and recs[CLIENT].truncated == []


def test_max_bytes_cuts_file_not_stream_length(tmp_path):
    w = Wire(tmp_path, max_bytes=4)
    handshake(w)
    w.c(1001, b"abcdefgh")
    recs = w.close()
    assert w.read(CLIENT) == b"abcd"
    assert recs[CLIENT].filesize == 4 and recs[CLIENT].stream_length == 8


def test_vlan_in_name_uses_vlan_id(tmp_path):
    w = Wire(tmp_path)
    w.c(1000, b"x", flags=SYN, vlans=(30, 100))
    w.close()
    assert w.read(CLIENT + "--30") == b"x"


def test_lru_of_descriptors(tmp_path):
    w = Wire(tmp_path, max_fds=2)
    for port in range(2000, 2010):
        w.send(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), port, 80, 1, b"a" * 100, ACK)
    for port in range(2000, 2010):
        w.send(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), port, 80, 101, b"b" * 100, ACK)
    w.close()
    for port in range(2000, 2010):
        assert w.read(f"010.000.000.001.{port:05d}-010.000.000.002.00080") == b"a" * 100 + b"b" * 100


def test_far_earlier_data_on_a_midstream_flow_is_a_violation_not_a_prefix(tmp_path):
    w = Wire(tmp_path, max_seek=1000)
    w.c(100_000, b"here")
    w.c(10_000, b"ancient")     # 90 000 bytes before the first byte seen: not this stream's start
    recs = w.close()
    assert w.read(CLIENT) == b"here" and recs[CLIENT].violations == 1
