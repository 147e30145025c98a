"""report.html: the case page in Debian's chromium (headless): rows, filters, sorting, body links,
hostile evidence shown as text, 200,000 flows with the first screen in under 2 s; and the files."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batchkit import CORPUS, run_cli
from browserkit import chromium, console_errors, wait_for
from capturekit import write_exchange
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.options import DEFAULT_REPORTS
from forensics_tcpflow.report import FlowSpool, registry, write_reports
from forensics_tcpflow.report.htmlpage import FOLDER, PAGE_ROWS
from report_samples import T0, make_flow, make_inputs, make_options, make_run

HTTP = "pcapplusplus__http-packets2.pcap"     # 18 flow directions, 5 bodies (one a 1x1 GIF)
HOSTILE = '<script>window.ftfPwned=1</script><img src=x onerror="window.ftfPwned=2">'
HOSTILE_URI = "/<svg/onload=window.ftfPwned=3>"        # a request line has no spaces inside the URI
BIG = 200_000
FIRST_RENDER_MS = 2_000

ROWS_JS = "return [...document.querySelectorAll('#' + arguments[0] + '-table tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))"
HEADERS_JS = "return [...document.querySelectorAll('#' + arguments[0] + '-table thead th')].map(th => th.dataset.column)"


def _loaded(driver: Any, kind: str = "flows") -> int:
    """Wait until every data page of `kind` is in; the table's row count."""
    table = driver.find_element("id", f"{kind}-table")
    wait_for(driver, lambda d: table.get_attribute("data-loaded") == "true")
    return int(table.get_attribute("data-rows"))


def _rows(driver: Any, kind: str = "flows") -> list[dict[str, str]]:
    headers = driver.execute_script(HEADERS_JS, kind)
    return [dict(zip(headers, cells)) for cells in driver.execute_script(ROWS_JS, kind)]


def _type(driver: Any, element_id: str, text: str, rows: int) -> None:
    box = driver.find_element("id", element_id)
    box.clear()
    box.send_keys(text)
    table = driver.find_element("id", element_id.split("-")[0] + "-table")
    wait_for(driver, lambda d: table.get_attribute("data-rows") == str(rows))


def _sort(driver: Any, column: str) -> None:
    header = driver.find_element("css selector", f"#flows-table th[data-column='{column}']")
    header.click()
    wait_for(driver, lambda d: header.get_attribute("class") in ("asc", "desc"))


def _screenshot(driver: Any, path: Path, section: str) -> None:
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", section)
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_corpus_page_rows_filters_sorting_and_a_body_link(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-e", "http", "-r", str(CORPUS / HTTP), "-o", str(out)) == ExitStatus.OK
    flows, bodies = _jsonl(out / "flows.jsonl"), _jsonl(out / "bodies.jsonl")
    with chromium(tmp_path / "profile") as driver:
        driver.get((out / "report.html").as_uri())
        assert _loaded(driver) == len(flows) == 18
        assert _loaded(driver, "bodies") == len(bodies) == 5
        port = flows[-1]["sport"]
        expected = [f for f in flows if port in (f["sport"], f["dport"])]
        _type(driver, "flows-port", str(port), len(expected))
        shown = _rows(driver)
        assert [(r["src"], r["sport"], r["dst"], r["dport"]) for r in shown] == [
            (f["src"], str(f["sport"]), f["dst"], str(f["dport"])) for f in expected]
        _type(driver, "flows-port", "", len(flows))
        _sort(driver, "bytes")
        by_bytes = sorted(flows, key=lambda f: -f["stream_length"])     # stable: report order breaks ties
        assert [(r["bytes"], r["file"]) for r in _rows(driver)[:5]] == [
            (str(f["stream_length"]), Path(f["filename"]).name) for f in by_bytes[:5]]
        _type(driver, "flows-address", "98.139.161.29", 2)
        driver.find_element("css selector", "#flows-table tbody tr td").click()       # both directions side by side
        sides = driver.find_elements("css selector", "#flows-detail .sides table")
        assert len(sides) == 2 and "client-to-server" in sides[0].text and "server-to-client" in sides[1].text
        assert console_errors(driver) == []
        _screenshot(driver, tmp_path / "corpus-page.png", "flows")
        gif = next(b for b in bodies if b["filename"].endswith(".gif"))
        driver.find_element("css selector", f"#bodies-table a[title='{gif['filename']}']").click()
        wait_for(driver, lambda d: d.current_url == (out / gif["filename"]).as_uri())
        wait_for(driver, lambda d: d.execute_script("return document.images.length && document.images[0].complete"))
        assert driver.execute_script("return document.images[0].naturalWidth") == 1


def test_a_script_in_a_host_header_is_shown_and_never_runs(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    capture = evidence / "x<b onmouseover=alert(1)>.pcap"         # a hostile file name too
    write_exchange(capture, 1_700_000_000, f"GET {HOSTILE_URI} HTTP/1.1\r\nHost: {HOSTILE}\r\n\r\n".encode(),
                   b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
    out = tmp_path / "o"
    assert run_cli("-q", "-e", "http", "-r", str(capture), "-o", str(out)) == ExitStatus.OK
    page = (out / "report.html").read_text()
    assert "<b onmouseover" not in page and "&lt;b onmouseover=alert(1)&gt;.pcap" in page
    with chromium(tmp_path / "profile") as driver:
        driver.get((out / "report.html").as_uri())
        assert _loaded(driver, "bodies") == 1
        body, = _rows(driver, "bodies")
        assert body["host"] == HOSTILE and body["uri"] == HOSTILE_URI
        _type(driver, "flows-text", "ftfPwned", 0)           # the text filter leaves the markup inert too
        time.sleep(0.5)                                       # an onerror would have fired by now
        assert driver.execute_script("return window.ftfPwned") is None
        assert driver.execute_script("return document.querySelectorAll('#bodies-table img, #bodies-table script').length") == 0
        assert console_errors(driver) == []
        _screenshot(driver, tmp_path / "hostile-page.png", "bodies")


def _many(count: int) -> list:
    """`count` flow directions of `count // 2` connections, ports and sizes spread so sorting means something."""
    base = make_flow(0)
    flows = []
    for index in range(count):
        conn, server = divmod(index, 2)
        ports = (80 + conn % 7, 1024 + conn % 60000)
        flows.append(replace(base, filename=f"f/{index:06d}", src=f"10.{conn % 200}.{conn // 200 % 250}.1",
                             dst="192.0.2.1", sport=ports[1 - server], dport=ports[server], connection_id=conn,
                             direction=("client-to-server", "server-to-client")[server],
                             first_ts_ns=T0 + index * 1000, last_ts_ns=T0 + index * 1000 + 5_000_000,
                             stream_length=index * 7919 % 1_000_003, filesize=index * 7919 % 1_000_003))
    return flows


def test_200000_flows_first_screen_within_2_s(tmp_path: Path) -> None:
    out = tmp_path / "o"
    flows = _many(BIG)
    started = time.perf_counter()
    write_reports(["html"], make_run(), make_inputs(), flows, make_options(str(out)), out / "report.xml")
    print(f"html report of {BIG} flows written in {time.perf_counter() - started:.2f} s,"
          f" {len(list((out / FOLDER).glob('flows-*.js')))} data pages")
    with chromium(tmp_path / "profile") as driver:
        started = time.perf_counter()
        driver.get((out / "report.html").as_uri())
        wait_for(driver, lambda d: d.execute_script("return window.ftf.firstRender"))
        waited_ms = (time.perf_counter() - started) * 1000
        first_render_ms = driver.execute_script("return window.ftf.firstRender")
        print(f"time to first table render: {first_render_ms:.0f} ms after navigation start"
              f" ({waited_ms:.0f} ms from the driver's request)")
        assert len(_rows(driver)) == 100
        assert first_render_ms <= FIRST_RENDER_MS
        assert _loaded(driver) == BIG
        print(f"all {BIG} rows in: {driver.execute_script('return performance.now()'):.0f} ms")
        port = 83
        expected = [f for f in flows if port in (f.sport, f.dport)]
        _type(driver, "flows-port", str(port), len(expected))
        assert [r["sport"] + ">" + r["dport"] for r in _rows(driver)[:3]] == [
            f"{f.sport}>{f.dport}" for f in expected[:3]]
        _type(driver, "flows-port", "", BIG)
        _sort(driver, "bytes")
        top = sorted(range(BIG), key=lambda i: -flows[i].stream_length)[:3]
        assert [r["file"] for r in _rows(driver)[:3]] == [f"{i:06d}" for i in top]
        assert console_errors(driver) == []
        _screenshot(driver, tmp_path / "200000-flows.png", "flows")


def test_default_reports_include_the_page_and_verify_counts_its_folder_as_its_own(tmp_path: Path, corpus: Path) -> None:
    assert "html" in DEFAULT_REPORTS
    out = tmp_path / "o"
    assert run_cli("-q", "-r", str(CORPUS / HTTP), "-o", str(out)) == ExitStatus.OK
    assert (out / "report.html").is_file() and (out / FOLDER / "report.js").is_file()
    assert not list(out.glob(f".{FOLDER}*"))             # no temporary folder left behind
    assert verify_report(out / "report.xml").ok


def test_the_helper_process_writes_the_same_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def write(name: str) -> Path:
        out = tmp_path / name
        spool = FlowSpool(tmp_path / f"{name}-spool", ("captures/a.pcap",))
        for index in range(PAGE_ROWS + 10):
            spool.add(make_flow(index))
        write_reports(["dfxml", "html", "zeek"], make_run(), make_inputs(), spool, make_options(str(out)),
                      out / "report.xml")
        return out
    alone = write("alone")
    monkeypatch.setattr(registry, "LARGE_RUN_FLOWS", 1)
    paired = write("paired")
    files = sorted(path.relative_to(alone) for path in (alone / FOLDER).iterdir())
    assert [str(name) for name in files][:3] == [f"{FOLDER}/flows-00000.js", f"{FOLDER}/flows-00001.js", f"{FOLDER}/report.css"]
    for name in [*files, Path("report.html"), Path("conn.log")]:
        assert (alone / name).read_bytes() == (paired / name).read_bytes(), name


def test_a_second_page_replaces_the_first_whole(tmp_path: Path) -> None:
    """A resumed run writes the page again: its folder replaces the earlier one, nothing temporary stays."""
    out = tmp_path / "o"
    for count in (PAGE_ROWS + 1, 3):
        write_reports(["html"], make_run(), make_inputs(), [make_flow(index) for index in range(count)],
                      make_options(str(out)), out / "report.xml")
    assert sorted(path.name for path in out.iterdir()) == ["report.html", FOLDER]
    assert sorted(path.name for path in (out / FOLDER).iterdir()) == ["flows-00000.js", "report.css", "report.js"]
