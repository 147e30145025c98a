"""`-e wifiviz` (part of -a, as in tcpflow): the SSIDs the access points announced.

The decoder counts every beacon and probe response it reads (radiotap, Prism, PPI, bare
802.11, Aruba GRE) by BSSID and SSID per capture; this scanner adds the captures' tables up
for the report, where tcpflow writes its `<summary><ssids><ssid mac= ssid= count=>`: ours is
`<ftf:ssids>` after the flow totals, `count` the beacons as tcpflow counts them (it ignores
probe responses) and `probe_responses` beside it. tcpflow checks an FCS on every frame,
also on frames captured without one, and so drops them; we check it where the radio header
says there is one (-S check_fcs).
"""

from __future__ import annotations

from typing import ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.provenance import merge_ssids
from forensics_tcpflow.scan.registry import ScanContext, ScanResults, register


@register
class WifivizScanner:
    """Reads no flow: the tables come with the inputs' summaries."""

    name: ClassVar[str] = "wifiviz"

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx

    def add(self, rec: FlowRecord) -> None:
        pass

    def finish(self, results: ScanResults) -> None:
        results.ssids = merge_ssids(*(inp.ssids for inp in self._ctx.inputs))


def ssid_text(ssid_hex: str) -> str:
    """The SSID as tcpflow shows it: up to the first NUL, as text (bytes that are not UTF-8 escaped)."""
    return bytes.fromhex(ssid_hex).split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
