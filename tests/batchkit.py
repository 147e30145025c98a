"""Evidence folders for batch tests, built in tmp_path from the shared corpus, and report comparison."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import struct
from pathlib import Path

from lxml import etree

from conftest import CORPUS
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.report.dfxml import DFXML_NS, FTF_NS

PCAP_HEADER = struct.Struct("<IHHiIII")   # little-endian classic pcap, as the corpus files used here
RECORD_HEADER = struct.Struct("<IIII")
RUN_SPECIFIC_OPTIONS = {"outdir", "jobs", "resume", "quiet", "warnings", "report_path", "cluster"}


def pcap_records(path: Path) -> tuple[bytes, list[bytes]]:
    """The global header and every record (header included) of a little-endian pcap."""
    data = path.read_bytes()
    records, pos = [], PCAP_HEADER.size
    while pos < len(data):
        incl_len = RECORD_HEADER.unpack_from(data, pos)[2]
        records.append(data[pos:pos + RECORD_HEADER.size + incl_len])
        pos += RECORD_HEADER.size + incl_len
    return data[:PCAP_HEADER.size], records


def split_pcap(source: Path, first: Path, second: Path, at: int) -> None:
    header, records = pcap_records(source)
    first.write_bytes(header + b"".join(records[:at]))
    second.write_bytes(header + b"".join(records[at:]))


def build_evidence(root: Path) -> Path:
    """Nested folders, a gzip capture without a telling name, a text file and a truncated capture."""
    evidence = root / "evidence"
    (evidence / "site-a" / "day2").mkdir(parents=True)
    (evidence / "site-b").mkdir()
    shutil.copy(CORPUS / "zeek__http_get.pcap", evidence / "site-a" / "http_get.pcap")
    shutil.copy(CORPUS / "tcpflow__test7-three-flows.pcap", evidence / "site-a" / "day2" / "three-flows.pcap")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write((CORPUS / "pcapplusplus__one_http_stream_rst.pcap").read_bytes())
    (evidence / "site-b" / "rotated.dat").write_bytes(buffer.getvalue())
    (evidence / "site-b" / "notes.txt").write_text("case notes, not a capture\n")
    (evidence / "site-b" / "truncated.pcap").write_bytes((CORPUS / "zeek__http_get.pcap").read_bytes()[:3000])
    return evidence


def run_cli(*args: str, env: Environment | None = None) -> int:
    return main([*args], env or Environment(log=lambda line: None))


def tree(out: Path) -> dict[str, bytes]:
    """Every file under `out` but the report (compared apart) and the case page with its folder (it names
    the run and repeats flows.jsonl), by relative path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in ("report.xml", "report.html")
            and p.relative_to(out).parts[0] != "report_files"}


def normalized_report(path: Path) -> bytes:
    """report.xml without what differs from run to run (ids, times, resource use, run-specific options)."""
    doc = etree.parse(str(path))
    ftf, dfxml = {"f": FTF_NS}, {"d": DFXML_NS}
    for run in doc.xpath("//f:run", namespaces=ftf):
        for name in ("uuid", "start_time", "end_time"):
            run.attrib.pop(name, None)
    for option in doc.xpath("//f:option", namespaces=ftf):
        if option.get("name") in RUN_SPECIFIC_OPTIONS:
            option.getparent().remove(option)
    for element in doc.xpath("//f:cluster | //f:worker | //f:kernel | //f:replay", namespaces=ftf):   # where and how it ran
        before = element.getprevious()
        if before is not None:
            before.tail = element.tail     # the indentation that followed it
        element.getparent().remove(element)
    for tag in ("d:rusage", "d:execution_environment"):
        for element in doc.xpath(f"//{tag}", namespaces=dfxml):
            element.getparent().remove(element)
    return etree.tostring(doc)


def many_empty_flow_files(report: Path, count: int) -> None:
    """Rewrite a run's report to name `count` empty flow files (in folders of 1,000, names of 70
    characters) and make them: a run of many flows without running one."""
    text = report.read_text()
    first, last = text.index("  <fileobject>"), text.rindex("</fileobject>") + len("</fileobject>\n")
    one = re.search(r"  <fileobject>.*?</fileobject>\n", text, re.S).group(0)
    one = re.sub(r'<hashdigest type="md5">\w+', f'<hashdigest type="md5">{hashlib.md5().hexdigest()}', one)
    one = re.sub(r'<hashdigest type="sha256">\w+', f'<hashdigest type="sha256">{hashlib.sha256().hexdigest()}', one)
    name = re.search(r"<filename>(.*?)</filename>", one).group(1)
    shutil.rmtree(report.parent / name, ignore_errors=True)
    for path in report.parent.iterdir():
        if path.is_file() and path.suffix not in (".xml", ".jsonl", ".csv"):
            path.unlink()
    parts = []
    for i in range(count):
        flow = f"f{i // 1000:02d}/{i:06d}-{'x' * 60}"
        if i % 1000 == 0:
            (report.parent / flow).parent.mkdir()
        (report.parent / flow).touch()
        parts.append(one.replace(f"<filename>{name}<", f"<filename>{flow}<"))
    report.write_text(text[:first] + "".join(parts) + text[last:])
