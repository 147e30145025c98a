"""Captures through the whole pipeline: reader, decoder, flow table, sink.

The caller provides the sink and the flow-record callback; this module never
decides where bytes or report lines land.
"""

from __future__ import annotations

import gc
import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .capture.bpf import PacketFilter
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
from .fastpath.pump import FastPump, fast_header
from .fastpath.shard import Shard

PROGRESS_EVERY = 4096          # records between progress callbacks (and stop checks)
EXPIRE_EVERY = 65536           # records between idle-timeout sweeps


class Interrupted(Exception):
    """The run was asked to stop (SIGINT/SIGTERM) in the middle of a capture."""


def _never() -> bool:
    return False


FINGERPRINT_CHUNK = 1 << 20


class Fingerprint:
    """md5 and sha256 of an input, read once without changing it.

    One thread reads and updates md5 while a second updates sha256 with the same
    chunk (hashlib releases the GIL), and the "before" fingerprint runs beside
    the processing of the capture instead of ahead of it: on two cores the
    readings then cost little wall time.
    """

    def __init__(self, path: str) -> None:
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="ftf-fingerprint")
        self._result = self._pool.submit(self._digests, path)

    def _digests(self, path: str) -> tuple[str, str]:
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        pending: Future | None = None
        try:
            with open(path, "rb") as f:
                while chunk := f.read(FINGERPRINT_CHUNK):
                    if pending is not None:
                        pending.result()
                    pending = self._pool.submit(sha256.update, chunk)
                    md5.update(chunk)
        finally:
            if pending is not None:
                pending.result()
        return md5.hexdigest(), sha256.hexdigest()

    def digests(self) -> tuple[str, str]:
        """(md5, sha256); OSError if the file could not be read to its end."""
        try:
            return self._result.result()
        finally:
            self._pool.shutdown()


def fingerprint(path: str) -> tuple[str, str]:
    """md5 and sha256 of an input, taken now."""
    return Fingerprint(path).digests()


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
    """Fingerprint, read and fingerprint again; True when `stop` cut the reading short."""
    summary = InputSummary(path=label, abspath=os.path.abspath(path))
    interrupted = False
    try:
        st = os.stat(path)     # first: an input that cannot be read gets no hashing threads
        summary.size, summary.mtime_ns = st.st_size, st.st_mtime_ns
        before = Fingerprint(path) if not shard.index else None   # the first shard vouches for the file
    except OSError as exc:
        summary.error = f"{label}: cannot read: {exc.strerror or exc}"
        return summary, interrupted
    progress(Progress("start-capture", label, summary.size))
    try:
        _pump(path, label, options, decoder, table, summary, progress, packet_filter, stop, shard)
    except CaptureError as exc:
        exc.path = label
        summary.error = str(exc)
    except Interrupted as exc:
        summary.error = f"{label} ({exc}): interrupted before the end of the capture"
        interrupted = True
    except (ValueError, SinkError) as exc:
        summary.error = f"{label}: {exc}"
    if before is None:
        progress(Progress("end-capture", label, summary.size))
        return summary, interrupted
    try:
        summary.md5_before, summary.sha256_before = before.digests()
    except OSError as exc:
        summary.error = summary.error or f"{label}: cannot read: {exc.strerror or exc}"
    try:
        summary.md5_after, summary.sha256_after = fingerprint(path)
    except OSError as exc:
        summary.error = summary.error or f"{label}: cannot re-read after processing: {exc}"
    if (summary.md5_after, summary.sha256_after) != (summary.md5_before, summary.sha256_before):
        summary.error = summary.error or f"{label}: the capture changed while it was processed"
    progress(Progress("end-capture", label, summary.size))
    return summary, interrupted


def _pump(path: str, label: str, options: Options, decoder: Decoder, table: FlowTable,
          summary: InputSummary, progress: Callable[[Progress], None],
          packet_filter: PacketFilter | None, stop: Callable[[], bool], shard: Shard) -> None:
    """The fast path where the capture allows it, then the per-packet loop for whatever is left."""
    decode = decoder.decode
    add = shard.owned(table.add)
    expire = options.idle_timeout_ns > 0
    every = PROGRESS_EVERY
    packets = truncated = filtered = 0
    first_ts = last_ts = None
    header = fast_header(path) if packet_filter is None and not expire else None
    if header is not None:
        def window(done: int, position: int) -> None:
            progress(Progress("bytes", label, position))
            if stop():
                raise Interrupted(f"record {done}")

        fast = FastPump(path, header, decoder, table, window, shard)
        try:
            finished = fast.run()
        finally:
            packets, truncated, first_ts, last_ts = fast.packets, fast.truncated, fast.first_ts, fast.last_ts
            summary.packets, summary.truncated_packets = packets, truncated
            summary.first_ts_ns, summary.last_ts_ns = first_ts, last_ts
            summary.format, summary.linktypes = header.format, (header.linktype,)
        if finished:
            return
    with open_capture(path) as capture:
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
