"""Hand-built run, inputs and flows for the report tests: IPv4/IPv6, VLANs, holes, overlaps, an empty flow."""

from __future__ import annotations

from dataclasses import asdict
from ipaddress import ip_address

from forensics_tcpflow.flow.community_id import community_id
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import Options
from forensics_tcpflow.provenance import InputSummary, ReplayInfo, RunInfo

T0 = 1_700_000_000_007_999_123  # 2023-11-14T22:13:20.007999123Z
MD5 = "0c327805734edd796cdc175cbc961d8c"
SHA256 = "4e09d14b850f11512effc7f881d8e873268a9cefd3fb022ee9f197a94f6431eb"


def make_run(**changes) -> RunInfo:
    run = RunInfo(uuid="6f1c9a52-0000-4000-8000-000000000001", command_line="forensics-tcpflow -r a.pcap -o out",
                  program="forensics-tcpflow", version="0.1.0",
                  libraries={"python": "3.11.7", "dpkt": "1.9.8", "lxml": "6.1.3"},
                  host="vm", user="root", uid=0, os_sysname="Linux", os_release="6.1.0",
                  os_version="#1 SMP", arch="x86_64", start_ns=T0 + 5, end_ns=T0 + 1_000_000_005,
                  options=asdict(make_options("out")), derived={"resolved_by": "test"},
                  replay=ReplayInfo(argv=("-r", "a.pcap", "-o", "out"), cwd="/cases/7", version="0.1.0",
                                    libraries={"python": "3.11.7", "dpkt": "1.9.8", "lxml": "6.1.3"},
                                    platform="Linux-6.1.0-x86_64-with-glibc2.36", implementation="CPython"))
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def make_options(outdir: str, **changes) -> Options:
    return Options(inputs=("captures/a.pcap", "captures/b.pcapng"), outdir=outdir, bpf="tcp port 80",
                   **changes)


def make_inputs() -> list[InputSummary]:
    return [
        InputSummary(path="captures/a.pcap", size=2106, mtime_ns=T0 - 10**12, md5_before=MD5, md5_after=MD5,
                     sha256_before=SHA256, sha256_after=SHA256, format="pcap", linktypes=(1,), packets=24,
                     truncated_packets=1, undecodable_packets=2, filtered_packets=3,
                     first_ts_ns=T0, last_ts_ns=T0 + 6_000_000,
                     counters={"fragments": 4, "datagrams_reassembled": 2, "datagrams_incomplete": 1},
                     fragment_overlaps=[("10.0.0.3>10.0.0.4 id 7", 8, 16, "first")], output_dir="a"),
        InputSummary(path="captures/b.pcapng", size=999, mtime_ns=T0, md5_before=MD5, md5_after=MD5[::-1],
                     sha256_before=SHA256, sha256_after=SHA256, format="pcapng", compression="gzip",
                     linktypes=(1, 113), packets=3, error="captures/b.pcapng: truncated block at offset 512",
                     output_dir="b"),
    ]


def make_flow(index: int, capture: str = "captures/a.pcap", **changes) -> FlowRecord:
    """A plausible IPv4 flow direction with a file; `changes` override any field."""
    src, dst = f"10.0.{index // 250}.{index % 250 + 1}", "10.0.0.4"
    fields = dict(filename=f"a/010.000.000.{index % 250 + 1:03d}.40001-010.000.000.004.08080c{index}",
                  filesize=27, hashes={"md5": MD5, "sha256": SHA256}, family=4, src=src, dst=dst,
                  sport=40001, dport=8080, vlans=(), mac_src="66:77:88:99:aa:bb", mac_dst="00:11:22:33:44:55",
                  connection_id=index, connection_index=0, direction="client-to-server",
                  community_id=community_id(4, ip_address(src).packed, ip_address(dst).packed, 40001, 8080),
                  capture=capture, first_frame=index * 3 + 1, last_frame=index * 3 + 3,
                  first_ts_ns=T0 + index * 1000, last_ts_ns=T0 + index * 1000 + 6_000_000, packets=5,
                  out_of_order=1, violations=0, stream_length=27, caplen_short=0, close_reason="fin")
    fields.update(changes)
    return FlowRecord(**fields)


def sample_flows() -> list[FlowRecord]:
    """Five directions, deliberately not in report order."""
    v6s, v6d = "2001:db8::1", "2001:db8::2"
    return [
        make_flow(2, capture="captures/b.pcapng", first_ts_ns=T0),
        make_flow(1, vlans=(100, 42), holes=[(10, 5), (100, 7)], truncated=[(3, 2)],
                  overlaps=[(0, 4, "first"), (20, 3, "first")], reassembled_datagrams=2, caplen_short=1,
                  stream_length=4096, filesize=1024, close_reason="seq-jump", connection_index=1),
        make_flow(0, filename="", filesize=0, hashes={}, direction="server-to-client", packets=1,
                  stream_length=0, mac_src=None, mac_dst=None, close_reason="rst"),
        make_flow(3, family=6, src=v6s, dst=v6d, sport=443, dport=51000, direction="unknown",
                  filename="a/2001:db8::1.00443-2001:db8::2.51000", close_reason="end-of-input",
                  community_id=community_id(6, ip_address(v6s).packed, ip_address(v6d).packed, 443, 51000)),
        make_flow(4, first_ts_ns=T0 + 1000, filename="a/zzz",   # same time as flow 1: filename decides
                  sources=[("captures/a.pcap", 3, 90), ("captures/b.pcapng", 1, 12)]),   # a --merge flow
    ]
