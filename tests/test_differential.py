"""Differential test: our flow files against tcpflow 1.6.1 and tshark 4.0 on every corpus capture.

Per capture (tests/expectations.toml says which case applies and why):
  (a) no table / tcpflow = "same": exactly tcpflow's file names and bytes;
  (b) tcpflow = "differs": our bytes per direction equal tshark's, and every tcpflow file that we do not
      reproduce is explained by one of the listed reason kinds;
  (c) tcpflow = "unreadable": tshark alone;
  (d) always: the number of our directions with data equals MANIFEST `tshark_tcp_data_directions`
      unless the table gives `directions` (with a reason).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CORPUS, corpus_files, expectations, manifest_rows, require_corpus, require_oracle
from oracles import (TCPFLOW, TSHARK, FlowName, Key, TsharkDirection, parse_flow_name, read_flow_dir,
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
                                "seq-jump", "follow-bug-1", "follow-bug-2", "follow-bug-3", "follow-bug-4",
                                "follow-bug-5", "follow-bug-6", "follow-bug-7"}

Files = dict[str, bytes]


def reason_kinds(table: dict) -> set[str]:
    """The kind of a reason is its text before the first ':'."""
    return {r.split(":", 1)[0].strip() for r in table.get("reasons", [])}


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
        problems += [describe(name, data, d.data) + f" (tcp.stream {d.stream}, tshark gaps {d.gaps[:4]})"
                     for (name, data), d in zip(a, b) if data != d.data]
    return problems


# --------------------------------------------------------------------------- explaining tcpflow's differences

def _span_explained(kinds: set[str], tf: bytes, ours: bytes, off: int, length: int) -> bool:
    if "padding" in kinds and length <= PADDING_SPAN:
        return True     # trailer bytes written as data (at a segment end, or overwriting a byte: last wins)
    if "no-defrag" in kinds:
        # only the first fragment was used: tcpflow has zeros (a hole) or nothing where we have the rest
        return not any(tf[off:off + length])
    return False


def _bytes_explained(kinds: set[str], tf: bytes, ours: bytes) -> bool:
    return all(_span_explained(kinds, tf, ours, off, n) for off, n in diff_spans(tf, ours))


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
    problems = [f"tcpflow wrote {n} ({len(d)} B) that we do not reproduce"
                for n, (fn, d) in sorted(tf.items()) if not ("padding" in kinds and len(d) <= PADDING_SPAN)]
    tf_keys = {fn.key for fn, _ in parse_all(tcpflow)}
    problems += [f"we wrote {n} ({len(d)} B) that tcpflow lacks, no reason given"
                 for n, (fn, d) in sorted(mine.items()) if not (kinds & MISSING_KINDS and fn.key not in tf_keys)]
    return problems


def parse_all(files: Files) -> list[tuple[FlowName, bytes]]:
    return [(parse_flow_name(name), data) for name, data in files.items()]


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
    capture = CORPUS / capture_name

    rc, ours = run_ours(capture, tmp_path / "ours")
    problems: list[str] = []
    if COMPARE[compare] is None:                                                       # (a)
        require_oracle(TCPFLOW)
        reference = run_tcpflow(capture, tmp_path / "tcpflow").files
        problems += [f"missing {n} ({len(reference[n])} B)" for n in sorted(set(reference) - set(ours))]
        problems += [f"extra {n} ({len(ours[n])} B)" for n in sorted(set(ours) - set(reference))]
        problems += [describe(n, ours[n], reference[n]) for n in sorted(set(ours) & set(reference))
                     if ours[n] != reference[n]]
    else:                                                                              # (b), (c)
        require_oracle(TSHARK)
        source, overlap = COMPARE[compare]
        problems += compare_with_tshark(ours, tshark_streams(capture, source, overlap))
        if mode == "differs":
            require_oracle(TCPFLOW)
            reference = run_tcpflow(capture, tmp_path / "tcpflow").files
            problems += explain_tcpflow(reference, ours, kinds)

    want = int(table.get("directions", row["tshark_tcp_data_directions"]))         # (d)
    have_n = sum(1 for data in ours.values() if data)
    if have_n != want:
        problems.append(f"{have_n} data directions, expected {want}")
    assert not problems, f"{capture_name} (rc {rc}, compare {compare}):\n  " + "\n  ".join(problems)
