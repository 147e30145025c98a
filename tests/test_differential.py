"""Differential test: our flow files against tcpflow 1.6.1 and tshark 4.0 on every corpus capture.

Per capture (tests/expectations.toml says which case applies and why):
  (a) no table / tcpflow = "same": exactly tcpflow's file names and bytes;
  (b) tcpflow = "differs": our bytes per direction equal tshark's, and every tcpflow file that we do not
      reproduce is explained by one of the listed reason kinds;
  (c) tcpflow = "unreadable": tshark alone;
  (d) always: the number of our directions with data equals MANIFEST `tshark_tcp_data_directions`
      unless the table gives `directions` (with a reason).
A table with `gap` and `issue` is a known gap of ours (a link type or tunnel we do not decode yet, a
close rule we do not follow yet): the full comparison still runs and must fail (strict xfail naming the
issue and the first problem); if it passes, the test fails until the gap entry is removed.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from conftest import CORPUS, corpus_files, expectations, manifest_rows, require_corpus, require_oracle
from oracles import (SYN as SYN_FLAG, TCPFLOW, TSHARK, FlowName, Key, TsharkDirection, _assemble, _Packet,
                     _parse_block, format_flow_name, parse_flow_name, read_flow_dir, rebuild_from_fields,
                     run_tcpflow, tshark_streams)

TCPFLOW_MODES = ("same", "differs", "unreadable")
# compare -> (tshark source, overlap policy); "tcpflow" means case (a)
COMPARE: dict[str, tuple[str, str] | None] = {
    "tcpflow": None,
    "tshark": ("follow", "first"),
    "fields": ("fields", "first"),
    "fields-last": ("fields", "last"),
}
PADDING_SPAN = 64          # an Ethernet trailer is shorter than a minimum frame
MISSING_KINDS = frozenset({"ipv6-ext", "not-decoded", "null-family", "link-type", "mixed-link"})
REASON_KINDS = MISSING_KINDS | {"padding", "no-defrag", "vlan-tci", "overlap", "conn-split", "truncated",
                                "seq-jump", "snaplen", "follow-bug-1", "follow-bug-2", "follow-bug-3", "follow-bug-4",
                                "follow-bug-5", "follow-bug-6", "follow-bug-7", "rst-syn", "after-fin"}
TABLE_KEYS = frozenset({"tcpflow", "compare", "directions", "reasons", "gap", "issue"})
GAP_KEYS = ("gap", "issue")

Files = dict[str, bytes]


def reason_kinds(table: dict) -> set[str]:
    """The kind of a reason is its text before the first ':'."""
    return {r.split(":", 1)[0].strip() for r in table.get("reasons", [])}


def gap_problems(table: dict) -> list[str]:
    """A known-gap entry needs both keys: `gap` (what is missing, non-empty text) and `issue` (an int)."""
    if not any(k in table for k in GAP_KEYS):
        return []
    problems = [f"`{k}` without `{other}`" for k, other in (GAP_KEYS, GAP_KEYS[::-1])
                if k in table and other not in table]
    if "gap" in table and not (isinstance(table["gap"], str) and table["gap"].strip()):
        problems.append(f"`gap` must be a non-empty string, not {table['gap']!r}")
    if "issue" in table and type(table["issue"]) is not int:
        problems.append(f"`issue` must be an int (the open issue that closes the gap), not {table['issue']!r}")
    return problems


# --------------------------------------------------------------------------- running our CLI

def run_ours(capture: Path, outdir: Path) -> tuple[int, Files]:
    from forensics_tcpflow.cli import main  # imported late: collection must work while the CLI is written

    outdir.mkdir(parents=True, exist_ok=True)
    rc = main([str(capture), "-o", str(outdir), "--overlap", "last"])
    assert isinstance(rc, int), f"main() returned {rc!r}, not an exit status"
    return rc, read_flow_dir(outdir)


# --------------------------------------------------------------------------- comparison helpers

def first_diff(a: bytes, b: bytes) -> int | None:
    if a == b:
        return None
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def diff_spans(a: bytes, b: bytes) -> list[tuple[int, int]]:
    """Maximal (offset, length) runs where a and b differ; the longer file's tail is one run."""
    n = min(len(a), len(b))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if a[i] != b[i]:
            j = i
            while j < n and a[j] != b[j]:
                j += 1
            spans.append((i, j - i))
            i = j
        else:
            i += 1
    if len(a) != len(b):
        if spans and spans[-1][0] + spans[-1][1] == n:
            start = spans.pop()[0]
            spans.append((start, max(len(a), len(b)) - start))
        else:
            spans.append((n, abs(len(a) - len(b))))
    return spans


def describe(name: str, ours: bytes, theirs: bytes) -> str:
    return f"{name}: ours {len(ours)} B, oracle {len(theirs)} B, first difference at {first_diff(ours, theirs)}"


def data_directions(files: Files) -> dict[Key, list[tuple[str, bytes]]]:
    """Our (or tcpflow's) non-empty files grouped by 4-tuple, in connection order."""
    grouped: dict[Key, list[tuple[FlowName, str, bytes]]] = defaultdict(list)
    for name, data in files.items():
        if data:
            fn = parse_flow_name(name)
            grouped[fn.key].append((fn, name, data))
    return {k: [(name, data) for fn, name, data in sorted(v, key=lambda t: (t[0].conn, t[0].vlan or -1))]
            for k, v in grouped.items()}


def compare_with_tshark(ours: Files, tshark: list[TsharkDirection]) -> list[str]:
    """Pair directions by 4-tuple, then by order (our cN order, tshark's tcp.stream order)."""
    theirs: dict[Key, list[TsharkDirection]] = defaultdict(list)
    for d in tshark:
        if d.data:
            theirs[d.key].append(d)
    mine = data_directions(ours)
    problems = []
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key, []), theirs.get(key, [])
        if len(a) != len(b):
            problems.append(f"{key}: we have {len(a)} data direction(s) {[n for n, _ in a]}, tshark {len(b)} "
                            f"(streams {[d.stream for d in b]}, sizes {[len(d.data) for d in b]})")
            continue
        problems += [describe(name, data, d.data) + f" (tshark {d.source} stream {d.stream}, gaps {d.gaps[:4]})"
                     for (name, data), d in zip(a, b) if data != d.data]
    return problems


def same_as_tcpflow(ours: Files, reference: Files) -> list[str]:
    problems = [f"missing {n} ({len(reference[n])} B)" for n in sorted(set(reference) - set(ours))]
    problems += [f"extra {n} ({len(ours[n])} B)" for n in sorted(set(ours) - set(reference))]
    return problems + [describe(n, ours[n], reference[n]) for n in sorted(set(ours) & set(reference))
                       if ours[n] != reference[n]]


# --------------------------------------------------------------------------- explaining tcpflow's differences

def _span_explained(kinds: set[str], tf: bytes, ours: bytes, off: int, length: int) -> bool:
    if "padding" in kinds and length <= PADDING_SPAN:
        return True     # trailer bytes written as data (at a segment end, or overwriting a byte: last wins)
    if "no-defrag" in kinds:
        # only the first fragment was used: tcpflow has zeros (a hole) or nothing where we have the rest
        return not any(tf[off:off + length])
    return False


def _behind_zero_prefix(tf: bytes, ours: bytes) -> bool:
    """rst-syn: tcpflow wrote our bytes at their offset from the old ISN, behind a zero-filled prefix."""
    return 0 < len(ours) < len(tf) and tf.endswith(ours) and not any(tf[:len(tf) - len(ours)])


def _bytes_explained(kinds: set[str], tf: bytes, ours: bytes) -> bool:
    if "rst-syn" in kinds and _behind_zero_prefix(tf, ours):
        return True
    return all(_span_explained(kinds, tf, ours, off, n) for off, n in diff_spans(tf, ours))


def _stale_copy(kinds: set[str], tf: bytes, candidates: Iterable[bytes]) -> bool:
    """after-fin: a later tcpflow cN file made only of bytes we already wrote in one of `candidates`.

    One common shift for the whole file (anchored on its first non-zero run longer than a trailer);
    every byte that differs from ours at that shift is a zero-filled hole, or with padding listed
    part of a <= PADDING_SPAN non-zero run (a trailer).
    """
    anchor = re.search(rb"[^\x00]{%d,}" % (PADDING_SPAN + 1), tf)
    if anchor is None:
        return False
    probe = tf[anchor.start():anchor.start() + PADDING_SPAN + 1]
    for ours in candidates:
        found = ours.find(probe)
        base = found - anchor.start()
        if found < 0 or base < 0:
            continue
        aligned = ours[base:base + len(tf)]
        if all("padding" in kinds and len(run) <= PADDING_SPAN
               for off, n in diff_spans(tf, aligned) for run in re.findall(rb"[^\x00]+", tf[off:off + n])):
            return True
    return False


def explain_tcpflow(tcpflow: Files, ours: Files, kinds: set[str]) -> list[str]:
    """tcpflow files we do not reproduce exactly, and ours it lacks, that no listed reason explains."""
    def ident(fn: FlowName) -> tuple:
        return (fn.key, None if "vlan-tci" in kinds else fn.vlan, fn.conn)

    tf = {name: (parse_flow_name(name), data) for name, data in tcpflow.items()}
    mine = {name: (parse_flow_name(name), data) for name, data in ours.items() if data}
    for name in [n for n in tf if n in mine and tf[n][1] == mine[n][1]]:
        del tf[name], mine[name]

    def take(pred: Callable[[FlowName, bytes, FlowName, bytes], bool]) -> None:
        for tname, (tfn, tdata) in sorted(tf.items()):
            match = next((o for o, (ofn, odata) in sorted(mine.items()) if pred(tfn, tdata, ofn, odata)), None)
            if match is not None:
                del tf[tname], mine[match]

    split = "conn-split" in kinds
    take(lambda t, td, o, od: ident(t) == ident(o) and td == od)                      # vlan-tci renaming
    if split:
        take(lambda t, td, o, od: t.key == o.key and td == od)                        # other cN number
    take(lambda t, td, o, od: ident(t) == ident(o) and _bytes_explained(kinds, td, od))
    if split:
        take(lambda t, td, o, od: t.key == o.key and _bytes_explained(kinds, td, od))
    left = {ident(fn): (n, d) for n, (fn, d) in mine.items()}
    problems = []
    for name, (fn, data) in sorted(tf.items()):
        if ident(fn) in left:
            ours_name, ours_data = left.pop(ident(fn))
            del mine[ours_name]
            problems.append(f"tcpflow's {name} differs from our {ours_name} beyond the listed reasons: "
                            f"spans {diff_spans(data, ours_data)[:4]}")
        elif not (("padding" in kinds and len(data) <= PADDING_SPAN)      # a stray trailer-only file
                  or ("after-fin" in kinds and fn.conn > 0                   # stale copies after a FIN
                      and _stale_copy(kinds, data, [d for n, d in ours.items()
                                                    if d and parse_flow_name(n).key == fn.key]))):
            problems.append(f"tcpflow wrote {name} ({len(data)} B) that we do not reproduce")
    tf_keys = {parse_flow_name(name).key for name in tcpflow}
    problems += [f"we wrote {n} ({len(d)} B) that tcpflow lacks, no reason given"
                 for n, (fn, d) in sorted(mine.items()) if not (kinds & MISSING_KINDS and fn.key not in tf_keys)]
    return problems


# --------------------------------------------------------------------------- the test

def _params() -> list:
    names = corpus_files()
    return [pytest.param(n, id=n) for n in names] or [pytest.param(None, id="corpus-missing")]


@pytest.mark.parametrize("capture_name", _params())
def test_capture_matches_oracles(capture_name: str | None, tmp_path: Path) -> None:
    require_corpus()
    assert capture_name is not None
    table = expectations().get(capture_name, {})
    row = manifest_rows()[capture_name]
    kinds = reason_kinds(table)
    mode = table.get("tcpflow", "same")
    compare = table.get("compare", "tcpflow" if mode == "same" else "tshark")
    assert mode in TCPFLOW_MODES and compare in COMPARE and kinds <= REASON_KINDS, f"bad table: {table}"
    assert compare != "tcpflow" or mode == "same", f"tcpflow is not the reference where it {mode}: {table}"
    assert not gap_problems(table), f"bad gap entry {table}: {gap_problems(table)}"
    capture = CORPUS / capture_name

    rc, ours = run_ours(capture, tmp_path / "ours")
    problems: list[str] = []
    if mode == "same":                                                                 # (a)
        require_oracle(TCPFLOW)
        problems += same_as_tcpflow(ours, run_tcpflow(capture, tmp_path / "tcpflow").files)
    if COMPARE[compare] is not None:                                                   # (b), (c)
        require_oracle(TSHARK)
        problems += compare_with_tshark(ours, tshark_streams(capture, *COMPARE[compare]))
    if mode == "differs":                                                              # (b)
        require_oracle(TCPFLOW)
        problems += explain_tcpflow(run_tcpflow(capture, tmp_path / "tcpflow").files, ours, kinds)

    want = int(table.get("directions", row["tshark_tcp_data_directions"]))         # (d)
    have_n = sum(1 for data in ours.values() if data)
    if have_n != want:
        problems.append(f"{have_n} data directions, expected {want}")
    if "gap" in table:                                                                 # known gap: strict xfail
        if problems:
            pytest.xfail(f"known gap (issue {table['issue']}): {table['gap']}: {problems[0]}")
        pytest.fail(f"{capture_name} now matches the oracles, but expectations.toml lists it as a known gap "
                    f"(issue {table['issue']}): remove its `gap` and `issue` keys (and close or update the issue)")
    assert not problems, f"{capture_name} (rc {rc}, compare {compare}):\n  " + "\n  ".join(problems)


SAMPLES = Path(__file__).resolve().parents[1] / "sample_pcaps"
# Our own samples of layers no corpus capture has (sample_pcaps/generate.py): tshark alone is the oracle.
LAYER_SAMPLES = ("wifi-radiotap.pcap", "wifi-prism.pcap", "wifi-ppi.pcap", "wifi-beacons.pcap", "pflog.pcap", "l2tp.pcap",
                 "ayiya.pcap", "teredo.pcap", "erspan3.pcap")


@pytest.mark.parametrize("sample", LAYER_SAMPLES)
def test_layer_sample_matches_tshark(sample: str, tmp_path: Path) -> None:
    require_oracle(TSHARK)
    rc, ours = run_ours(SAMPLES / sample, tmp_path)
    assert rc == 0 and len(ours) == 2
    problems = compare_with_tshark(ours, tshark_streams(SAMPLES / sample))
    assert not problems, "\n  ".join(problems)


# --------------------------------------------------------------------------- the harness itself (no CLI needed)

def test_expectations_are_well_formed() -> None:
    rows = manifest_rows()
    for name, table in expectations().items():
        assert not rows or name in rows, f"{name}: no such corpus capture"
        assert set(table) <= TABLE_KEYS, f"{name}: unknown key {sorted(set(table) - TABLE_KEYS)}"
        assert not gap_problems(table), f"{name}: {gap_problems(table)}"
        assert table.get("tcpflow", "same") in TCPFLOW_MODES, name
        assert table.get("compare", "tshark") in COMPARE, name
        assert table["reasons"] and reason_kinds(table) <= REASON_KINDS, f"{name}: {table['reasons']}"
        assert isinstance(table.get("directions", 0), int), name


@pytest.mark.parametrize("name, parts", [
    ("010.000.000.001.00080-192.168.001.002.51234", ("10.0.0.1", 80, "192.168.1.2", 51234, None, 0)),
    ("2001:db8:1::1.00080-2001:db8:1::2.27393c2", ("2001:db8:1::1", 80, "2001:db8:1::2", 27393, None, 2)),
    ("001.001.001.001.12345-002.002.002.002.08080--45056c1", ("1.1.1.1", 12345, "2.2.2.2", 8080, 45056, 1)),
    ("::1.00022-::1.50266--0", ("::1", 22, "::1", 50266, 0, 0)),
])
def test_flow_names_round_trip(name: str, parts: tuple) -> None:
    assert tuple(parse_flow_name(name)) == parts
    assert format_flow_name(*parts) == name


def test_follow_block_with_gap_marker() -> None:
    block = ("\nFilter: tcp.stream eq 3\nNode 0: [2001:db8::1]:1234\nNode 1: 10.0.0.2:80\n"
             + b"GET ".hex() + "\n\t" + b"HTTP".hex() + "\n"
             + b"[2 bytes missing in capture file]\x00".hex() + "\n" + b"/x".hex() + "\n" + "=" * 67 + "\n")
    stream, nodes, chunks = _parse_block(block)
    client, server = _assemble(stream, nodes, chunks)
    assert stream == 3 and client.key == ("2001:db8::1", 1234, "10.0.0.2", 80)
    assert (client.data, client.gaps) == (b"GET \0\0/x", [(4, 2)])
    assert server.data == b"HTTP" and server.key == ("10.0.0.2", 80, "2001:db8::1", 1234)


def _pkt(seq: int, payload: bytes = b"", flags: int = 0x18) -> _Packet:
    return _Packet(0, "10.0.0.1", 1000, "10.0.0.2", 80, seq & 0xFFFFFFFF, flags, payload)


@pytest.mark.parametrize("overlap, expected", [("first", b"GOOD\0\0tail"), ("last", b"EVIL\0\0tail")])
def test_fields_rebuild_overlap_holes_and_wrap(overlap: str, expected: bytes) -> None:
    isn = 0xFFFFFFFE                                      # the data wraps past 2**32
    packets = [_pkt(isn + 7, b"tail"), _pkt(isn, flags=SYN_FLAG), _pkt(isn + 1, b"GOOD"), _pkt(isn + 1, b"EVIL")]
    d = rebuild_from_fields(0, ("10.0.0.1", 1000, "10.0.0.2", 80), packets, overlap)
    assert (d.data, d.gaps) == (expected, [(4, 2)])


def test_oracle_policy_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    monkeypatch.setattr(conftest, "have", lambda tool: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        conftest.require_oracle("tshark")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        conftest.require_oracle("tshark")


@pytest.mark.parametrize("table, problems", [
    ({"reasons": ["padding: x"]}, 0),
    ({"gap": "GENEVE not decoded", "issue": 11}, 0),
    ({"gap": "GENEVE not decoded"}, 1),
    ({"issue": 11}, 1),
    ({"gap": "GENEVE not decoded", "issue": "11"}, 1),
    ({"gap": "GENEVE not decoded", "issue": True}, 1),
    ({"gap": " ", "issue": 11}, 1),
])
def test_gap_entries_need_text_and_int_issue(table: dict, problems: int) -> None:
    assert len(gap_problems(table)) == problems


def test_rst_syn_and_after_fin_explanations() -> None:
    assert _bytes_explained({"rst-syn"}, bytes(2222) + b"GET /", b"GET /")
    assert not _bytes_explained({"rst-syn"}, bytes(2221) + b"XGET /", b"GET /")
    assert not _bytes_explained({"padding"}, bytes(2222) + b"GET /", b"GET /")
    ours = random.Random(11).randbytes(4000)
    stale = ours[1000:1300] + b"\1\2\3\4" + bytes(500) + ours[1804:2000] + bytes(20) + b"\7" * 10
    assert _stale_copy({"after-fin", "padding"}, stale, [b"other", ours])
    assert not _stale_copy({"after-fin"}, stale, [ours])                      # trailers need padding
    assert not _stale_copy({"after-fin", "padding"}, stale[:400] + b"\5" * 100 + stale[500:], [ours])
    assert not _stale_copy({"after-fin", "padding"}, bytes(100) + b"\x09" * 30, [ours])


def test_diff_spans_cover_tail() -> None:
    assert diff_spans(b"abcdef", b"abXdef\0\0") == [(2, 1), (6, 2)]
    assert diff_spans(b"abc", b"abX\0") == [(2, 2)]
    assert diff_spans(b"same", b"same") == []
