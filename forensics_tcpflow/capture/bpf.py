"""tcpdump filter expressions, compiled by libpcap (through pcapy) once per link type.

The program runs on the packet bytes exactly as captured, link header included,
so `vlan`, `mpls` and friends mean what they mean in tcpdump.
"""

from __future__ import annotations

import pcapy

from .record import Record
from ..errors import InputError, UsageError

ETHERNET = 1
SNAPLEN = 262144
# libpcap compiles for DLT values; capture files hold LINKTYPE values, which
# differ for these few (libpcap's linktype_to_dlt, Linux numbering).
LINKTYPE_TO_DLT = {100: 11, 101: 12, 102: 15, 103: 16, 106: 19}


class PacketFilter:
    """A tcpdump expression; a bad one raises ValueError at construction."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self._programs: dict[int, pcapy.BPFProgram] = {}
        try:
            self._compile(ETHERNET)
        except pcapy.PcapError as exc:
            raise UsageError(f"bad filter expression {expr!r}: {exc}") from None

    def _compile(self, linktype: int) -> pcapy.BPFProgram:
        program = pcapy.compile(LINKTYPE_TO_DLT.get(linktype, linktype), SNAPLEN, self.expr, 1, 0)
        self._programs[linktype] = program
        return program

    def _program(self, linktype: int) -> pcapy.BPFProgram:
        try:
            return self._compile(linktype)
        except pcapy.PcapError as exc:
            raise InputError(f"filter {self.expr!r} cannot be compiled for link type {linktype}: {exc}") from None

    def __reduce__(self) -> tuple[type[PacketFilter], tuple[str]]:
        """Pickle as the expression: compiled programs cannot cross to worker processes."""
        return PacketFilter, (self.expr,)

    def matches(self, record: Record) -> bool:
        program = self._programs.get(record.linktype) or self._program(record.linktype)
        return program.filter(record.data) != 0
