"""validate_report: both schemas, both validators, and the hash rules XSD cannot state."""

import pytest

from forensics_tcpflow.report import FlowSpool, write_reports
from forensics_tcpflow.report.validate import schema_dir, validate_report
from report_samples import make_inputs, make_options, make_run, sample_flows


@pytest.fixture(scope="module")
def report_text(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validate")
    spool = FlowSpool(tmp / "spool")
    for rec in sample_flows():
        spool.add(rec)
    out = tmp / "out"
    (path,) = write_reports(["dfxml"], make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml")
    return path.read_text()


def check(tmp_path, text):
    path = tmp_path / "report.xml"
    path.write_text(text)
    return validate_report(path, thorough=True)


def test_schemas_are_found():
    assert (schema_dir() / "forensics_tcpflow.xsd").is_file()


def test_written_report_is_valid(tmp_path, report_text):
    assert check(tmp_path, report_text) == []


def test_bad_attribute_value_reported_with_line(tmp_path, report_text):
    errors = check(tmp_path, report_text.replace('family="10"', 'family="6"'))
    line = report_text[:report_text.index('family="10"')].count("\n") + 1
    assert any(f":{line}: " in e and "xmlschema" in e for e in errors), errors
    assert any("lxml" in e for e in errors)


def test_foreign_element_before_hashdigest_is_caught(tmp_path, report_text):
    """libxml2 alone accepts this order under the official schema; xmlschema and our schema do not."""
    start = report_text.index("    <hashdigest")
    end = report_text.index("    <ftf:flow", start)
    flow_end = report_text.index("</fileobject>", end)
    swapped = report_text[:start] + report_text[end:flow_end] + report_text[start:end] + report_text[flow_end:]
    errors = check(tmp_path, swapped)
    assert any("dfxml.xsd (xmlschema)" in e for e in errors), errors


def test_missing_hash_is_caught(tmp_path, report_text):
    start = report_text.index('    <hashdigest type="sha256">')
    end = report_text.index("\n", start) + 1
    errors = check(tmp_path, report_text[:start] + report_text[end:])
    assert any("expected ['md5', 'sha256']" in e for e in errors), errors


def test_truncated_report_is_not_well_formed(tmp_path, report_text):
    cut = report_text.index("\n", len(report_text) // 2)     # between elements: where the run stops writing
    errors = check(tmp_path, report_text[:cut])
    assert len(errors) == 1 and "not well-formed" in errors[0]
