"""Our fuzzer in the suite: seeded structure-aware mutations never crash, hang or spoil the report."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from forensics_tcpflow.capture.record import CaptureError
from forensics_tcpflow.decode.decoder import Decoder
from capturekit import drain

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fuzz import LAYOUTS, UNHANDLED, VARIANTS, mutated_capture, run_cases, seeds, to_pcap  # noqa: E402


def test_every_seed_reads_cleanly_and_declares_only_known_layers(tmp_path: Path) -> None:
    """Mutations aim at fields the seeds really carry: each seed is a valid capture of TCP traffic."""
    for name, linktype, frames in seeds():
        assert all(layer in LAYOUTS for frame in frames for layer, _ in frame.layers)
        path = tmp_path / f"{name}.pcap"
        path.write_bytes(to_pcap(linktype, [f.bytes() for f in frames]).data)
        records, error = drain(path)
        assert error is None and len(records) == len(frames)
        decoder = Decoder()
        assert sum(len(decoder.decode(r)) for r in records) or name.startswith("frag"), name


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_reader_and_decoder_raise_only_capture_errors(tmp_path: Path, rng: random.Random) -> None:
    path = tmp_path / "case.pcap"
    path.write_bytes(mutated_capture(rng))
    records, error = drain(path)
    assert error is None or isinstance(error, CaptureError)
    decoder = Decoder()
    for record in records:
        decoder.decode(record)
    decoder.flush()


@pytest.mark.parametrize("variant", VARIANTS, ids=" ".join)
def test_the_program_handles_every_mutated_capture(tmp_path: Path, variant: tuple[str, ...]) -> None:
    """100 seeded captures per way of running (general path, the kernel checked against its twin, the
    twin, --merge, other reassembly options) through the real program in a child under a deadline:
    each ends clean or as a handled input error, never an internal error, a hang, an invalid report
    or a kernel whose output is not its twin's."""
    rng = random.Random(VARIANTS.index(variant))
    cases = {f"case{i:07d}.pcap": mutated_capture(rng) for i in range(100)}
    outcomes = run_cases(cases, tmp_path / "work", deadline=60, variant=variant)
    assert len(outcomes) == len(cases)
    assert not {name: o for name, o in outcomes.items() if o in UNHANDLED}
