"""Every corpus capture gives a valid report whose facts hold against independent tools.

Validity: the official DFXML schema and ours, each with lxml and xmlschema.
Facts: hashes and sizes against hashlib over the files written; per-direction
packets, payload bytes, first/last frame and time against tshark.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from conftest import CORPUS, corpus_files, require_corpus, require_oracle
from forensics_tcpflow.cli import main
from forensics_tcpflow.report.dfxml import DFXML_NS, FTF_NS
from forensics_tcpflow.report.validate import validate_report
from oracles import TSHARK, norm_addr

DAMAGED = {"suricata__http-mime-truncated_input.pcap", "suricata__bug-1450-04_tls_DER-incomplete-header.pcap"}
D, F = f"{{{DFXML_NS}}}", f"{{{FTF_NS}}}"


def run(capture: Path, out: Path) -> int:
    return main([str(capture), "-o", str(out), "-q", "-j", "1"])


def fileobjects(report: Path) -> list[etree._Element]:
    return list(etree.parse(str(report)).iter(f"{D}fileobject"))


@pytest.mark.parametrize("name", corpus_files() or [None])
def test_report_is_valid_and_hashes_hold(name: str | None, tmp_path: Path) -> None:
    require_corpus()
    out = tmp_path / "out"
    rc = run(CORPUS / name, out)
    assert rc == (1 if name in DAMAGED else 0)
    report = out / "report.xml"
    assert validate_report(report, thorough=True) == []
    for fo in fileobjects(report):
        filename = fo.findtext(f"{D}filename")
        size = int(fo.findtext(f"{D}filesize"))
        if filename is None:
            assert size == 0
            continue
        data = (report.parent / filename).read_bytes()
        assert len(data) == size
        digests = {h.get("type"): h.text for h in fo.iter(f"{D}hashdigest")}
        assert digests == {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


def tshark_directions(capture: Path) -> dict[tuple, dict]:
    """Per direction: packets, TCP payload bytes, first/last frame and time (ns), from tshark."""
    fields = ("ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "frame.number",
              "frame.time_epoch", "tcp.len")
    out = subprocess.run([TSHARK, "-n", "-r", str(capture), "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
                          *(a for f in fields for a in ("-e", f))], capture_output=True, text=True, check=True).stdout
    found: dict[tuple, dict] = defaultdict(lambda: {"packets": 0, "bytes": 0, "first": None, "last": None})
    for line in out.splitlines():
        ip_s, ip_d, ip6_s, ip6_d, sport, dport, frame, epoch, length = line.split("\t")
        key = (norm_addr(ip_s or ip6_s), int(sport), norm_addr(ip_d or ip6_d), int(dport))
        d = found[key]
        d["packets"] += 1
        d["bytes"] += int(length)
        ns = int(Decimal(epoch) * 10**9)
        d["first"] = d["first"] or (int(frame), ns)
        d["last"] = (int(frame), ns)
    return dict(found)


def iso_ns(text: str) -> int:
    from datetime import datetime, timezone
    whole, frac = text.rstrip("Z").split(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 10**9 + int(frac)


# captures with one connection per 4-tuple and no retransmitted payload
FACT_CAPTURES = ["zeek__http_get.pcap", "tcpflow__test-gzip.pcap", "pcapplusplus__three_http_streams.pcap",
                 "pcapplusplus__four_ipv6_http_streams.pcap", "zeek__http-qinq-0.pcap", "tcpdump__resp_1_benchmark.pcap"]


@pytest.mark.parametrize("name", FACT_CAPTURES)
def test_report_facts_match_tshark(name: str, tmp_path: Path) -> None:
    require_corpus()
    require_oracle(TSHARK)
    out = tmp_path / "out"
    assert run(CORPUS / name, out) == 0
    truth = tshark_directions(CORPUS / name)
    seen = 0
    for fo in fileobjects(out / "report.xml"):
        flow = fo.find(f"{F}flow")
        key = (norm_addr(flow.get("src_ipn")), int(flow.get("srcport")), norm_addr(flow.get("dst_ipn")),
               int(flow.get("dstport")))
        t = truth[key]
        assert int(flow.get("packets")) == t["packets"], key
        assert int(fo.findtext(f"{D}filesize")) == t["bytes"], key
        assert (int(flow.get("first_frame")), iso_ns(flow.get("startime"))) == t["first"], key
        assert (int(flow.get("last_frame")), iso_ns(flow.get("endtime"))) == t["last"], key
        seen += 1
    assert seen == len(truth)
