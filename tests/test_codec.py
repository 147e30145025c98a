"""Report value helpers: nanosecond times without floats, relative names."""

from forensics_tcpflow.report.codec import iso_time, report_filename, seconds_text


def test_iso_time_keeps_nanoseconds():
    assert iso_time(1_700_000_000_007_999_123) == "2023-11-14T22:13:20.007999123Z"
    assert iso_time(0) == "1970-01-01T00:00:00.000000000Z"
    assert iso_time(-1) == "1969-12-31T23:59:59.999999999Z"
    assert iso_time(2**62) == "2116-02-20T23:53:38.427387904Z"


def test_seconds_text():
    assert seconds_text(1_500_000_123) == "1.500000"


def test_report_filename(tmp_path):
    assert report_filename("", "out", "out") == ""
    assert report_filename("a/f", str(tmp_path / "out"), tmp_path / "out") == "a/f"
    assert report_filename("f", str(tmp_path / "out"), tmp_path) == "out/f"

