"""Aruba GRE: the access point's 802.11 frames tunnelled to its controller.

Wireshark registers the GRE protocol types 0x8200 to 0x8370 in steps of 0x10 and hands
every one of them to its plain 802.11 dissector (no FCS, no Aruba header); so do we. Other
types of the block Aruba uses (0x8200-0x83FF) inside a tunnel are not documented anywhere
we could read: their packets are counted by type as undecodable (`aruba:type-0x8205`) and
warned about, never passed off as "not TCP". Outside a tunnel they stay unknown ethertypes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .dispatch import ETHERTYPES, LayerHandler, register
from .segment import Segment
from .wireless import ieee80211

if TYPE_CHECKING:
    from .decoder import Decoder

WLAN_TYPES = range(0x8200, 0x8380, 0x10)      # Wireshark's GRE_ARUBA_8200 ... GRE_ARUBA_8370
BLOCK = range(0x8200, 0x8400)
UNREADABLE = "aruba:type-"                    # + the type in hex: a counter the run warns about


@register(ETHERTYPES, *WLAN_TYPES)
def aruba(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """A bare 802.11 frame (no FCS) from the access point: data, QoS data, A-MSDU."""
    dec.counters["tunnel:aruba"] += 1
    return ieee80211(dec, buf, off, end)


def _unreadable(proto: int) -> LayerHandler:
    reason = f"{UNREADABLE}0x{proto:04x}"

    def handler(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
        if not dec.tunnelled:
            return dec.skip(f"ethertype:0x{proto:04x}")
        return dec.fail(reason)
    return handler


for _proto in BLOCK:
    if _proto not in WLAN_TYPES:
        register(ETHERTYPES, _proto)(_unreadable(_proto))
