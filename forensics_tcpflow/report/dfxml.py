"""report.xml: DFXML 2.0.0-beta.0 with one fileobject per flow direction, streamed with bounded memory.

Everything DFXML has no element for lives in our namespace (prefix ftf): the run's
provenance inside <metadata>, one <ftf:flow> as the last child of each <fileobject>
(tcpflow's attribute names kept), and flow totals after <rusage>.
"""

from __future__ import annotations

import platform
import re
import resource
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar, Iterator

from lxml import etree

from forensics_tcpflow.capture.evidence import HASHES
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.provenance import InputSummary, LiveInfo, ReplayInfo, RunInfo
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter
from forensics_tcpflow.report.bodies import byte_run_attributes
from forensics_tcpflow.report.codec import iso_time, report_filename, seconds_text
from forensics_tcpflow.report.registry import ReportContext, register
from forensics_tcpflow.report.scanfacts import tls_element, yara_elements

DFXML_NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC_NS = "http://purl.org/dc/elements/1.1/"
FTF_NS = "urn:forensics-tcpflow:dfxml:1"
DFXML_VERSION = "2.0.0-beta.0"
NSMAP = {None: DFXML_NS, "dc": DC_NS, "ftf": FTF_NS}

_AF_FAMILY = {4: "2", 6: "10"}  # tcpflow writes the Linux AF_INET / AF_INET6 numbers
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INPUT_HASHES = HASHES


def D(tag: str) -> str:
    return f"{{{DFXML_NS}}}{tag}"


def F(tag: str) -> str:
    return f"{{{FTF_NS}}}{tag}"


PENDING_PARTS = 4096        # fileobject pieces gathered before one write
# What lxml's serializer escapes, so text written by hand is byte-identical to its output.
_SPECIAL = re.compile('[&<>"\n\r\t]')
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;",
                               "\r": "&#13;", "\t": "&#9;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _text(value: str) -> str:
    return value.translate(_TEXT_ESCAPES) if _SPECIAL.search(value) else value


def _attributes(attrs: dict[str, str]) -> str:
    """name="value" pairs as lxml writes them (one scan decides whether any value needs escaping)."""
    if _SPECIAL.search("".join(attrs.values())):
        return " ".join(f'{name}="{value.translate(_ATTR_ESCAPES)}"' for name, value in attrs.items())
    return " ".join(f'{name}="{value}"' for name, value in attrs.items())


def xml_safe(text: str) -> str:
    """XML cannot carry control characters or lone surrogates (undecodable path bytes): show them escaped."""
    if _NOT_XML.search(text) is None:
        return text
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def input_errors(inp: InputSummary) -> list[str]:
    """Why an input's results cannot be trusted: the reading error, or evidence that changed while read."""
    errors = [inp.error] if inp.error else []
    for algorithm in _INPUT_HASHES:
        before, after = getattr(inp, f"{algorithm}_before"), getattr(inp, f"{algorithm}_after")
        if before and after and before != after:
            errors.append(f"input changed while it was read: {algorithm} {before} before, {after} after")
    return errors


class _XmlOut:
    """Indented incremental writing on top of lxml's xmlfile (which writes no whitespace itself)."""

    def __init__(self, xf: Any) -> None:  # lxml's incremental writer (a private type)
        self._xf = xf
        self._had_children: list[bool] = []  # one entry per open element

    def _indent(self) -> None:
        if self._had_children:  # lxml refuses text outside the root element
            self._had_children[-1] = True
            self._xf.write("\n" + "  " * len(self._had_children))

    @contextmanager
    def element(self, tag: str, attrs: dict[str, str] | None = None,
                nsmap: dict[str | None, str] | None = None) -> Iterator[None]:
        self._indent()
        with self._xf.element(tag, _safe(attrs), nsmap=nsmap):
            self._had_children.append(False)
            yield
            if self._had_children.pop():
                self._xf.write("\n" + "  " * len(self._had_children))

    def leaf(self, tag: str, text: str | None = None, attrs: dict[str, str] | None = None) -> None:
        self._indent()
        with self._xf.element(tag, _safe(attrs)):
            if text:
                self._xf.write(xml_safe(text))


def _safe(attrs: dict[str, str] | None) -> dict[str, str]:
    return {name: xml_safe(value) for name, value in (attrs or {}).items()}


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _option_items(options: dict[str, object]) -> Iterator[tuple[str, object]]:
    """Every option in order; a dict-valued one as name.key items."""
    for name, value in options.items():
        if isinstance(value, dict):
            yield from ((f"{name}.{key}", value[key]) for key in sorted(value))
        else:
            yield name, value


def _write_option(out: _XmlOut, name: str, value: object) -> None:
    if isinstance(value, (tuple, list)):
        with out.element(F("option"), {"name": name}):
            for item in value:
                out.leaf(F("value"), None, {"value": str(item)})
    elif value is None:
        out.leaf(F("option"), None, {"name": name})
    else:
        out.leaf(F("option"), None, {"name": name, "value": _bool(value) if isinstance(value, bool) else str(value)})


def _input_attrs(index: int, inp: InputSummary) -> dict[str, str]:
    attrs = {
        "index": str(index), "path": inp.path, "abspath": inp.abspath or inp.path, "size": str(inp.size),
        "mtime": iso_time(inp.mtime_ns),
        "format": inp.format, "compression": inp.compression,
        "linktypes": " ".join(str(linktype) for linktype in inp.linktypes),
        "packets": str(inp.packets), "truncated_packets": str(inp.truncated_packets),
        "undecodable_packets": str(inp.undecodable_packets), "filtered_packets": str(inp.filtered_packets),
    }
    if inp.first_ts_ns is not None:
        attrs["first_packet_time"] = iso_time(inp.first_ts_ns)
    if inp.last_ts_ns is not None:
        attrs["last_packet_time"] = iso_time(inp.last_ts_ns)
    attrs["output_dir"] = inp.output_dir
    if inp.stream:
        attrs["stream"] = "true"
    return attrs


def _stat_attrs(when: str, values: tuple[int, ...]) -> dict[str, str]:
    size, mtime_ns, ctime_ns, inode, device = values
    return {"when": when, "size": str(size), "mtime": iso_time(mtime_ns), "ctime": iso_time(ctime_ns),
            "inode": str(inode), "device": str(device)}


def _write_input(out: _XmlOut, index: int, inp: InputSummary) -> None:
    with out.element(F("input"), _input_attrs(index, inp)):
        for algorithm in _INPUT_HASHES:
            attrs = {"type": algorithm}
            for when in ("before", "after"):
                if digest := getattr(inp, f"{algorithm}_{when}"):
                    attrs[when] = digest
            out.leaf(F("hash"), None, attrs)
        for when, values in (("before", inp.stat_before), ("after", inp.stat_after)):
            if values:
                out.leaf(F("stat"), None, _stat_attrs(when, values))
        if inp.kernel is not None:
            out.leaf(F("kernel"), None, {"implementation": inp.kernel.implementation,
                                         "records": str(inp.kernel.records), "python": str(inp.kernel.python)})
        if inp.live is not None:
            _write_live(out, inp.live)
        for name in sorted(inp.counters):
            out.leaf(F("counter"), None, {"name": name, "value": str(inp.counters[name])})
        for datagram, offset, length, kept in inp.fragment_overlaps:
            out.leaf(F("fragment_overlap"), None,
                     {"datagram": datagram, "offset": str(offset), "length": str(length), "kept": kept})
        for error in input_errors(inp):
            out.leaf(F("error"), error)
        for worker in inp.workers:
            out.leaf(F("worker"), None, {"address": worker})


def _write_live(out: _XmlOut, live: LiveInfo) -> None:
    attrs = {"interface": live.interface, "linktype": str(live.linktype), "filter": live.filter,
             "snaplen": str(live.snaplen), "promiscuous": _bool(live.promiscuous),
             "start_time": iso_time(live.start_ns), "end_time": iso_time(live.end_ns),
             "received": str(live.received), "dropped": str(live.dropped),
             "interface_dropped": str(live.interface_dropped)}
    with out.element(F("live"), attrs):
        for saved in live.saved:
            out.leaf(F("saved_capture"), None, {"path": saved.path, "size": str(saved.size),
                                                "packets": str(saved.packets), "md5": saved.md5,
                                                "sha256": saved.sha256})


def _run_attrs(run: RunInfo) -> dict[str, str]:
    attrs = {"uuid": run.uuid, "start_time": iso_time(run.start_ns)}
    if run.end_ns:
        attrs["end_time"] = iso_time(run.end_ns)
    attrs["exit_status"] = str(run.exit_status)
    attrs["interrupted"] = _bool(run.interrupted)
    return attrs


def _input_totals(inputs: list[InputSummary]) -> dict[str, str]:
    counted = ("packets", "truncated_packets", "undecodable_packets", "filtered_packets")
    totals = {"inputs": str(len(inputs))}
    totals.update((name, str(sum(getattr(inp, name) for inp in inputs))) for name in counted)
    totals["errors"] = str(sum(len(input_errors(inp)) for inp in inputs))
    return totals


def _write_metadata(out: _XmlOut, ctx: ReportContext) -> None:
    with out.element(D("metadata")):
        out.leaf(f"{{{DC_NS}}}type", "Feature Extraction")
        with out.element(F("run"), _run_attrs(ctx.run)):
            for tag, values in (("options", ctx.run.options), ("derived", ctx.run.derived)):
                if values or tag == "options":
                    with out.element(F(tag)):
                        for name, value in _option_items(values):
                            _write_option(out, name, value)
            if ctx.run.cluster:
                out.leaf(F("cluster"), None, ctx.run.cluster)
            for index, inp in enumerate(ctx.inputs):
                _write_input(out, index, inp)
            for path, reason in ctx.run.skipped:
                out.leaf(F("skipped"), None, {"path": path, "reason": reason})
            out.leaf(F("input_totals"), None, _input_totals(ctx.inputs))
            if ctx.run.outcome:
                out.leaf(F("outcome"), None, {name: str(count) for name, count in ctx.run.outcome.items()})
            for output in ctx.run.outputs:
                out.leaf(F("output"), None, {name: str(getattr(output, name)) for name in output.__slots__})
        if ctx.run.replay is not None:
            _write_replay(out, ctx.run.replay)


def _write_replay(out: _XmlOut, replay: ReplayInfo) -> None:
    """<ftf:replay>: the arguments as given, one element each (no quoting to undo), for `reproduce`."""
    attrs = {"cwd": replay.cwd, "version": replay.version, "platform": replay.platform,
             "implementation": replay.implementation}
    with out.element(F("replay"), attrs):
        with out.element(F("argv")):
            for arg in replay.argv:
                out.leaf(F("arg"), arg)
        for name, version in replay.libraries.items():
            out.leaf(F("library"), None, {"name": name, "version": version})


def _write_creator(out: _XmlOut, run: RunInfo) -> None:
    with out.element(D("creator")):
        out.leaf(D("program"), run.program)
        out.leaf(D("version"), run.version)
        with out.element(D("build_environment")):
            out.leaf(D("compiler"), f"{platform.python_implementation()} {platform.python_version()}")
        with out.element(D("execution_environment")):
            for tag, value in (("os_sysname", run.os_sysname), ("os_release", run.os_release),
                               ("os_version", run.os_version), ("host", run.host), ("arch", run.arch),
                               ("command_line", run.command_line), ("uid", str(run.uid)),
                               ("username", run.user), ("start_time", iso_time(run.start_ns))):
                out.leaf(D(tag), value)
        for name, version in run.libraries.items():
            out.leaf(D("library"), None, {"name": name, "version": version})


def flow_attributes(rec: FlowRecord) -> dict[str, str]:
    """The <ftf:flow> attributes: tcpflow's names first, then what tcpflow never recorded."""
    attrs = {
        "startime": iso_time(rec.first_ts_ns), "endtime": iso_time(rec.last_ts_ns),
        "family": _AF_FAMILY[rec.family], "src_ipn": rec.src, "dst_ipn": rec.dst,
        "srcport": str(rec.sport), "dstport": str(rec.dport),
    }
    if rec.protocol != "tcp":       # absent: TCP, as in every report before --udp
        attrs["protocol"] = rec.protocol
    attrs.update({
        "packets": str(rec.packets),
        "out_of_order_count": str(rec.out_of_order), "violations": str(rec.violations),
        "len": str(rec.wire_bytes),
    })
    if rec.captured_bytes < rec.wire_bytes:
        attrs["caplen"] = str(rec.captured_bytes)
    if rec.mac_src:
        attrs["mac_saddr"] = rec.mac_src
    if rec.mac_dst:
        attrs["mac_daddr"] = rec.mac_dst
    if rec.vlans:
        attrs["vlan"] = " ".join(str(vid) for vid in rec.vlans)
    attrs.update({
        "connection_id": str(rec.connection_id), "connection_index": str(rec.connection_index),
        "direction": rec.direction, "community_id": rec.community_id, "capture": xml_safe(rec.capture),
        "first_frame": str(rec.first_frame), "last_frame": str(rec.last_frame), "close_reason": rec.close_reason,
    })
    if rec.stream_length != rec.filesize:
        attrs["stream_length"] = str(rec.stream_length)
    if rec.caplen_short:
        attrs["snaplen_truncated_packets"] = str(rec.caplen_short)
    attrs["reassembled_datagrams"] = str(rec.reassembled_datagrams)
    attrs.update((name, xml_safe(value)) for name, value in rec.link_facts.items())
    return attrs


def _flow_children(rec: FlowRecord) -> Iterator[tuple[str, dict[str, str]]]:
    for offset, length in rec.holes:
        yield "hole", {"offset": str(offset), "length": str(length)}
    for offset, length in rec.truncated:
        yield "truncated", {"offset": str(offset), "length": str(length)}
    for offset, length, kept in rec.overlaps:
        yield "overlap", {"offset": str(offset), "length": str(length), "kept": kept}
    for capture, first, last in rec.sources:
        yield "source", {"capture": xml_safe(capture), "first_frame": str(first), "last_frame": str(last)}


class _FlowTotals:
    """Run-wide sums over the flows, known only once the last flow is written."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("flows", "files", "empty_flows", "bytes", "stream_bytes", "packets",
                                     "holes", "hole_bytes", "truncated_ranges", "overlaps"), 0)

    def add(self, rec: FlowRecord) -> None:
        c = self.counts
        c["flows"] += 1
        c["files"] += bool(rec.filename)
        c["empty_flows"] += rec.stream_length == 0
        c["bytes"] += rec.filesize
        c["stream_bytes"] += rec.stream_length
        c["packets"] += rec.packets
        c["holes"] += len(rec.holes)
        c["hole_bytes"] += sum(length for _, length in rec.holes)
        c["truncated_ranges"] += len(rec.truncated)
        c["overlaps"] += len(rec.overlaps)

    def attrs(self) -> dict[str, str]:
        return {name: str(value) for name, value in self.counts.items()}


def _rusage_values(start_ns: int) -> list[tuple[str, str]]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    values = [("utime", f"{own.ru_utime + children.ru_utime:.6f}"),
              ("stime", f"{own.ru_stime + children.ru_stime:.6f}"),
              ("maxrss", str(max(own.ru_maxrss, children.ru_maxrss)))]
    values += [(name, str(getattr(own, f"ru_{name}") + getattr(children, f"ru_{name}")))
               for name in ("minflt", "majflt", "nswap", "inblock", "oublock")]
    if start_ns:
        values.append(("clocktime", seconds_text(max(0, time.time_ns() - start_ns))))
    return values


def _scan_elements(rec: FlowRecord, ctx: ReportContext) -> Iterator[str]:
    """What -e tls and -e yara found in this flow file (and its bodies), after its <ftf:flow>."""
    found = [tls] if (tls := tls_element(rec, ctx)) else []
    for tag, attrs, children in [*found, *yara_elements(rec, ctx)]:
        yield f"\n    <{tag} {_attributes(_safe(attrs))}>"
        yield from (f"\n      <{child} {_attributes(_safe(child_attrs))}></{child}>" for child, child_attrs in children)
        yield f"\n    </{tag}>" if children else f"</{tag}>"


@register
class DfxmlWriter(AtomicWriter):
    """Streams the document: header at open, one fileobject per add(), trailer at finish()."""

    name: ClassVar[str] = "dfxml"

    @staticmethod
    def target(report_path: Path) -> Path:
        return report_path

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._totals = _FlowTotals()
        self._pending: list[str] = []
        self._out = AtomicFile(path, "wb")
        self._open = ExitStack()  # the xmlfile and the root element, closed by _trailer()
        try:
            xf = self._open.enter_context(etree.xmlfile(self._out.file, encoding="UTF-8"))
            xf.write_declaration()
            self._xf = xf
            self._xml = _XmlOut(xf)
            self._open.enter_context(self._xml.element(D("dfxml"), {"version": DFXML_VERSION}, nsmap=NSMAP))
            _write_metadata(self._xml, context)
            _write_creator(self._xml, context.run)
            with self._xml.element(D("source")):
                for inp in context.inputs:
                    self._xml.leaf(D("image_filename"), inp.path)
        except BaseException:
            self._out.discard()
            raise

    def add(self, rec: FlowRecord) -> None:
        """The hottest code of a report: the fileobject as text, byte for byte what lxml's writer
        makes of it (its element calls cost ~20 µs a record), written in batches."""
        ctx = self._context
        self._totals.add(rec)
        name = report_filename(rec.filename, ctx.options.outdir, ctx.report_dir)
        parts = self._pending
        parts.append("\n  <fileobject>")
        if name:
            parts.append(f"\n    <filename>{_text(xml_safe(name))}</filename>")
        parts.append(f"\n    <filesize>{rec.filesize}</filesize>")
        if bodies := ctx.scans.bodies.get(rec.filename):
            parts.append("\n    <byte_runs>")
            parts.extend(f"\n      <byte_run {_attributes(_safe(byte_run_attributes(rec, body, ctx)))}></byte_run>"
                         for body in bodies)
            parts.append("\n    </byte_runs>")
        if name:
            parts.extend(f'\n    <hashdigest type="{algorithm}">{rec.hashes[algorithm]}</hashdigest>'
                         for algorithm in sorted(rec.hashes))
        attrs = flow_attributes(rec)
        if rec.index_filename:
            attrs["index_filename"] = xml_safe(report_filename(rec.index_filename, ctx.options.outdir, ctx.report_dir))
            attrs.update((f"index_{algorithm}", rec.index_hashes[algorithm]) for algorithm in sorted(rec.index_hashes))
        parts.append(f"\n    <ftf:flow {_attributes(attrs)}>")
        if rec.holes or rec.truncated or rec.overlaps or rec.sources:
            parts.extend(f"\n      <ftf:{tag} {_attributes(attrs)}></ftf:{tag}>" for tag, attrs in _flow_children(rec))
            parts.append("\n    ")
        parts.append("</ftf:flow>")
        if ctx.scans.tls or ctx.scans.yara:
            parts.extend(_scan_elements(rec, ctx))
        parts.append("\n  </fileobject>")
        if len(parts) > PENDING_PARTS:
            self._write_pending()

    def _write_pending(self) -> None:
        self._xf.flush()                     # lxml's own buffer first: the text continues it
        self._out.file.write("".join(self._pending).encode("utf-8"))
        self._pending.clear()

    def _trailer(self) -> None:
        self._write_pending()
        xml = self._xml
        with xml.element(D("rusage")):
            for tag, value in _rusage_values(self._context.run.start_ns):
                xml.leaf(D(tag), value)
        xml.leaf(F("flow_totals"), None, self._totals.attrs())
        self._open.close()
        self._out.file.write(b"\n")
