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
from typing import Callable, Iterator, Sequence

from .capture.bpf import PacketFilter
from .capture.evidence import HASHES, EvidenceFile, changes, identity, rehash
from .capture.reader import open_capture
from .capture.record import CaptureError
from .decode.decoder import Decoder
from .environment import Progress
from .flow.naming import build_template
from .flow.record import FlowRecord
from .flow.table import FlowTable
from .options import Options
from .provenance import InputSummary
from .sink import FlowSink
from .sink.files import SinkError
from .fastpath.header import fast_header
from .fastpath.shard import Shard

PROGRESS_EVERY = 4096          # records between progress callbacks (and stop checks)
EXPIRE_EVERY = 65536           # records between idle-timeout sweeps
# Smaller captures take the general path: loading the compiled kernels (numba, ~0.5 s) costs
# more than they save there, so --help, verify and small runs never import them.
FAST_MIN_BYTES = 16 << 20


class Interrupted(Exception):
    """The run was asked to stop (SIGINT/SIGTERM) in the middle of a capture."""


def _never() -> bool:
    return False


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
        return _process(captures, options, sink, emit, progress, packet_filter, stop, shard)


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
             shard: Shard) -> tuple[list[InputSummary], bool]:
    summaries: list[InputSummary] = []
    decoder = Decoder(overlap=options.overlap, frag_timeout_ns=options.frag_timeout_ns,
                      frag_memory=options.frag_memory)
    first_label = captures[0][1] if captures else ""
    table = FlowTable(options, sink, emit, first_label, build_template(options.template, options.fflags),
                      Path(captures[0][0]).name if captures else "")
    interrupted = False
    before: Counter[str] = Counter()
    overlaps = 0
    frames = 0
    try:
        for path, label in captures:
            if stop():
                interrupted = True
                break
            table.begin_capture(label, frames)
            before = decoder.stats.counters + table.counters
            overlaps = len(decoder.stats.fragment_overlaps)
            summary, interrupted = _one_capture(path, label, options, decoder, table, progress, packet_filter,
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
    summary = InputSummary(path=label, abspath=os.path.abspath(path))
    interrupted = False
    try:     # the first shard vouches for the file: the others read it without hashing
        source = EvidenceFile(path, HASHES if not shard.index else ())
    except OSError as exc:
        summary.error = f"{label}: cannot read: {exc.strerror or exc}"
        return summary, interrupted
    with source:
        summary.stat_before = source.before
        summary.size, summary.mtime_ns = source.before[0], source.before[1]
        progress(Progress("start-capture", label, summary.size))
        try:
            _pump(source, label, options, decoder, table, summary, progress, packet_filter, stop, shard)
        except CaptureError as exc:
            exc.path = label
            summary.error = str(exc)
        except Interrupted as exc:
            summary.error = f"{label} ({exc}): interrupted before the end of the capture"
            interrupted = True
        except (ValueError, SinkError) as exc:
            summary.error = f"{label}: {exc}"
        except Exception as exc:    # a bug of ours: this capture fails, the others go on, the run exits 3
            summary.error = f"{label}: internal error: {type(exc).__name__}: {exc}"
            summary.internal_error = True
        if not shard.index and not interrupted:
            try:
                digests = source.finish()
                summary.md5_before, summary.sha256_before = digests["md5"], digests["sha256"]
            except OSError as exc:
                summary.error = summary.error or f"{label}: cannot read: {exc.strerror or exc}"
    if not shard.index:
        _check_unchanged(path, label, options, summary)
    progress(Progress("end-capture", label, summary.size))
    return summary, interrupted


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


def _pump(source: EvidenceFile, label: str, options: Options, decoder: Decoder, table: FlowTable,
          summary: InputSummary, progress: Callable[[Progress], None],
          packet_filter: PacketFilter | None, stop: Callable[[], bool], shard: Shard) -> None:
    """The fast path where the capture allows it, then the per-packet loop for whatever is left."""
    decode = decoder.decode
    add = shard.owned(table.add)
    expire = options.idle_timeout_ns > 0
    every = PROGRESS_EVERY
    packets = truncated = filtered = 0
    first_ts = last_ts = None
    header = (fast_header(os.pread(source.fd, 65536, 0))
              if packet_filter is None and not expire and summary.size >= FAST_MIN_BYTES else None)
    if header is not None:
        from .fastpath.pump import FastPump     # numba loads only for captures worth it

        def window(done: int, position: int) -> None:
            progress(Progress("bytes", label, position))
            if stop():
                raise Interrupted(f"record {done}")

        fast = FastPump(source, header, decoder, table, window, shard)
        try:
            finished = fast.run()
        finally:
            packets, truncated, first_ts, last_ts = fast.packets, fast.truncated, fast.first_ts, fast.last_ts
            summary.packets, summary.truncated_packets = packets, truncated
            summary.first_ts_ns, summary.last_ts_ns = first_ts, last_ts
            summary.format, summary.linktypes = header.format, (header.linktype,)
        if finished:
            return
    source.seek(0)
    with open_capture(source.path, source) as capture:
        summary.format, summary.compression = capture.format, capture.compression
        records = iter(capture)
        for _ in range(packets):     # the fast path stopped at a record it leaves to the general reader
            next(records)
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
                for segment in decode(record):
                    add(segment)
                if not packets % every:
                    progress(Progress("bytes", label, capture.raw_position))
                    if stop():
                        raise Interrupted(f"record {record.frame}")
                    if expire and not packets % EXPIRE_EVERY:
                        table.expire(record.ts_ns)
        finally:
            summary.packets, summary.truncated_packets, summary.filtered_packets = packets, truncated, filtered
            summary.first_ts_ns, summary.last_ts_ns = first_ts, last_ts
            summary.linktypes = tuple(sorted(capture.linktypes))
