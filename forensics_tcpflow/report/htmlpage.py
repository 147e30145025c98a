"""report.html: the examiner's case page, opened from the case folder with file:// (no network).

The page itself (Jinja2, autoescaped) holds the run, the inputs, the counters and the picture;
the flows and bodies, which can be hundreds of thousands, are data pages in report_files/ beside
it (`<kind>-NNNNN.js`, each one JSON array handed to `ftfData`: browsers refuse to fetch JSON over
file://, scripts they load) that report.js reads into memory, filters, sorts and shows a screen at a
time. Every string from the evidence reaches the page as text (autoescape, textContent), never as
markup. The folder is written under a temporary name and renamed into place before the page.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from jinja2 import Environment, select_autoescape

from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.provenance import InputSummary
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter, current_umask
from forensics_tcpflow.report.bodies import body_row
from forensics_tcpflow.report.codec import iso_time, report_filename
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.report.registry import ReportContext, register


DEFAULT_PAGE = "report.html"     # beside report.xml; named after any other report (see named_after)


def data_folder(page: Path) -> Path:
    """The page's data pages and script: named after the page, as a browser saves one (report.html:
    report_files/, rep2.html: rep2_files/), so that pages kept in one folder never share their data."""
    return page.with_name(f"{page.stem}_files")


FOLDER = data_folder(Path(DEFAULT_PAGE)).name     # beside report.xml
PAGE_ROWS = 5_000          # rows per data page: the first screen needs only the first page
# Read and compiled when the report package is imported, while the package's files are readable: a live
# run may have become another user (-U) or been shut into a folder (-z) by the time it writes the page.
_PACKAGE = files("forensics_tcpflow.report")
TEMPLATE = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                       keep_trailing_newline=True).from_string(
    _PACKAGE.joinpath("templates", "report.html.j2").read_text(encoding="utf-8"))
STATIC = {name: _PACKAGE.joinpath("static", name).read_bytes() for name in ("report.js", "report.css")}

# (name, label, type): "num" sorts as a number, "link" is a file named from the report's folder.
FLOW_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("src", "source", "str"), ("sport", "sport", "num"), ("dst", "destination", "str"), ("dport", "dport", "num"),
    ("protocol", "protocol", "str"), ("vlan", "VLAN", "str"), ("first", "first packet (UTC)", "str"), ("last", "last packet (UTC)", "str"),
    ("bytes", "bytes", "num"), ("packets", "packets", "num"), ("holes", "holes", "num"),
    ("hole_bytes", "hole bytes", "num"), ("overlaps", "overlaps", "num"), ("close", "closed by", "str"),
    ("file", "file", "link"), ("community_id", "Community ID", "str"), ("direction", "direction", "str"),
    ("connection", "connection", "str"), ("filesize", "file size", "num"), ("md5", "md5", "hash"),
    ("sha256", "sha256", "hash"), ("capture", "capture", "str"), ("frames", "frames", "str"),
    ("macs", "MAC source > destination", "str"), ("out_of_order", "out of order", "num"),
    ("snaplen_cut", "snaplen-cut ranges", "num"),
)
SHOWN = {"src", "sport", "dst", "dport", "protocol", "vlan", "first", "last", "bytes", "packets", "holes", "overlaps", "close",
         "file", "community_id"}
BODY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("filename", "body", "link"), ("kind", "kind", "str"), ("index", "#", "num"), ("method", "method", "str"),
    ("host", "host", "str"), ("uri", "URI", "str"), ("status", "status", "num"),
    ("content_type", "type", "str"), ("filesize", "size", "num"), ("md5", "md5", "hash"),
    ("sha256", "sha256", "hash"), ("complete", "complete", "str"), ("note", "note", "str"), ("flow", "flow", "link"),
)


def _columns(spec: tuple[tuple[str, str, str], ...], shown: set[str] | None = None) -> list[dict[str, Any]]:
    return [{"name": name, "label": label, "type": kind, "hidden": shown is not None and name not in shown}
            for name, label, kind in spec]


def _time(ns: int | None) -> str:
    return "" if ns is None else iso_time(ns)


def _warnings(inp: InputSummary) -> list[str]:
    """What the run warned about an input besides its error."""
    lines = [f"{count} packets of unsupported link type {name.split(':', 1)[1]} were not decoded"
             for name, count in inp.counters.items() if name.startswith("linktype:")]
    if inp.stat_before and inp.stat_after and inp.stat_before != inp.stat_after:
        lines.append("the file changed during the run (size, times or identity differ)")
    if inp.md5_after and (inp.md5_after, inp.sha256_after) != (inp.md5_before, inp.sha256_before):
        lines.append("a second read gave other digests")
    if inp.truncated_packets:
        lines.append(f"{inp.truncated_packets} packets cut short by the snap length")
    if inp.fragment_overlaps:
        lines.append(f"{len(inp.fragment_overlaps)} conflicting IP fragment overlaps")
    return lines


def _input(inp: InputSummary) -> dict[str, Any]:
    return {"path": inp.path, "name": Path(inp.path).name, "size": inp.size,
            "format": " ".join(part for part in (inp.format, inp.compression) if part),
            "linktypes": ", ".join(map(str, inp.linktypes)), "packets": inp.packets,
            "md5": inp.md5_before, "sha256": inp.sha256_before, "first": _time(inp.first_ts_ns),
            "last": _time(inp.last_ts_ns), "errors": [inp.error] if inp.error else [], "warnings": _warnings(inp)}


def _counters(inputs: list[InputSummary]) -> list[tuple[str, int, list[int]]]:
    """(name, total, per input) for every counter and the packet tallies the report keeps beside them."""
    per_input = [Counter({**inp.counters, "undecodable packets": inp.undecodable_packets,
                          "truncated packets": inp.truncated_packets, "filtered packets": inp.filtered_packets})
                 for inp in inputs]
    names = sorted(set().union(*per_input)) if per_input else []
    return [(name, sum(c[name] for c in per_input), [c[name] for c in per_input]) for name in names]


class _Pages:
    """Rows of one kind, written PAGE_ROWS at a time as `<kind>-NNNNN.js` into the data folder."""

    def __init__(self, folder: Path, kind: str) -> None:
        self.folder, self.kind = folder, kind
        self.rows: list[list[Any]] = []
        self.pages = self.total = 0

    def add(self, row: list[Any]) -> None:
        self.rows.append(row)
        self.total += 1
        if len(self.rows) >= PAGE_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        text = json.dumps(self.rows, separators=(",", ":"))     # ASCII: safe in any script
        path = self.folder / f"{self.kind}-{self.pages:05d}.js"
        path.write_text(f'ftfData("{self.kind}",{self.pages},{text});\n', encoding="utf-8")   # ASCII, in a codec already loaded
        self.pages += 1
        self.rows.clear()


@register
class HtmlWriter(AtomicWriter):
    """The data pages fill as the flows go by; the page is rendered once all are counted."""

    name: ClassVar[str] = "html"

    @staticmethod
    def target(report_path: Path) -> Path:
        return named_after(report_path, DEFAULT_PAGE)

    @staticmethod
    def folders(report_path: Path) -> tuple[Path, ...]:
        """The data pages and the script: the page's own, so verify counts none of them as extra."""
        return (data_folder(HtmlWriter.target(report_path)),)

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._folder = data_folder(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._temp = Path(tempfile.mkdtemp(prefix=f".{self._folder.name}.", suffix=".tmp", dir=path.parent))
        self._out = AtomicFile(path, "w", encoding="utf-8", newline="\n")
        self._flows = _Pages(self._temp, "flows")
        self._bodies = _Pages(self._temp, "bodies")
        self._ordinal = {inp.path: index for index, inp in enumerate(context.inputs)}

    def add(self, rec: FlowRecord) -> None:
        ctx = self._context
        name = report_filename(rec.filename, ctx.options.outdir, ctx.report_dir)
        capture = self._ordinal.get(rec.capture, rec.capture)
        self._flows.add([
            rec.src, rec.sport, rec.dst, rec.dport, rec.protocol, " ".join(map(str, rec.vlans)), iso_time(rec.first_ts_ns),
            iso_time(rec.last_ts_ns), rec.stream_length, rec.packets, len(rec.holes),
            sum(length for _, length in rec.holes), len(rec.overlaps), rec.close_reason, name, rec.community_id,
            rec.direction, f"{capture}:{rec.connection_id}", rec.filesize, rec.hashes.get("md5", ""),
            rec.hashes.get("sha256", ""), rec.capture, f"{rec.first_frame}-{rec.last_frame}",
            f"{rec.mac_src or ''} > {rec.mac_dst or ''}" if rec.mac_src or rec.mac_dst else "", rec.out_of_order,
            len(rec.truncated),
        ])
        for body in ctx.scans.bodies.get(rec.filename, ()):
            row = body_row(rec, body, ctx)
            row["complete"] = "yes" if body.complete else "no"
            self._bodies.add([row[name] for name, _, _ in BODY_COLUMNS])

    def _trailer(self) -> None:
        for pages in (self._flows, self._bodies):
            pages.flush()
        for name, data in STATIC.items():
            (self._temp / name).write_bytes(data)
        ctx, run = self._context, self._context.run
        manifest = {"folder": self._folder.name,
                    "flows": {"columns": _columns(FLOW_COLUMNS, SHOWN), "pages": self._flows.pages,
                              "rows": self._flows.total},
                    "bodies": {"columns": _columns(BODY_COLUMNS), "pages": self._bodies.pages,
                               "rows": self._bodies.total}}
        made = {path.suffix: os.path.relpath(path, ctx.report_dir) for path in ctx.scans.files}
        picture = {"png": made[".png"], "pdf": made[".pdf"]} if {".png", ".pdf"} <= set(made) else None
        names = [Path(inp.path).name for inp in ctx.inputs]
        title = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        self._out.file.write(TEMPLATE.render(
            run=run, title=title or "no input", start=iso_time(run.start_ns), end=_time(run.end_ns or None),
            exit_meaning=_exit_meaning(run.exit_status), inputs=[_input(inp) for inp in ctx.inputs],
            skipped=run.skipped, counters=_counters(ctx.inputs), picture=picture, flows=self._flows.total,
            bodies=self._bodies.total, folder=self._folder.name, manifest=manifest))
        os.chmod(self._temp, 0o777 & ~current_umask())

    def commit(self) -> Path:
        self.finish()
        if self._folder.exists():                 # a resumed run's earlier page: ours, replaced whole
            old = Path(tempfile.mkdtemp(prefix=f".{self._folder.name}.", suffix=".old", dir=self._folder.parent))
            os.replace(self._folder, old / self._folder.name)
            shutil.rmtree(old)
        os.replace(self._temp, self._folder)
        return super().commit()

    def discard(self) -> None:
        shutil.rmtree(self._temp, ignore_errors=True)
        super().discard()


def _exit_meaning(status: int) -> str:
    try:
        return ExitStatus(status).name.lower().replace("_", " ")
    except ValueError:
        return "unknown"

