"""FlowSpool: order independent of closing order, lossless records, merging across processes."""

import pickle
from concurrent.futures import ProcessPoolExecutor

from forensics_tcpflow.report.spool import FlowSpool
from report_samples import make_flow, sample_flows

CAPTURES = ("captures/a.pcap", "captures/b.pcapng")


def test_records_round_trip_in_defined_order(tmp_path):
    spool = FlowSpool(tmp_path, CAPTURES)
    for rec in sample_flows():
        spool.add(rec)
    got = list(spool)
    assert len(spool) == 5
    assert [rec.connection_id for rec in got] == [0, 1, 4, 3, 2]
    assert all(rec in sample_flows() for rec in got)  # tuples, lists and None come back as they went in
    assert list(spool) == got  # re-iterable


def test_odd_text_survives(tmp_path):
    spool = FlowSpool(tmp_path, CAPTURES)
    spool.add(make_flow(1, capture="caps/\udcff\x01.pcap", filename="f\udcfe"))
    (rec,) = list(spool)
    assert (rec.capture, rec.filename) == ("caps/\udcff\x01.pcap", "f\udcfe")


def test_order_does_not_depend_on_closing_order(tmp_path):
    flows = sample_flows()
    forward, backward = FlowSpool(tmp_path / "f", CAPTURES), FlowSpool(tmp_path / "b", CAPTURES)
    for rec in flows:
        forward.add(rec)
    for rec in reversed(flows):
        backward.add(rec)
    assert list(forward) == list(backward)


def test_unlisted_captures_sort_last_by_path(tmp_path):
    spool = FlowSpool(tmp_path, ("listed.pcap",))
    spool.add(make_flow(1, capture="z.pcap"))
    spool.add(make_flow(2, capture="listed.pcap", first_ts_ns=10**20))
    spool.add(make_flow(3, capture="m.pcap"))
    assert [rec.capture for rec in spool] == ["listed.pcap", "m.pcap", "z.pcap"]


def _worker(directory, capture, index):
    spool = FlowSpool(directory, CAPTURES)
    spool.add(make_flow(index, capture=capture))
    spool.add(make_flow(index + 10, capture=capture, first_ts_ns=1))
    return spool


def test_merge_spools_from_worker_processes(tmp_path):
    with ProcessPoolExecutor(max_workers=2) as pool:
        spools = list(pool.map(_worker, [tmp_path, tmp_path], list(reversed(CAPTURES)), [1, 2]))
    merged = FlowSpool.merge(spools)
    assert [(rec.capture, rec.connection_id) for rec in merged] == \
        [("captures/a.pcap", 12), ("captures/a.pcap", 2), ("captures/b.pcapng", 11), ("captures/b.pcapng", 1)]
    merged.remove()
    assert list(tmp_path.iterdir()) == []


def test_pickled_spool_keeps_growing(tmp_path):
    spool = FlowSpool(tmp_path, CAPTURES)
    spool.add(make_flow(2))
    copy = pickle.loads(pickle.dumps(spool))
    copy.add(make_flow(1))
    assert [rec.connection_id for rec in copy] == [1, 2]


def test_many_runs_merge_in_order(tmp_path, monkeypatch):
    import random

    from forensics_tcpflow.report import spool as spool_module
    monkeypatch.setattr(spool_module, "RUN_RECORDS", 3)
    monkeypatch.setattr(spool_module, "MAX_OPEN_RUNS", 2)
    flows = [make_flow(i, first_ts_ns=random.Random(i).randrange(10**9)) for i in range(50)]
    spool = FlowSpool(tmp_path, CAPTURES)
    for rec in reversed(flows):
        spool.add(rec)
    expected = sorted(flows, key=spool.key)
    assert list(spool) == expected and list(spool) == expected and len(spool) == 50
