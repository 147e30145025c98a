"""Captures through the whole pipeline: reader, decoder, flow table, sink.

The caller provides the sink and the flow-record callback; this module never
decides where bytes or report lines land.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from collections import Counter
from pathlib import Path
from functools import partial
from typing import Callable, Iterable, Iterator, Protocol, Sequence

from .capture.bpf import PacketFilter
from .capture.evidence import HASHES, EvidenceFile, changes, identity, rehash
from .capture.reader import open_capture
from .capture.live import LiveCapture, LiveSettings
from .capture.record import CaptureError, Record
from .capture.savefile import CaptureSaver
from .capture.stdin import STDIN_LABEL, STDIN_PATH, StdinSource
from .decode.decoder import Decoder
from .decode.segment import Segment
from .environment import Progress
from .errors import ForensicsError
from .exitstatus import ExitStatus, status_of
from .flow.naming import build_template
from .flow.record import FlowRecord
from .flow.table import FlowTable
from .options import Options
from .privileges import relinquish
from .provenance import InputSummary, KernelShare, LiveInfo
from .sink import FlowSink
from .sink.files import SinkError
from .kernel import IMPLEMENTATION
from .kernel.header import kernel_header
from .kernel.pump import KernelPump
from .kernel.shard import Shard

PROGRESS_EVERY = 4096          # records between progress callbacks (and stop checks)
EXPIRE_EVERY = 65536           # records between idle-timeout sweeps
NOT_TCP_IP = "ipproto:"        # the decoder's reason for an IP packet without TCP: tcpflow's -w saves those


class Interrupted(Exception):
    """The run was asked to stop (SIGINT/SIGTERM) in the middle of a capture."""


def _never() -> bool:
    return False


class CaptureStep(Protocol):
    """Reads one capture into the run's decoder and flow table; True when `stop` cut it short."""

    def __call__(self, path: str, label: str, options: Options, decoder: Decoder, table: FlowTable,
                 progress: Callable[[Progress], None], packet_filter: PacketFilter | None,
                 stop: Callable[[], bool], shard: Shard) -> tuple[InputSummary, bool]: ...


def process_captures(captures: Sequence[tuple[str, str]], options: Options, sink: FlowSink,
                     emit: Callable[[FlowRecord], None], progress: Callable[[Progress], None],
                     packet_filter: PacketFilter | None = None,
                     stop: Callable[[], bool] = _never, shard: Shard = Shard()) -> tuple[list[InputSummary], bool]:
    """Reassemble every TCP flow of (path, label) captures read as one stream of packets.

    One capture is the usual case; several are a --merge evidence set, given in
    first-packet order, whose connections continue across file boundaries.
    Returns a summary per capture started and whether `stop` cut the work short;
    errors end up in the summaries, never raised.
    """
    with _few_collections():
        return _process(captures, options, sink, emit, progress, packet_filter, stop, shard, _one_capture)


def process_live(options: Options, sink: FlowSink, emit: Callable[[FlowRecord], None],
                 progress: Callable[[Progress], None], stop: Callable[[], bool]) -> list[InputSummary]:
    """Reassemble every TCP flow seen on options.interface until `stop`, the duration or the packet
    count ends the capture: that is how a live capture ends normally, never an interruption."""
    assert options.interface is not None
    settings = LiveSettings(options.interface, options.snaplen, options.promiscuous, options.bpf,
                            options.duration_ns, options.max_packets, options.save_capture,
                            options.save_capture_size)
    with _few_collections():
        summaries, _ = _process([(settings.interface, settings.interface)], options, sink, emit, progress,
                                None, stop, Shard(), partial(_one_live, settings))
    return summaries


@contextmanager
def _few_collections() -> Iterator[None]:
    """Flow state is millions of small long-lived objects without cycles worth chasing:
    the default collector thresholds would rescan them all again and again."""
    saved = gc.get_threshold()
    gc.set_threshold(200_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _process(captures: Sequence[tuple[str, str]], options: Options, sink: FlowSink,
             emit: Callable[[FlowRecord], None], progress: Callable[[Progress], None],
             packet_filter: PacketFilter | None, stop: Callable[[], bool],
             shard: Shard, one_capture: CaptureStep) -> tuple[list[InputSummary], bool]:
    summaries: list[InputSummary] = []
    decoder = Decoder(overlap=options.overlap, frag_timeout_ns=options.frag_timeout_ns,
                      frag_memory=options.frag_memory)
    first_label = captures[0][1] if captures else ""
    table = FlowTable(options, sink, emit, first_label, build_template(options.template, options.fflags),
                      Path(captures[0][0]).name if captures else "")
    if table.udp is not None:      # --udp: the decoder hands each UDP datagram of a flow to the UDP table
        decoder.on_datagram = shard.owned(table.udp.add)
    interrupted = False
    before: Counter[str] = Counter()
    overlaps = 0
    frames = 0
    try:
        for path, label in captures:
            if stop():
                interrupted = True
                break
            table.begin_capture(label, frames, start_new=path not in options.finish_inputs)
            before = decoder.stats.counters + table.counters
            overlaps = len(decoder.stats.fragment_overlaps)
            summary, interrupted = one_capture(path, label, options, decoder, table, progress, packet_filter,
                                                stop, shard)
            frames += summary.packets
            _share(summary, before, overlaps, decoder, table)
            summaries.append(summary)
            if interrupted:
                break
    finally:
        try:
            decoder.flush()
            table.close_all()
        finally:
            sink.close()
    if summaries:  # datagrams and connections still open at the end belong to the last capture read
        _share(summaries[-1], before, overlaps, decoder, table)
    if shard.index:   # every shard decodes every packet: only the first one reports the decoder's counts
        for summary in summaries:
            summary.counters = {k: v for k, v in summary.counters.items() if k in table.counters}
            summary.undecodable_packets = 0
            summary.fragment_overlaps = []
    return summaries, interrupted


def _share(summary: InputSummary, before: Counter[str], overlaps: int, decoder: Decoder, table: FlowTable) -> None:
    """A capture's part of the counters, which run on across the captures of a merged set."""
    mine = decoder.stats.counters + table.counters - before
    summary.counters = dict(sorted(mine.items()))
    summary.undecodable_packets = mine["undecodable"]
    summary.fragment_overlaps = list(decoder.stats.fragment_overlaps[overlaps:])


def _one_capture(path: str, label: str, options: Options, decoder: Decoder, table: FlowTable,
                 progress: Callable[[Progress], None], packet_filter: PacketFilter | None,
                 stop: Callable[[], bool], shard: Shard) -> tuple[InputSummary, bool]:
    """Read the capture once, fingerprinting the bytes read; True when `stop` cut the reading short."""
    stream = path == STDIN_PATH
    summary = InputSummary(path=label, abspath=STDIN_LABEL if stream else os.path.abspath(path), stream=stream)
    interrupted = False
    try:     # the first shard vouches for the file: the others read it without hashing
        source: EvidenceFile | StdinSource = (StdinSource(stop=stop) if stream
                                              else EvidenceFile(path, HASHES if not shard.index else ()))
    except OSError as exc:
        summary.error = f"{label}: cannot read: {exc.strerror or exc}"
        return summary, interrupted
    with source:
        summary.stat_before = source.before
        summary.size, summary.mtime_ns = source.before[:2] if source.before else (0, 0)
        progress(Progress("start-capture", label, summary.size))
        try:
            _pump(source, label, options, decoder, table, summary, progress, packet_filter, stop, shard)
        except CaptureError as exc:
            exc.path = label
            summary.error = str(exc)
        except Interrupted as exc:
            summary.error = f"{label} ({exc}): interrupted before the end of the capture"
            interrupted = True
        except ForensicsError as exc:   # the evidence, the filter or the disk: named, the batch goes on
            summary.error = f"{label}: {exc}"
            summary.internal_error = status_of(exc) == ExitStatus.INTERNAL_ERROR
        except Exception as exc:    # a bug of ours: this capture fails, the others go on, the run exits 3
            summary.error = f"{label}: internal error: {type(exc).__name__}: {exc}"
            summary.internal_error = True
        if not shard.index and not interrupted:
            try:
                digests = source.finish()
                summary.md5_before, summary.sha256_before = digests["md5"], digests["sha256"]
            except OSError as exc:
                summary.error = summary.error or f"{label}: cannot read: {exc.strerror or exc}"
        if stream:
            summary.size = source.size
    if not shard.index and not stream:     # a stream has no identity to compare after the run
        _check_unchanged(path, label, options, summary)
    progress(Progress("end-capture", label, summary.size))
    return summary, interrupted


LIVE_PROGRESS_EVERY = 64     # records between progress callbacks of a live capture


def _one_live(settings: LiveSettings, path: str, label: str, options: Options,
              decoder: Decoder, table: FlowTable, progress: Callable[[Progress], None],
              packet_filter: PacketFilter | None, stop: Callable[[], bool], shard: Shard) -> tuple[InputSummary, bool]:
    """Capture from the interface into the shared per-record loop (the kernel applies the filter);
    a capture error ends the capture with what was read so far kept."""
    summary = InputSummary(path=label, abspath=label, format="live")
    capture: LiveCapture | None = None

    def show(record: Record | None = None) -> None:
        assert capture is not None
        stats = capture.poll_stats()
        progress(Progress("live", label, summary.packets, {
            "packets": summary.packets, "bytes": capture.bytes, "flows": len(table.connections),
            "dropped": stats.dropped + stats.interface_dropped}))

    def idle(now_ns: int) -> None:
        if options.idle_timeout_ns > 0:
            table.expire(now_ns)
        show()

    try:
        capture = LiveCapture(settings, stop, idle)
    except CaptureError as exc:
        summary.error = str(exc)
        return summary, False
    saver: CaptureSaver | None = None
    with capture:
        summary.linktypes = (capture.linktype,)
        try:
            if settings.save_capture:
                saver = CaptureSaver(settings.save_capture, settings.save_capture_size, capture.linktype,
                                     settings.snaplen, settings.interface)
            if options.user:      # what needs root is open: the interface, the saved capture
                relinquish(options.user, options.chroot)
            progress(Progress("start-capture", label, 0))
            _feed(saver.tee(capture) if saver else capture, summary, decoder, table, table.add,
                  options.idle_timeout_ns > 0, None, show, LIVE_PROGRESS_EVERY)
        except CaptureError as exc:
            summary.error = str(exc)
        except SinkError as exc:
            summary.error = f"{label}: {exc}"
        except OSError as exc:
            summary.error = f"{label}: cannot save the capture: {exc.filename or ''} {exc.strerror or exc}"
        finally:
            if saver is not None:
                saver.close()
    stats = capture.stats
    summary.size = capture.bytes          # what a live input amounts to: the bytes captured
    summary.live = LiveInfo(
        interface=settings.interface, linktype=capture.linktype, filter=settings.bpf or "",
        snaplen=settings.snaplen, promiscuous=settings.promiscuous, start_ns=capture.start_ns,
        end_ns=capture.end_ns, received=stats.received, dropped=stats.dropped,
        interface_dropped=stats.interface_dropped, saved=saver.files if saver else [])
    progress(Progress("end-capture", label, 0))
    return summary, False


def _check_unchanged(path: str, label: str, options: Options, summary: InputSummary) -> None:
    """The file's identity and times after the run against before; with --rehash-inputs also
    a full second read. Any change is an error of this input."""
    try:
        summary.stat_after = identity(os.stat(path))
    except OSError as exc:
        summary.error = summary.error or f"{label}: cannot stat after processing: {exc.strerror or exc}"
        return
    changed = changes(summary.stat_before, summary.stat_after)
    if changed:     # said even when reading failed too: the change may be why
        summary.error = "; ".join(filter(None, (
            summary.error, f"{label}: the capture changed while it was processed: {', '.join(changed)}")))
    if options.rehash_inputs and summary.md5_before:
        try:
            digests = rehash(path)
        except OSError as exc:
            summary.error = summary.error or f"{label}: cannot re-read after processing: {exc.strerror or exc}"
            return
        summary.md5_after, summary.sha256_after = digests["md5"], digests["sha256"]
        if (summary.md5_after, summary.sha256_after) != (summary.md5_before, summary.sha256_before):
            summary.error = summary.error or f"{label}: the capture changed while it was processed (digests differ)"


def _pump(source: EvidenceFile | StdinSource, label: str, options: Options, decoder: Decoder, table: FlowTable,
          summary: InputSummary, progress: Callable[[Progress], None],
          packet_filter: PacketFilter | None, stop: Callable[[], bool], shard: Shard) -> None:
    """The kernel where the capture allows it, then the per-record loop for whatever is left.
    This is the one place that choice is made."""
    add = shard.owned(table.add)
    expire = options.idle_timeout_ns > 0
    packets = 0
    header = (kernel_header(os.pread(source.fd, 65536, 0))     # per-packet taps and -I see every segment
              if isinstance(source, EvidenceFile) and packet_filter is None and not expire
              and not table.sink.per_packet and not options.findx else None)
    if header is not None:
        def window(done: int, position: int) -> None:
            progress(Progress("bytes", label, position))
            if stop():
                raise Interrupted(f"record {done}")

        fast = KernelPump(source, header, decoder, table, window, shard)
        try:
            finished = fast.run()
        finally:
            packets = summary.packets = fast.packets
            summary.truncated_packets = fast.truncated
            summary.first_ts_ns, summary.last_ts_ns = fast.first_ts, fast.last_ts
            summary.format, summary.linktypes = header.format, header.linktypes
            summary.kernel = KernelShare(IMPLEMENTATION, fast.packets, fast.python)
        if finished:
            return
    source.seek(0)
    with open_capture(source.path, source) as capture:
        summary.format, summary.compression = capture.format, capture.compression
        records = iter(capture)
        for _ in range(packets):     # the fast path stopped at a record it leaves to the general reader
            next(records)

        def tick(record: Record) -> None:
            progress(Progress("bytes", label, capture.raw_position))
            if stop():
                raise Interrupted(f"record {record.frame}")

        try:
            _feed(records, summary, decoder, table, add, expire, packet_filter, tick, PROGRESS_EVERY)
        finally:
            summary.linktypes = tuple(sorted(capture.linktypes))


def _feed(records: Iterable[Record], summary: InputSummary, decoder: Decoder, table: FlowTable,
          add: Callable[[Segment], None], expire: bool, packet_filter: PacketFilter | None,
          tick: Callable[[Record], None], every: int) -> None:
    """The per-record loop every source shares (files after the fast path, standard input, live
    interfaces): count, filter, decode, show each segment to per-packet taps (console, -K, -w),
    reassemble; `tick` every `every` records (progress, stop), idle sweeps now and then.
    The counts continue those already in `summary` and are stored back however the loop ends."""
    decode = decoder.decode
    sink = table.sink
    per_packet = sink.per_packet
    packets, truncated, filtered = summary.packets, summary.truncated_packets, summary.filtered_packets
    first_ts, last_ts = summary.first_ts_ns, summary.last_ts_ns
    try:
        for record in records:
            packets += 1
            if first_ts is None:
                first_ts = record.ts_ns
            last_ts = record.ts_ns
            if record.caplen < record.origlen:
                truncated += 1
            if packet_filter is not None and not packet_filter.matches(record):
                filtered += 1
                continue
            segments = decode(record)
            if per_packet:
                for segment in segments:
                    if table.start_new or table.continues(segment):
                        sink.segment(segment, record)
                if not segments and decoder.skipped.startswith(NOT_TCP_IP):
                    sink.unprocessed(record)
            for segment in segments:
                add(segment)
            if not packets % every:
                tick(record)
                if expire and not packets % EXPIRE_EVERY:
                    table.expire(record.ts_ns)
    finally:
        summary.packets, summary.truncated_packets, summary.filtered_packets = packets, truncated, filtered
        summary.first_ts_ns, summary.last_ts_ns = first_ts, last_ts
