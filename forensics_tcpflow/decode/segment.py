"""The unit the decoding stage hands to the flow table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..capture.record import Record


@dataclass(slots=True)
class Segment:
    """A TCP segment, decoded down through every link layer and tunnel.

    Addresses are packed (4 or 16 bytes). `payload` holds only the TCP data
    inside the IP length (never link padding); `missing` counts payload bytes
    the IP/TCP headers declare but the snaplen cut off, so they can be recorded
    as truncated ranges rather than silently lost.
    """

    family: int                 # 4 or 6
    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    frame: int
    ts_ns: int
    vlans: tuple[int, ...] = ()
    mac_src: bytes | None = None
    mac_dst: bytes | None = None
    missing: int = 0
    reassembled: bool = False   # rebuilt from IP fragments
    wire_len: int = 0           # the frame's original length (tcpflow's `len`)
    cap_len: int = 0            # the frame's captured length (tcpflow's `caplen`)
    facts: dict[str, str] | None = None   # link-layer facts for the report (pflog rule, NFLOG prefix)

    protocol: ClassVar[str] = "tcp"       # names the flow (%P) and keeps per-direction taps apart from UDP's


@dataclass(slots=True)
class Datagram(Segment):
    """A UDP datagram (--udp), decoded as a Segment is, not one of a tunnel we decapsulate:
    no sequence numbers or flags (0). `payload` is the UDP data inside the UDP length,
    `missing` the bytes of it the snaplen cut off; `record` the packet it came in, for
    the per-packet taps (-K)."""

    record: Record | None = None

    protocol: ClassVar[str] = "udp"


TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_PSH = 0x08
TH_ACK = 0x10
TH_URG = 0x20
