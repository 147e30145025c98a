"""`diff REPORT_A REPORT_B`: do two runs give the same outputs from the same evidence, and if not, what differs.

Each run is its report and the files under the report's folder, hashed once (what the report says and
what is on disk may differ: a deleted or changed file is named). Inputs are compared by content,
options by what changes output (`options.RUN_ONLY` never counts), flow files, bodies and other
files by name and bytes, flows and bodies by their facts in the report. Run times, hosts, run-only
options and output paths never count. Versions and the options as given are notes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..options import RUN_ONLY
from .argv import as_given
from .runs import Run, Store, first_difference

LIMIT = 20          # details shown of each kind without --all
KINDS = {"flow": ("flow file", "flow files", "flows"), "body": ("body", "bodies", "bodies"),
         "other": ("other file", "other files", "other files")}
SINGULAR = {"inputs": "input", "options": "option", "flows": "flow", "bodies": "body", "other files": "other file",
            "files changed since their report": "file changed since its report"}
_SQL = """
CREATE TEMP TABLE present AS SELECT f.run, f.name, f.size, f.sha256, f.intact, COALESCE(n.kind, 'other') AS kind
    FROM files f LEFT JOIN named n ON n.run = f.run AND n.name = f.name;
CREATE INDEX temp.present_name ON present (name, run);
CREATE TEMP TABLE only AS SELECT p.run, p.name, p.kind, p.sha256,
    EXISTS (SELECT 1 FROM named n WHERE n.run = 1 - p.run AND n.name = p.name) AS named_by_other
    FROM present p WHERE NOT EXISTS (SELECT 1 FROM present q WHERE q.run = 1 - p.run AND q.name = p.name);
INSERT INTO only SELECT n.run, n.name, n.kind, NULL, 0 FROM named n
    WHERE n.onfile = 0 AND NOT EXISTS (SELECT 1 FROM named m WHERE m.run = 1 - n.run AND m.name = n.name);
CREATE TEMP TABLE renamed AS
    WITH a AS (SELECT name, kind, sha256, ROW_NUMBER() OVER (PARTITION BY sha256 ORDER BY name) AS rn
               FROM only WHERE run = 0 AND sha256 IS NOT NULL),
         b AS (SELECT name, sha256, ROW_NUMBER() OVER (PARTITION BY sha256 ORDER BY name) AS rn
               FROM only WHERE run = 1 AND sha256 IS NOT NULL)
    SELECT a.name AS a_name, b.name AS b_name, a.kind FROM a JOIN b ON a.sha256 = b.sha256 AND a.rn = b.rn;
CREATE INDEX temp.renamed_a ON renamed (a_name);
CREATE INDEX temp.renamed_b ON renamed (b_name);
DELETE FROM only WHERE (run = 0 AND name IN (SELECT a_name FROM renamed))
    OR (run = 1 AND name IN (SELECT b_name FROM renamed));
CREATE TEMP TABLE different AS SELECT a.name, a.kind, a.size AS a_size, b.size AS b_size
    FROM present a JOIN present b ON b.run = 1 AND b.name = a.name WHERE a.run = 0 AND a.sha256 <> b.sha256;
CREATE TEMP TABLE facts AS SELECT a.name, a.kind, a.facts AS a_facts, b.facts AS b_facts
    FROM named a JOIN named b ON b.run = 1 AND b.name = a.name WHERE a.run = 0 AND a.facts <> b.facts;
"""


def _n(count: int) -> str:
    return f"{count:,}"


@dataclass(slots=True)
class Section:
    """One kind of difference (or a note): how many, and the first ones as lines and as data."""

    title: str
    count: int
    lines: list[str]
    items: list[dict[str, Any]]
    counts: bool = True         # False: a note, never a reason for exit 4


@dataclass(slots=True)
class Diff:
    """The verdict: what is the same, what differs (by summary category), and the details."""

    same: dict[str, int] = field(default_factory=dict)
    differences: dict[str, int] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not any(self.differences.values())

    def summary(self) -> str:
        same = ", ".join(f"{_n(n)} {KINDS[kind][0 if n == 1 else 1]}" for kind, n in self.same.items() if n)
        differ = ", ".join(f"{_n(n)} {SINGULAR.get(name, name) if n == 1 else name}"
                           for name, n in self.differences.items() if n)
        return f"identical: {same or 'no files'}; " + (f"differences: {differ}" if differ else "no differences")

    def lines(self) -> Iterator[str]:
        yield self.summary()
        for section in self.sections:
            if section.count:
                yield f"{section.title} ({_n(section.count)}):"
                yield from (f"  {line}" for line in section.lines)
                if section.count > len(section.lines):
                    yield f"  ... and {_n(section.count - len(section.lines))} more (--all shows every one)"

    def as_json(self) -> str:
        return json.dumps({"identical": self.identical, "summary": self.summary(), "same": self.same,
                           "differences": self.differences,
                           "details": [{"title": s.title, "count": s.count, "counts": s.counts, "items": s.items}
                                       for s in self.sections if s.count]}, indent=2)


def diff_reports(a: Path, b: Path, limit: int | None = LIMIT) -> Diff:
    """Compare two runs; raises OSError / lxml's XMLSyntaxError when a report cannot be read."""
    store = Store()
    try:
        run_a, run_b = store.load(0, Path(a)), store.load(1, Path(b))
        store.db.executescript(_SQL)
        return _Comparison(store, run_a, run_b, -1 if limit is None else limit).verdict()
    finally:
        store.close()


class _Comparison:
    def __init__(self, store: Store, a: Run, b: Run, limit: int) -> None:
        self.db, self.a, self.b, self.limit = store.db, a, b, limit
        self.result = Diff()

    def verdict(self) -> Diff:
        result = self.result
        result.differences["inputs"] = self._inputs()
        result.differences["options"] = self._options()
        result.differences["exit status"] = self._run()
        self._notes()
        for kind in KINDS:
            result.same[kind] = self.db.execute("SELECT COUNT(*) FROM present a JOIN present b ON b.run = 1 AND"
                                                " b.name = a.name WHERE a.run = 0 AND a.kind = ? AND"
                                                " a.sha256 = b.sha256", (kind,)).fetchone()[0]
            result.differences[KINDS[kind][2]] = self._files(kind)
        result.differences["files changed since their report"] = self._changed()
        return result

    def _add(self, title: str, rows: list[tuple[str, dict[str, Any]]], count: int | None = None,
             counts: bool = True) -> int:
        shown = rows if self.limit < 0 else rows[:self.limit]
        total = len(rows) if count is None else count
        self.result.sections.append(Section(title, total, [line for line, _ in shown],
                                            [item for _, item in shown], counts))
        return total

    def _inputs(self) -> int:
        a, b = list(self.a.inputs), list(self.b.inputs)
        by_path = {inp.abspath or inp.path: inp for inp in b}
        changed, matched = [], set()
        for inp in a:
            other = by_path.get(inp.abspath or inp.path)
            if other is not None:
                matched.add(id(other))
                if (inp.size, inp.sha256, inp.md5) != (other.size, other.sha256, other.md5):
                    changed.append((f"{inp.abspath}: A {_n(inp.size)} bytes sha256 {inp.sha256}, B {_n(other.size)}"
                                    f" bytes sha256 {other.sha256}",
                                    {"path": inp.abspath, "a": _input_data(inp), "b": _input_data(other)}))
        only_a = [inp for inp in a if (inp.abspath or inp.path) not in by_path]
        only_b = [inp for inp in b if id(inp) not in matched]
        by_content = {inp.sha256: inp for inp in only_b if inp.sha256}
        renamed = []
        for inp in list(only_a):
            other = by_content.pop(inp.sha256, None)
            if other is not None:
                only_a.remove(inp)
                only_b.remove(other)
                renamed.append((f"{inp.abspath} (A) = {other.abspath} (B)", {"a": inp.abspath, "b": other.abspath}))
        total = self._add("inputs only in A", [(f"{i.abspath} sha256 {i.sha256}", _input_data(i)) for i in only_a])
        total += self._add("inputs only in B", [(f"{i.abspath} sha256 {i.sha256}", _input_data(i)) for i in only_b])
        total += self._add("inputs with other content", changed)
        self._add("inputs: same content under another name", renamed, counts=False)
        return total

    def _options(self) -> int:
        names = sorted((set(self.a.options) | set(self.b.options)) - RUN_ONLY)
        rows = [(f"{name}: A {self.a.options.get(name, '(not recorded)')}, B {self.b.options.get(name, '(not recorded)')}",
                 {"option": name, "a": self.a.options.get(name), "b": self.b.options.get(name)})
                for name in names if self.a.options.get(name) != self.b.options.get(name)]
        return self._add("options that change output", rows)

    def _run(self) -> int:
        a, b = (self.a.exit_status, self.a.interrupted), (self.b.exit_status, self.b.interrupted)
        rows = [] if a == b else [(f"exit status A {a[0]} (interrupted: {a[1]}), B {b[0]} (interrupted: {b[1]})",
                                   {"a": {"exit_status": a[0], "interrupted": a[1]},
                                    "b": {"exit_status": b[0], "interrupted": b[1]}})]
        return self._add("the runs ended differently", rows)

    def _notes(self) -> None:
        a, b = self.a, self.b
        given: list[tuple[str, dict[str, Any]]] = []
        if a.argv is None or b.argv is None:
            lacking = " and ".join(name for name, run in (("A", a), ("B", b)) if run.argv is None)
            given.append((f"not recorded in {lacking} (an older report)", {"not_recorded": lacking}))
        elif as_given(a.argv) != as_given(b.argv):
            given = [(f"A: {as_given(a.argv)}", {"a": list(a.argv)}), (f"B: {as_given(b.argv)}", {"b": list(b.argv)})]
        self._add("options as given differ (output paths shown as OUT)", given, count=len(given) and 1, counts=False)
        versions = {"forensics-tcpflow": (a.version, b.version)}
        versions.update((name, (a.libraries.get(name, "?"), b.libraries.get(name, "?")))
                        for name in sorted(set(a.libraries) | set(b.libraries)))
        versions["kernel"] = (_kernels(a), _kernels(b))
        self._add("versions differ", [(f"{name}: A {va}, B {vb}", {"name": name, "a": va, "b": vb})
                                      for name, (va, vb) in versions.items() if va != vb], counts=False)

    def _rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return self.db.execute(f"{sql} ORDER BY 1 LIMIT ?", (*args, self.limit)).fetchall()

    def _count(self, sql: str, *args: object) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM ({sql})", args).fetchone()[0]

    def _files(self, kind: str) -> int:
        many = KINDS[kind][1]
        for run, label, other in ((0, "A", "B"), (1, "B", "A")):
            sql = "SELECT name, named_by_other FROM only WHERE run = ? AND kind = ?"
            rows = [(name + (f" ({other}'s report names it: the file is missing)" if named else ""),
                     {"name": name, "named_by_other_report": bool(named)})
                    for name, named in self._rows(sql, run, kind)]
            self._add(f"{many} only in {label}", rows, self._count(sql, run, kind))
        sql = "SELECT name, a_size, b_size FROM different WHERE kind = ?"
        rows = []
        for name, a_size, b_size in self._rows(sql, kind):
            offset = first_difference(self.a.report.parent / name, self.b.report.parent / name)
            rows.append((f"{name}: first difference at offset {_n(offset)} (A {_n(a_size)} bytes, B {_n(b_size)})",
                         {"name": name, "offset": offset, "a_size": a_size, "b_size": b_size}))
        self._add(f"{many} with different bytes", rows, self._count(sql, kind))
        sql = "SELECT a_name, b_name FROM renamed WHERE kind = ?"
        self._add(f"{many}: the same bytes under another name",
                  [(f"{a} (A) = {b} (B)", {"a": a, "b": b}) for a, b in self._rows(sql, kind)], self._count(sql, kind))
        sql = "SELECT name, a_facts, b_facts FROM facts WHERE kind = ?"
        self._add(f"{many}: facts in the report differ",
                  [_facts(name, a, b) for name, a, b in self._rows(sql, kind)], self._count(sql, kind))
        return self._count("SELECT name FROM only WHERE kind = ? UNION SELECT name FROM different WHERE kind = ?"
                           " UNION SELECT a_name FROM renamed WHERE kind = ? UNION SELECT name FROM facts WHERE kind = ?",
                           kind, kind, kind, kind)

    def _changed(self) -> int:
        sql = "SELECT name, run FROM present WHERE intact = 0"
        return self._add("files changed since their own report was written",
                         [(f"{name} ({'AB'[run]})", {"name": name, "run": "AB"[run]})
                          for name, run in self._rows(sql)], self._count(sql))


def _kernels(run: Run) -> str:
    """The flow kernel implementations that walked the run's inputs, where its report states them."""
    return ",".join(sorted({inp.kernel for inp in run.inputs if inp.kernel})) or "(not stated)"


def _input_data(inp: Any) -> dict[str, Any]:
    return {"path": inp.path, "abspath": inp.abspath, "size": inp.size, "md5": inp.md5, "sha256": inp.sha256}


def _facts(name: str, a_text: str, b_text: str) -> tuple[str, dict[str, Any]]:
    a, b = json.loads(a_text), json.loads(b_text)
    changed = {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}
    text = "; ".join(f"{key} {_fact(va)} -> {_fact(vb)}" for key, (va, vb) in changed.items())
    return f"{name}: {text}", {"name": name, "facts": {key: {"a": va, "b": vb} for key, (va, vb) in changed.items()}}


def _fact(value: object) -> str:
    if value is None:
        return "(none)"
    return " | ".join(value) if isinstance(value, list) else str(value)
