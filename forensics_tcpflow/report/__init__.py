"""Report writers (DFXML, JSON lines, CSV, HTML, bodyfile, Timesketch, Zeek) registered by name, fed from a FlowSpool."""

from forensics_tcpflow.report import bodyfile, csvfile, dfxml, htmlpage, jsonl, timesketch, zeek  # noqa: F401  (each registers its writer)
from forensics_tcpflow.report.registry import WRITERS, write_reports
from forensics_tcpflow.report.spool import FlowSpool

__all__ = ["WRITERS", "FlowSpool", "write_reports"]
