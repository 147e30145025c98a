"""Reading a capture to the end in tests: the records, and the error that stopped it if any."""

from __future__ import annotations

from pathlib import Path

from forensics_tcpflow.capture.reader import open_capture
from forensics_tcpflow.capture.record import CaptureError, Record


def drain(path: Path) -> tuple[list[Record], CaptureError | None]:
    records: list[Record] = []
    try:
        with open_capture(path) as capture:
            records.extend(capture)
    except CaptureError as exc:
        return records, exc
    return records, None


def write_exchange(path: Path, start_s: float, request: bytes, response: bytes, client: bytes = bytes([10, 9, 8, 7]),
                   server: bytes = bytes([10, 9, 8, 6]), sport: int = 40000) -> None:
    """A pcap of one whole TCP connection to port 80 (handshake, one request, one response, both FINs),
    a tenth of a second between packets from `start_s` (seconds since 1970)."""
    import dpkt
    syn, ack, fin = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN
    end_c, end_s = 101 + len(request), 501 + len(response)
    packets = [(client, server, sport, 80, 100, 0, syn, b""), (server, client, 80, sport, 500, 101, syn | ack, b""),
               (client, server, sport, 80, 101, 501, ack, request), (server, client, 80, sport, 501, end_c, ack, response),
               (server, client, 80, sport, end_s, end_c, fin | ack, b""),
               (client, server, sport, 80, end_c, end_s + 1, fin | ack, b"")]
    with path.open("wb") as fh:
        writer = dpkt.pcap.Writer(fh)
        for number, (src, dst, sp, dp, seq, acked, flags, data) in enumerate(packets):
            tcp = dpkt.tcp.TCP(sport=sp, dport=dp, seq=seq, ack=acked, flags=flags, data=data)
            ip = dpkt.ip.IP(src=src, dst=dst, p=dpkt.ip.IP_PROTO_TCP, data=tcp)
            ip.len = len(bytes(ip))
            writer.writepkt(bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)),
                            ts=start_s + number / 10)
