"""body: The Sleuth Kit 3.x body file, one line per flow file and per extracted body, for `mactime -b`
and plaso. A flow file's atime and crtime are its direction's first packet, its mtime and ctime the last
(the file was born with the first byte and last changed with the last); a body carries its flow's times."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import NS
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter
from forensics_tcpflow.report.codec import report_filename
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.report.registry import ReportContext, register

MODE = "r/rr--r--r--"        # a regular file, as fls writes its mode


def _name(name: str) -> str:
    """A '|' or a line break would shift or split the row: mactime decodes %HH in every field, so
    those (and '%' itself) are written that way."""
    return name.replace("%", "%25").replace("|", "%7C").replace("\n", "%0A").replace("\r", "%0D")


@register
class BodyfileWriter(AtomicWriter):
    """MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime, times in whole UTC seconds."""

    name: ClassVar[str] = "bodyfile"

    @staticmethod
    def target(report_path: Path) -> Path:
        return named_after(report_path, "body")

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._out = AtomicFile(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n")

    def add(self, rec: FlowRecord) -> None:
        first, last = rec.first_ts_ns // NS, rec.last_ts_ns // NS
        times = f"{first}|{last}|{last}|{first}"
        ctx = self._context
        write = self._out.file.write
        if rec.filename:
            name = report_filename(rec.filename, ctx.options.outdir, ctx.report_dir)
            write(f"{rec.hashes.get('md5', '0')}|{_name(name)}|0|{MODE}|0|0|{rec.filesize}|{times}\n")
        for body in ctx.scans.bodies.get(rec.filename, ()):
            if body.filename:
                name = report_filename(body.filename, ctx.options.outdir, ctx.report_dir)
                write(f"{body.md5}|{_name(name)}|0|{MODE}|0|0|{body.filesize}|{times}\n")
