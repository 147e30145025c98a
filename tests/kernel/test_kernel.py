"""The compiled kernel and its twin are one kernel: the same events, parses and batches, record by
record, on every corpus capture, every sample, every fuzz seed and a few hundred mutated captures."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import CORPUS, require_corpus
from forensics_tcpflow import kernel
from forensics_tcpflow.kernel import api, pure
from forensics_tcpflow.kernel.header import kernel_header

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.fuzz import mutated_capture, seeds, to_pcap, to_pcapng  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "sample_pcaps"
CAPTURES = sorted(p for p in CORPUS.glob("*") if p.suffix not in (".tsv", ".md")) + sorted(SAMPLES.glob("*.pcap*"))


def compiled() -> type:
    """The compiled kernel; under CI=true its absence is a failure (unless the twin is forced)."""
    try:
        from forensics_tcpflow.kernel._kernel import Kernel
    except ImportError:
        message = "the compiled kernel is not built (pip install . with a C compiler)"
        if os.environ.get("CI") == "true" and os.environ.get("FTF_KERNEL") != "python":
            pytest.fail(message)
        pytest.skip(message)
    return Kernel


def trace(cls: type, data: bytes, chunk: int) -> list[tuple]:
    """Every event `cls` reports over `data` fed in `chunk`-byte reads, driven by a fixed script
    that uses the whole API: bind on a first judgement, take on judgement and sync, unbind on RST,
    foreign on a FIN of an unknown direction, hand everything over at the end."""
    header = kernel_header(data[:65536])
    if header is None:
        return []
    k = cls(api.Settings(header.format == "pcapng", header.big, header.interfaces, header.snaplimit, 1 << 20,
                         sync_bytes=4096, budget=1 << 16))       # small buffers: many hand-overs
    log: list[tuple] = []
    buf, base, read = b"", header.start, header.start
    pos = 0
    while True:
        more = data[read:read + chunk]
        read += len(more)
        buf = buf[pos:] + more
        base += pos
        pos = 0
        while True:
            event = k.run(buf, pos)
            log.append((event, k.pos + base, k.packets, k.truncated,
                        (k.first_ts, k.last_ts) if k.packets else None))
            if event in (api.END, api.READER):
                pos = k.pos
                break
            if event == api.GENERAL:
                log.append((k.interface, k.data, k.end, k.caplen, k.origlen, k.ts))
            elif event == api.SYNC:
                log.append(k.take(k.slot, False))
            elif event == api.JUDGE:
                log.append((k.l3, k.tcp, k.payload, k.ip_end, k.seq, k.flags, k.vlan, k.v4, k.key, k.slot))
                after = (k.seq + k.ip_end - k.payload + (1 if k.flags & 2 else 0)) & 0xFFFFFFFF
                if k.slot >= 0:
                    log.append(k.take(k.slot, True))
                    if k.flags & 4:
                        k.unbind(k.slot)
                    else:
                        k.update(k.slot, api.NO_SEQ if k.flags & 1 else after)
                elif k.flags & 1:
                    k.foreign(k.key, k.vlan)
                else:
                    k.bind(k.key, k.vlan, after)
            pos = k.next
        if event == api.READER or not more:
            break
    log.extend(k.take(slot, True) for slot in k.bound())
    return log


def assert_twins(data: bytes | bytearray) -> None:
    fast, data = compiled(), bytes(data)
    for chunk in (1 << 22, 1500):
        assert trace(fast, data, chunk) == trace(pure.Kernel, data, chunk)


def test_one_choice_of_implementation() -> None:
    assert kernel.IMPLEMENTATION in ("compiled", "python")
    if os.environ.get("FTF_KERNEL") == "python":
        assert kernel.Kernel is pure.Kernel


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_twins_on_every_capture(capture: Path) -> None:
    require_corpus()
    assert_twins(capture.read_bytes())


@pytest.mark.parametrize("name,linktype,frames", seeds(), ids=lambda v: v if isinstance(v, str) else "")
def test_twins_on_every_fuzz_seed(name: str, linktype: int, frames: list) -> None:
    packets = [f.bytes() for f in frames]
    assert_twins(to_pcap(linktype, packets).data)
    assert_twins(to_pcapng(linktype, packets).data)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_twins_on_mutated_captures(rng: random.Random) -> None:
    assert_twins(mutated_capture(rng))
