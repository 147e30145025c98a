"""Community ID v1 flow hashing, so our flows join Zeek/Suricata/Arkime records by one string."""

from __future__ import annotations

import base64
import hashlib
import struct

_ADDRESS_BYTES = {4: 4, 6: 16}
_TAIL = struct.Struct("!BxHH")  # proto, one padding byte, sport, dport


def community_id(family: int, src: bytes, dst: bytes, sport: int, dport: int,
                 proto: int = 6, seed: int = 0) -> str:
    """Community ID v1 of a port-carrying flow (TCP/UDP/SCTP): both directions give the same ID.

    The endpoint whose (address, port) is numerically smaller goes first, so the
    hash does not depend on which side we saw first.
    """
    size = _ADDRESS_BYTES.get(family)
    if size is None or len(src) != size or len(dst) != size:
        raise ValueError(f"community_id: addresses must be {size or '4 or 16'} bytes for family {family}")
    if (dst, dport) < (src, sport):
        src, dst, sport, dport = dst, src, dport, sport
    digest = hashlib.sha1(struct.pack("!H", seed) + src + dst + _TAIL.pack(proto, sport, dport)).digest()
    return "1:" + base64.b64encode(digest).decode("ascii")
