"""The DFXML report: valid under both schemas and both validators, every fact readable with plain lxml."""

from __future__ import annotations

import hashlib
import re
import tracemalloc
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from forensics_tcpflow.report import FlowSpool, write_reports
from forensics_tcpflow.report.codec import iso_time
from forensics_tcpflow.report.dfxml import DC_NS, DFXML_NS, FTF_NS, input_errors, xml_safe
from report_samples import MD5, SHA256, T0, make_flow, make_inputs, make_options, make_run, sample_flows

SHARED_DFXML = Path(__file__).resolve().parents[3] / "shared" / "dfxml"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NS = {"d": DFXML_NS, "ftf": FTF_NS, "dc": DC_NS}
CAPTURES = ("captures/a.pcap", "captures/b.pcapng")


def write(tmp_path: Path, flows, formats=("dfxml",), **run_changes) -> Path:
    out = tmp_path / "out"
    spool = FlowSpool(tmp_path / "spool", CAPTURES)
    for rec in flows:
        spool.add(rec)
    paths = write_reports(formats, make_run(**run_changes), make_inputs(), spool, make_options(str(out)),
                          out / "report.xml")
    return paths[0]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("dfxml"), sample_flows())


def _schema_files():
    official = SHARED_DFXML / "dfxml.xsd"
    if not official.is_file():
        pytest.skip("../shared/dfxml is not present")
    return [official, SCHEMAS / "forensics_tcpflow_report.xsd"]


@pytest.mark.parametrize("which", [0, 1], ids=["official-dfxml", "strict-report"])
def test_valid_with_lxml(report, which):
    schema = etree.XMLSchema(file=str(_schema_files()[which]))
    assert len(schema.error_log) == 0
    assert schema.validate(etree.parse(str(report))), schema.error_log


@pytest.mark.parametrize("which", [0, 1], ids=["official-dfxml", "strict-report"])
def test_valid_with_xmlschema(report, which):
    assert list(xmlschema.XMLSchema10(str(_schema_files()[which])).iter_errors(str(report))) == []


def test_shipped_dfxml_schema_is_the_official_one():
    for name in ("dfxml.xsd", "ref/dc.xsd", "ref/xml.xsd"):
        shared = SHARED_DFXML / name
        if not shared.is_file():
            pytest.skip("../shared/dfxml is not present")
        assert hashlib.sha256((SCHEMAS / "dfxml" / name).read_bytes()).digest() == \
            hashlib.sha256(shared.read_bytes()).digest()


def test_header_and_provenance(report):
    root = etree.parse(str(report)).getroot()
    assert root.tag == f"{{{DFXML_NS}}}dfxml" and root.get("version") == "2.0.0-beta.0"
    assert root.findtext("d:metadata/dc:type", namespaces=NS) == "Feature Extraction"
    run = root.find("d:metadata/ftf:run", NS)
    assert run.get("interrupted") == "false" and run.get("exit_status") == "0"
    assert run.get("end_time") == iso_time(T0 + 1_000_000_005)
    options = {o.get("name"): o for o in run.iterfind("ftf:options/ftf:option", NS)}
    assert options["overlap"].get("value") == "first"
    assert options["bpf"].get("value") == "tcp port 80"
    assert options["max_bytes"].get("value") is None
    assert [v.get("value") for v in options["hashes"]] == ["md5", "sha256"]
    derived = {o.get("name"): o.get("value") for o in run.iterfind("ftf:derived/ftf:option", NS)}
    assert derived == {"resolved_by": "test"} and "resolved_by" not in options
    first, second = run.findall("ftf:input", NS)
    assert first.get("path") == "captures/a.pcap" and first.get("linktypes") == "1"
    assert first.get("first_packet_time") == "2023-11-14T22:13:20.007999123Z"
    assert {h.get("type"): (h.get("before"), h.get("after")) for h in first.findall("ftf:hash", NS)} == \
        {"md5": (MD5, MD5), "sha256": (SHA256, SHA256)}
    assert {c.get("name"): c.get("value") for c in first.findall("ftf:counter", NS)}["fragments"] == "4"
    overlap = first.find("ftf:fragment_overlap", NS)
    assert (overlap.get("offset"), overlap.get("length"), overlap.get("kept")) == ("8", "16", "first")
    assert first.find("ftf:error", NS) is None
    assert second.get("linktypes") == "1 113" and second.get("compression") == "gzip"
    errors = [e.text for e in second.findall("ftf:error", NS)]
    assert errors[0].startswith("captures/b.pcapng: truncated") and "md5" in errors[1]
    assert run.find("ftf:input_totals", NS).get("errors") == "2"
    env = root.find("d:creator/d:execution_environment", NS)
    assert env.findtext("d:command_line", namespaces=NS) == "forensics-tcpflow -r a.pcap -o out"
    assert re.fullmatch(r"CPython \d+\.\d+\.\d+", root.findtext("d:creator/d:build_environment/d:compiler",
                                                                   namespaces=NS))
    assert [lib.get("name") for lib in root.iterfind("d:creator/d:library", NS)] == ["python", "dpkt", "lxml"]
    assert [e.text for e in root.iterfind("d:source/d:image_filename", NS)] == list(CAPTURES)
    assert root.find("d:rusage/d:clocktime", NS) is not None


def test_every_flow_fact_reads_back(report):
    """Plain lxml with only the DFXML and project namespaces recovers each flow."""
    root = etree.parse(str(report)).getroot()
    objects = root.findall("d:fileobject", NS)
    assert len(objects) == 5
    # report order: capture a first, by first packet time, then filename; capture b last
    assert [o.find("ftf:flow", NS).get("connection_id") for o in objects] == ["0", "1", "4", "3", "2"]
    empty, holed = objects[0], objects[1]
    assert empty.find("d:filename", NS) is None and empty.findtext("d:filesize", namespaces=NS) == "0"
    assert empty.find("d:hashdigest", NS) is None
    assert list(empty)[-1].tag == f"{{{FTF_NS}}}flow"
    assert holed.findtext("d:filename", namespaces=NS) == "a/010.000.000.002.40001-010.000.000.004.08080c1"
    assert {h.get("type"): h.text for h in holed.findall("d:hashdigest", NS)} == {"md5": MD5, "sha256": SHA256}
    flow = holed.find("ftf:flow", NS)
    rec = sample_flows()[1]
    assert flow.get("startime") == "2023-11-14T22:13:20.008000123Z"
    assert flow.get("family") == "2" and flow.get("src_ipn") == rec.src and flow.get("dstport") == "8080"
    assert flow.get("vlan") == "100 42" and flow.get("mac_saddr") == rec.mac_src
    assert flow.get("community_id") == rec.community_id and flow.get("connection_index") == "1"
    assert flow.get("stream_length") == "4096" and flow.get("snaplen_truncated_packets") == "1"
    assert flow.get("reassembled_datagrams") == "2" and flow.get("close_reason") == "seq-jump"
    assert [(h.get("offset"), h.get("length")) for h in flow.findall("ftf:hole", NS)] == [("10", "5"), ("100", "7")]
    assert [(t.get("offset"), t.get("length")) for t in flow.findall("ftf:truncated", NS)] == [("3", "2")]
    assert [(o.get("offset"), o.get("length"), o.get("kept")) for o in flow.findall("ftf:overlap", NS)] == \
        [("0", "4", "first"), ("20", "3", "first")]
    assert "stream_length" not in objects[2].find("ftf:flow", NS).attrib
    v6 = objects[3].find("ftf:flow", NS)
    assert v6.get("family") == "10" and v6.get("src_ipn") == "2001:db8::1" and "vlan" not in v6.attrib
    totals = root.find("ftf:flow_totals", NS)
    assert (totals.get("flows"), totals.get("files"), totals.get("holes")) == ("5", "4", "2")


def test_filename_is_relative_to_report_folder(tmp_path):
    out = tmp_path / "out"
    spool = FlowSpool(tmp_path / "spool")
    spool.add(make_flow(1, filename="a/flowfile"))
    report = write_reports(["dfxml"], make_run(), make_inputs(), spool, make_options(str(out)),
                           tmp_path / "reports" / "r.xml")[0]
    name = etree.parse(str(report)).findtext("d:fileobject/d:filename", namespaces=NS)
    assert name == "../out/a/flowfile"


def test_deterministic_apart_from_run_values(tmp_path):
    flows = sample_flows()
    first = write(tmp_path / "1", flows).read_text()
    second = write(tmp_path / "2", list(reversed(flows)), uuid="other", host="elsewhere", start_ns=T0 + 99).read_text()

    def stable(text: str) -> str:
        text = re.sub(r"<rusage>.*</rusage>", "", text, flags=re.S)
        text = re.sub(r'(uuid|start_time|end_time|value)="[^"]*(spool|out|other|6f1c9a52)[^"]*"', "", text)
        text = re.sub(r'(start_time|end_time)="[^"]*"', "", text)
        return re.sub(r"<(host|start_time)>[^<]*<", "<", text)

    assert stable(first) == stable(second)
    assert stable(first) != first


def test_unsafe_text_is_escaped():
    assert xml_safe("plain") == "plain"
    assert xml_safe("a\x01b\udcff") == "a\\x01b\\udcff"


def test_markup_characters_in_names_read_back(tmp_path):
    """Fileobjects are written as text by hand: names and captures holding XML's special characters
    (and a tab, a newline, a carriage return) must come back exactly, as lxml would have written them."""
    odd = 'cases/a&b <"x">\t\r\n\u00e9.pcap'
    flow = make_flow(1, capture=odd, filename="a/&<weird>\r", sources=[(odd, 1, 2)])
    report = write(tmp_path, [flow])
    fileobject = etree.parse(str(report)).getroot().find("d:fileobject", NS)
    assert fileobject.findtext("d:filename", namespaces=NS) == "a/&<weird>\r"
    assert fileobject.find("ftf:flow", NS).get("capture") == odd
    assert fileobject.find("ftf:flow/ftf:source", NS).get("capture") == odd


def test_input_errors_flag_changed_evidence():
    changed, ok = make_inputs()[1], make_inputs()[0]
    assert input_errors(ok) == []
    assert len(input_errors(changed)) == 2


def test_failed_write_leaves_no_report(tmp_path):
    def broken():
        yield make_flow(1)
        raise RuntimeError("flow stage died")

    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        write_reports(["dfxml", "jsonl", "csv"], make_run(), make_inputs(), broken(), make_options(str(out)),
                      out / "report.xml")
    assert list(out.iterdir()) == []


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown report format"):
        write_reports(["pdf"], make_run(), [], [], make_options(str(tmp_path)), tmp_path / "report.xml")


def test_memory_does_not_grow_with_flows(tmp_path):
    spool = FlowSpool(tmp_path / "spool", CAPTURES)
    for index in range(50_000, 0, -1):
        spool.add(make_flow(index, holes=[(1, 2)]))
    tracemalloc.start()
    try:
        write_reports(["dfxml"], make_run(), make_inputs(), spool, make_options(str(tmp_path / "out")),
                      tmp_path / "out" / "report.xml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak
    assert (tmp_path / "out" / "report.xml").read_bytes().count(b"<fileobject>") == 50_000
