"""Packets from a network interface (libpcap through pcapy-ng), as `Record`s like a file's.

The handle is non-blocking and waited on with select() for at most POLL_SECONDS,
so a quiet interface never keeps the run from seeing its stop flag, its end
time or its idle connections (libpcap's own read timeout does not bound a
blocking read on Linux' TPACKET_V3).
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import pcapy

from .bpf import LINKTYPE_TO_DLT
from .record import CaptureError, Record

POLL_NS = 200_000_000
POLL_SECONDS = POLL_NS / 1e9
# The kernel's ring for this handle: libpcap's default (2 MB) holds only some 30 loopback packets of
# 64 KB, so a fast transfer on lo loses most of them before the first read.
BUFFER_BYTES = 32 << 20
# pcap_activate()'s errors (pcap/pcap.h); pcapy-ng returns the code instead of raising.
ACTIVATE_ERRORS = {
    -1: "capture error", -3: "capture handle not activated", -4: "already activated",
    -5: "no such device", -6: "monitor mode not supported", -7: "not in monitor mode",
    -8: "permission denied (root or CAP_NET_RAW is needed)", -9: "the interface is not up",
    -10: "the time stamp type cannot be set", -11: "promiscuous mode: permission denied",
    -12: "the time stamp precision is not supported",
}
DLT_TO_LINKTYPE = {dlt: linktype for linktype, dlt in LINKTYPE_TO_DLT.items()}
US = 1000


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """What to open and when to stop, as the command line gave it."""

    interface: str
    snaplen: int = 262144
    promiscuous: bool = True
    bpf: str | None = None
    duration_ns: int = 0          # 0: until stopped
    max_packets: int = 0          # 0: no limit
    save_capture: str | None = None   # --save-capture: keep every packet read as pcapng here
    save_capture_size: int = 0        # bytes per saved file before the next one starts (0: one file)


@dataclass(frozen=True, slots=True)
class PcapStats:
    """libpcap's counters (pcap_stats): what the kernel saw, not what we read."""

    received: int = 0
    dropped: int = 0              # by the kernel: the buffer was full
    interface_dropped: int = 0    # by the interface or its driver


class LiveCapture:
    """An open interface; iterate it once. The iteration ends normally on `stop()`, at the
    end of the duration or after the packet count; a capture error raises CaptureError."""

    def __init__(self, settings: LiveSettings, stop: Callable[[], bool],
                 idle: Callable[[int], None] = lambda now_ns: None,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        """`idle(now_ns)` runs every POLL_SECONDS, packets or not, so the caller can close idle
        connections and show progress on a quiet interface too."""
        self.settings = settings
        self.label = settings.interface
        self._stop, self._idle, self._clock = stop, idle, clock_ns
        self._handle = _activate(settings)
        try:
            if settings.bpf:
                self._handle.setfilter(settings.bpf)
            self._handle.setnonblock(1)
        except pcapy.PcapError as exc:
            self._handle.close()
            raise CaptureError(settings.interface, f"cannot capture with filter {settings.bpf!r}: {exc}") from None
        dlt = self._handle.datalink()
        self.linktype = DLT_TO_LINKTYPE.get(dlt, dlt)
        self.start_ns = clock_ns()
        self.end_ns = self.start_ns
        self.stats = PcapStats()
        self.bytes = 0                # captured bytes read so far

    def __iter__(self) -> Iterator[Record]:
        handle, settings, clock = self._handle, self.settings, self._clock
        deadline = self.start_ns + settings.duration_ns if settings.duration_ns else None
        fd = handle.getfd()
        frame = 0
        next_idle = clock() + POLL_NS
        try:
            while not self._stop() and not (settings.max_packets and frame >= settings.max_packets):
                now = clock()
                if deadline is not None and now >= deadline:
                    break
                if now >= next_idle:
                    self._idle(now)
                    next_idle = now + POLL_NS
                header, data = self._next(handle)
                if header is None:
                    wait = POLL_SECONDS if deadline is None else min(POLL_SECONDS, max(0, deadline - now) / 1e9)
                    select.select([fd], [], [], wait)
                    continue
                frame += 1
                self.bytes += len(data)
                seconds, micros = header.getts()
                yield Record(frame, self.linktype, seconds * 1_000_000_000 + micros * US, header.getcaplen(),
                             header.getlen(), data, 0)      # offset 0: a live packet has no place in a file
        finally:
            self.end_ns = clock()
            self._read_stats()

    def _next(self, handle: Any) -> tuple[Any, bytes]:
        try:
            return handle.next()
        except pcapy.PcapError as exc:
            raise CaptureError(self.label, f"capture failed: {exc}") from None

    def _read_stats(self) -> None:
        try:
            self.stats = PcapStats(*self._handle.stats())
        except pcapy.PcapError:      # the interface is gone: the last counters read stay
            pass

    def poll_stats(self) -> PcapStats:
        """The counters now, for progress while capturing."""
        self._read_stats()
        return self.stats

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _activate(settings: LiveSettings) -> Any:
    """A libpcap handle with our snap length, promiscuity, read timeout and ring size."""
    try:
        handle = pcapy.create(settings.interface)
        handle.set_snaplen(settings.snaplen)
        handle.set_promisc(int(settings.promiscuous))
        handle.set_timeout(int(POLL_SECONDS * 1000))
        handle.set_buffer_size(BUFFER_BYTES)
        status = handle.activate()
    except pcapy.PcapError as exc:
        raise CaptureError(settings.interface, f"cannot capture: {exc}") from None
    if status < 0:
        handle.close()
        reason = ACTIVATE_ERRORS.get(status, f"libpcap error {status}")
        raise CaptureError(settings.interface, f"cannot capture: {reason}")
    return handle
