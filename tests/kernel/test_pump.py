"""The kernel gives exactly what the general path gives, and the compiled kernel what its twin
gives: same flow files, same report.

Run on every corpus capture and every sample: captures the kernel walks whole,
ones it hands over to the general reader part-way (a later section, a damaged
record), and ones it declines (compressed, modified pcap).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import normalized_report, tree
from conftest import CORPUS, require_corpus
from forensics_tcpflow import engine
from forensics_tcpflow.kernel import pump, pure
from forensics_tcpflow.cli import main
from forensics_tcpflow.kernel.header import kernel_header

SAMPLES = Path(__file__).resolve().parents[2] / "sample_pcaps"
CAPTURES = sorted(p for p in CORPUS.glob("*") if p.suffix != ".tsv" and p.suffix != ".md") + \
    sorted(p for p in SAMPLES.glob("*.pcap*"))


def outcome(capture: Path, out: Path) -> tuple[int, dict[str, bytes], bytes]:
    rc = main([str(capture), "-o", str(out), "-q", "-j", "1"])
    return rc, tree(out), normalized_report(out / "report.xml")


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_fast_and_general_paths_agree(capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_corpus()
    fast = outcome(capture, tmp_path / "fast")
    monkeypatch.setattr(engine, "kernel_header", lambda path: None)
    general = outcome(capture, tmp_path / "general")
    assert fast == general


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_compiled_kernel_and_twin_agree(capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole runs, not only events (tests/kernel/test_kernel.py): the same flow files and report."""
    require_corpus()
    compiled = outcome(capture, tmp_path / "compiled")
    monkeypatch.setattr(pump, "Kernel", pure.Kernel)
    assert outcome(capture, tmp_path / "twin") == compiled


def test_fast_path_takes_plain_pcap_and_pcapng() -> None:
    require_corpus()
    assert kernel_header((CORPUS / "zeek__http_get.pcap").read_bytes()[:65536]).format == "pcap"
    assert kernel_header((CORPUS / "zeek__tcp_http-on-irc-port-missing-syn.pcapng").read_bytes()[:65536]).format == "pcapng"
    assert kernel_header((SAMPLES / "http.pcap.gz").read_bytes()[:65536]) is None          # compressed: the general reader
    sll2 = kernel_header((CORPUS / "suricata__decode-sll2-01_input.pcap").read_bytes()[:65536])
    assert sll2.linktypes == (276,)          # walked by the kernel, each record decoded by the general decoder
    several = kernel_header((CORPUS / "pcapplusplus__many_interfaces-1.pcapng").read_bytes()[:65536])
    assert several is not None and len(several.interfaces) > 1
