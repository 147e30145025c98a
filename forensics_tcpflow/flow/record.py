"""What the flow stage reports about one finished connection direction."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class FlowRecord:
    """Every fact the report writers need about one direction of one connection.

    Ranges are (offset, length) in stream bytes from the direction's first
    byte; overlaps add which copy was kept ("first" or "last").
    """

    filename: str                 # relative to the output directory ("" when no file written)
    filesize: int
    hashes: dict[str, str]
    family: int                   # 4 or 6
    src: str                      # printable addresses
    dst: str
    sport: int
    dport: int
    vlans: tuple[int, ...]
    mac_src: str | None
    mac_dst: str | None
    connection_id: int            # shared by both directions of a connection within a capture
    connection_index: int         # the cN number (0 for the first use of the name)
    direction: str                # "client-to-server" | "server-to-client" | "unknown"
    community_id: str
    capture: str                  # source capture path as given
    first_frame: int
    last_frame: int
    first_ts_ns: int
    last_ts_ns: int
    packets: int
    out_of_order: int
    violations: int
    stream_length: int            # bytes of the direction's stream (beyond -b included)
    caplen_short: int             # packets whose capture was cut by the snaplen
    close_reason: str             # "fin" | "rst" | "idle" | "seq-jump" | "end-of-input" | "port-reuse"
    reassembled_datagrams: int = 0
    wire_bytes: int = 0           # frame bytes on the wire (tcpflow's len)
    captured_bytes: int = 0       # frame bytes captured (tcpflow's caplen)
    holes: list[tuple[int, int]] = field(default_factory=list)
    truncated: list[tuple[int, int]] = field(default_factory=list)
    overlaps: list[tuple[int, int, str]] = field(default_factory=list)
    # Only for a direction whose packets came from several captures of a --merge set:
    # (capture, first frame, last frame) per capture, in reading order.
    sources: list[tuple[str, int, int]] = field(default_factory=list)
    # What the link layer says about the direction's first packet: pflog_rule, pflog_action,
    # pflog_direction (a pf firewall log), nflog_prefix (a Linux netfilter log rule).
    link_facts: dict[str, str] = field(default_factory=dict)
    protocol: str = "tcp"         # "tcp" | "udp" (--udp)
    # The direction's byte index (.findx: offset|time|length per segment or datagram), when one was
    # written: always for UDP, with -I for TCP. Relative to the output directory, as `filename`.
    index_filename: str = ""
    index_hashes: dict[str, str] = field(default_factory=dict)
