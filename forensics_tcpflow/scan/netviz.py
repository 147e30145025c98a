"""`-e netviz`: tcpflow's one-page picture of a capture, as report.pdf (A4) and report.png (150 dpi) beside the report.

Drawn from the finished flows and the inputs' counters (no second read of the
captures): traffic over time spreads each flow direction's packets and bytes
over its lifetime in whole packets and bytes, stacked by the top destination
ports, on a date axis; captures far apart in time get an axis segment each (a
broken axis) instead of a sliver in a decades-wide span. Then the top addresses
and ports, and, beyond tcpflow, flow sizes and durations and how complete the
evidence is (holes, overlaps, snaplen cuts, undecodable packets). matplotlib is
an optional extra: without it the run goes on and says how to get it.
"""

from __future__ import annotations

import textwrap
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from forensics_tcpflow.environment import WARNING
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import NS
from forensics_tcpflow.report.atomic import AtomicFile
from forensics_tcpflow.report.codec import iso_time
from forensics_tcpflow.environment import WARNING
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.scan.registry import ScanContext, ScanResults, register

PICTURES = ("report.pdf", "report.png")
INSTALL_HINT = "pip install 'forensics-tcpflow[netviz]' (matplotlib)"
TOP = 10                  # bars in each top-N panel
TOP_PORTS_STACKED = 5     # destination ports with their own colour over time; the rest are "other"
TIME_BINS = 60            # over the whole time axis, shared out among its segments
MAX_SEGMENTS = 4          # periods of a broken time axis; later ones are named, not drawn
FAR_APART = 0.1           # a gap longer than this share of the whole span breaks the time axis
PAGE_INCHES = (8.27, 11.69)   # A4 portrait
PNG_DPI = 150
FONT = 8                  # points: the smallest text on the page
_BLOCK = 20_000           # flows spread over the time bins at once (bounded memory)
_DAY_NS = 86_400 * NS
_DATES = (-719_162 * _DAY_NS, 2_932_896 * _DAY_NS)   # years 1 to 9999: what a date axis can show
_PREFIXES = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))   # SI: round ticks stay round


@dataclass(slots=True)
class Tallies:
    """Every number the page shows, gathered in one pass over the flows (per flow: 5 machine integers)."""

    histogram_size: int = 1000    # -S netviz_histogram_size: addresses each address histogram keeps
    flows: int = 0
    packets: int = 0
    wire_bytes: int = 0
    file_bytes: int = 0
    holes: int = 0
    hole_bytes: int = 0
    overlaps: int = 0
    truncated_ranges: int = 0
    families: Counter = field(default_factory=Counter)
    src: Counter = field(default_factory=Counter)          # bytes on the wire per address / port
    dst: Counter = field(default_factory=Counter)
    sport: Counter = field(default_factory=Counter)
    dport: Counter = field(default_factory=Counter)
    first: array = field(default_factory=lambda: array("q"))
    last: array = field(default_factory=lambda: array("q"))
    counts: array = field(default_factory=lambda: array("q"))    # packets, bytes, dport, stream bytes per flow, flat

    def add(self, rec: FlowRecord) -> None:
        self.flows += 1
        self.packets += rec.packets
        self.wire_bytes += rec.wire_bytes
        self.file_bytes += rec.filesize
        self.holes += len(rec.holes)
        self.hole_bytes += sum(length for _, length in rec.holes)
        self.overlaps += len(rec.overlaps)
        self.truncated_ranges += len(rec.truncated)
        self.families[f"TCP/IPv{rec.family}"] += rec.packets
        for counter, key in ((self.src, rec.src), (self.dst, rec.dst), (self.sport, rec.sport), (self.dport, rec.dport)):
            counter[key] += rec.wire_bytes
        for counter in (self.src, self.dst):
            if len(counter) > 2 * self.histogram_size:      # as tcpflow's bounded address trees: the largest stay
                kept = counter.most_common(self.histogram_size)
                counter.clear()
                counter.update(dict(kept))
        self.first.append(rec.first_ts_ns)
        self.last.append(rec.last_ts_ns)
        self.counts.extend((rec.packets, rec.wire_bytes, rec.dport, rec.stream_length))


def _count(value: float, _: object = None, unit: str = "") -> str:
    """Axis labels: 400 k, 1.5 M; with a unit 1.5 MB, 20 kB, 512."""
    for size, prefix in _PREFIXES:
        if abs(value) >= size:
            return f"{value / size:.3g} {prefix}{unit}"
    return f"{value:.0f}"


def _human(value: float, _: object = None) -> str:
    return _count(value, unit="B")


def _seconds(value: float, _: object = None) -> str:
    for size, unit in ((31_557_600, "years"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return "0"


def segments(inputs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The periods of the time axis: the inputs' [first, last] merged wherever the gap between them
    is under FAR_APART of the whole span (one period for a single capture or a continuous set)."""
    spans = sorted(inputs)
    if not spans:
        return [(0, 1)]
    whole = max(last for _, last in spans) - spans[0][0]
    merged = [list(spans[0])]
    for first, last in spans[1:]:
        if first - merged[-1][1] > FAR_APART * whole:
            merged.append([first, last])
        else:
            merged[-1][1] = max(merged[-1][1], last)
    return [(first, max(last, first + 1)) for first, last in merged]


def _spread(tallies: Tallies, edges: Any, ports: list[int]) -> tuple[Any, Any]:
    """(packets, bytes) per time bin and stacked port (the last row: other ports), in whole packets and
    bytes: each flow's share of [first, last] up to each edge, rounded, so its bins sum to its total
    (all in one bin when it lasted no time); a flow's part outside the edges is not drawn."""
    import numpy as np
    rows = len(ports) + 1
    packets = np.zeros((rows, len(edges) - 1), dtype=np.int64)
    volume = np.zeros((rows, len(edges) - 1), dtype=np.int64)
    row_of = {port: index for index, port in enumerate(ports)}
    counts = np.frombuffer(tallies.counts, dtype=np.int64).reshape(-1, 4) if tallies.flows else np.zeros((0, 4), np.int64)
    first_all = np.frombuffer(tallies.first, dtype=np.int64) if tallies.flows else np.zeros(0, np.int64)
    last_all = np.frombuffer(tallies.last, dtype=np.int64) if tallies.flows else np.zeros(0, np.int64)
    for start in range(0, tallies.flows, _BLOCK):
        first = first_all[start:start + _BLOCK, None].astype(np.float64)
        last = last_all[start:start + _BLOCK, None].astype(np.float64)
        block = counts[start:start + _BLOCK]
        span = np.maximum(last - first, 1.0)
        share = np.clip((edges[None, :] - first) / span, 0.0, 1.0)
        row = np.full(len(block), rows - 1)
        for port, index in row_of.items():
            row[block[:, 2] == port] = index
        for column, out in ((0, packets), (1, volume)):
            parts = np.diff(np.floor(share * block[:, column:column + 1] + 0.5).astype(np.int64), axis=1)
            for index in range(rows):
                out[index] += parts[row == index].sum(axis=0)
    return packets, volume


def _integer_axis(axis: Any, formatter: Any = None) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    axis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=1))
    if formatter is not None:
        axis.set_major_formatter(FuncFormatter(formatter))


def _bars(ax: Any, counter: Counter, title: str) -> None:
    top = counter.most_common(TOP)[::-1]
    ax.barh([str(key) for key, _ in top], [value for _, value in top], color="#4c72b0")
    ax.set_title(title, fontsize=FONT + 2)
    ax.set_xlabel("bytes on the wire", fontsize=FONT + 1)
    _integer_axis(ax.xaxis, _human)
    ax.tick_params(labelsize=FONT)


def _log_histogram(ax: Any, values: Any, title: str, unit: str, formatter: Any) -> None:
    """Counts of flow directions in logarithmic bins; zeros are drawn in the smallest bin."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, LogLocator
    positive = values[values > 0]
    low = positive.min() if len(positive) else 1.0
    high = max(positive.max() if len(positive) else 1.0, low * 10)
    if len(values):
        ax.hist(np.maximum(values, low), bins=np.geomspace(low, high, 21), color="#55a868")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.xaxis.set_major_formatter(FuncFormatter(formatter))
    _integer_axis(ax.yaxis, _count)
    ax.set_title(title, fontsize=FONT + 2)
    ax.set_xlabel(unit, fontsize=FONT + 1)
    ax.set_ylabel("flow directions", fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT)


def _time_panel(fig: Any, spec: Any, periods: list[tuple[int, int]], values: list[Any], edges: list[Any],
                labels: list[str], what: str, dates: bool) -> list[Any]:
    """One stacked-bar panel over time: an axis per period side by side, sharing the counts axis,
    with break marks between them."""
    import numpy as np
    import matplotlib.dates as mdates
    cells = spec.subgridspec(1, len(periods), wspace=0.08)
    axes: list[Any] = []
    colours = [f"C{index}" for index in range(len(labels))]
    for index, ((begin, end), counts, bin_edges) in enumerate(zip(periods, values, edges)):
        ax = fig.add_subplot(cells[0, index], sharey=axes[0] if axes else None)
        x = (bin_edges / _DAY_NS if dates else (bin_edges - begin) / NS)
        bottom = np.zeros(len(x) - 1, dtype=np.int64)
        for label, colour, row in zip(labels, colours, counts):
            if row.any():
                ax.bar(x[:-1], row, width=np.diff(x), bottom=bottom, align="edge", label=label, color=colour,
                       linewidth=0)
                bottom += row
        ax.set_xlim(x[0], x[-1])
        if dates:
            locator = mdates.AutoDateLocator(minticks=2, maxticks=6)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))
        ax.tick_params(labelsize=FONT)
        ax.xaxis.get_offset_text().set_fontsize(FONT)
        if index:
            ax.tick_params(labelleft=False, left=False)
            ax.spines["left"].set_visible(False)
            ax.plot([0, 0], [0, 1], transform=ax.transAxes, color="black", linestyle=(0, (2, 2)), clip_on=False)
        if index < len(periods) - 1:
            ax.spines["right"].set_visible(False)
        axes.append(ax)
    _integer_axis(axes[0].yaxis, _human if what == "bytes" else _count)
    axes[0].set_ylabel(what, fontsize=FONT + 1)
    return axes


def draw(tallies: Tallies, ctx: ScanContext) -> Any:
    """The page as a matplotlib Figure (the tests read its texts and axes)."""
    from matplotlib.figure import Figure
    import numpy as np
    inputs = ctx.inputs
    spans = [(inp.first_ts_ns, inp.last_ts_ns) for inp in inputs if inp.first_ts_ns is not None and inp.last_ts_ns is not None]
    if not spans and tallies.flows:
        spans = [(min(tallies.first), max(tallies.last))]
    periods = segments(spans)
    begin, end = periods[0][0], periods[-1][1]
    dates = _DATES[0] <= begin and end <= _DATES[1]
    hidden = periods[MAX_SEGMENTS:]
    periods = periods[:MAX_SEGMENTS]
    fig = Figure(figsize=PAGE_INCHES, layout="constrained")
    fig.get_layout_engine().set(h_pad=0.06, w_pad=0.06, hspace=0.04, wspace=0.04)
    grid = fig.add_gridspec(6, 2, height_ratios=[1.3, 2, 2, 1.7, 1.7, 1.7])
    names = [Path(inp.path).name for inp in inputs]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    packets_in = sum(inp.packets for inp in inputs)
    undecodable = sum(inp.undecodable_packets for inp in inputs)
    snaplen_cut = sum(inp.truncated_packets for inp in inputs)
    transports = ", ".join(f"{name} {count}" for name, count in sorted(tallies.families.items())) or "none"
    head = fig.add_subplot(grid[0, :])
    head.axis("off")
    title = textwrap.fill(f"forensics-tcpflow netviz: {shown or 'no input'}", 80)
    periods_text = f" in {len(periods) + len(hidden)} periods far apart" if len(periods) + len(hidden) > 1 else ""
    lines = [
        f"{iso_time(begin)}  to  {iso_time(end)}{periods_text}   ({_seconds((end - begin) / NS)} from first to last packet)",
        f"packets: {packets_in}   TCP flow directions: {tallies.flows}   TCP packets: {tallies.packets}"
        f"   wire bytes: {tallies.wire_bytes}   bytes in flow files: {tallies.file_bytes}",
        f"transports (packets): {transports}, not in a TCP flow {max(0, packets_in - tallies.packets)}",
    ]
    head.text(0.5, 1.0, title, ha="center", va="top", fontsize=FONT + 5, transform=head.transAxes)
    for number, line in enumerate(lines):
        head.text(0.5, 0.74 - number * 0.14, line, ha="center", va="top", fontsize=FONT, transform=head.transAxes)
    bad = tallies.holes or tallies.overlaps or undecodable
    head.text(0.5, 0.74 - len(lines) * 0.14,
              f"evidence: holes: {tallies.holes} ({tallies.hole_bytes} bytes)   overlaps: {tallies.overlaps}"
              f"   snaplen-cut packets: {snaplen_cut}   undecodable packets: {undecodable}",
              ha="center", va="top", fontsize=FONT, color="#b00000" if bad else "black", transform=head.transAxes)
    ports = [port for port, _ in tallies.dport.most_common(TOP_PORTS_STACKED)]
    labels = [f"dst port {port}" for port in ports] + ["other ports"]
    bins = max(10, TIME_BINS // len(periods))
    edges = [np.linspace(first, last, bins + 1, dtype=np.float64) for first, last in periods]
    spread = [_spread(tallies, period_edges, ports) for period_edges in edges]
    for row, what, pick in ((1, "packets", 0), (2, "bytes", 1)):
        axes = _time_panel(fig, grid[row, :], periods, [part[pick] for part in spread], edges, labels, what, dates)
        where = "UTC" if dates else f"seconds since {iso_time(begin)}"
        broken = (f"; one segment per period{f', {len(hidden)} later ones not drawn' if hidden else ''}"
                  if len(periods) > 1 else "")
        axes[0].set_title(f"{what} over time ({where}) by destination port, each flow spread over its lifetime{broken}",
                          fontsize=FONT + 1, loc="left")
        if row == 1:
            legend = {name: handle for ax in axes for handle, name in zip(*ax.get_legend_handles_labels())}
            names = [label for label in labels if label in legend]
            handles = [legend[label] for label in names]
            if handles:
                head.legend(handles, names, loc="lower center", ncols=len(names), fontsize=FONT, frameon=False,
                            bbox_to_anchor=(0.5, -0.1))
    _bars(fig.add_subplot(grid[3, 0]), tallies.src, "top source addresses")
    _bars(fig.add_subplot(grid[3, 1]), tallies.dst, "top destination addresses")
    _bars(fig.add_subplot(grid[4, 0]), tallies.sport, "top source ports")
    _bars(fig.add_subplot(grid[4, 1]), tallies.dport, "top destination ports")
    counts = np.frombuffer(tallies.counts, dtype=np.int64).reshape(-1, 4) if tallies.flows else np.zeros((0, 4), np.int64)
    durations = (np.frombuffer(tallies.last, dtype=np.int64) - np.frombuffer(tallies.first, dtype=np.int64)
                 if tallies.flows else np.zeros(0, np.int64))
    _log_histogram(fig.add_subplot(grid[5, 0]), counts[:, 3].astype(np.float64), "flow sizes",
                   "stream bytes (log scale)", _human)
    _log_histogram(fig.add_subplot(grid[5, 1]), durations / NS, "flow durations",
                   "duration (log scale; 0 is counted in the first bin)", _seconds)
    return fig


@register
class NetvizScanner:
    """Tallies the flows; `finish` draws the page (or says how to get matplotlib)."""

    name: ClassVar[str] = "netviz"

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self.tallies = Tallies(histogram_size=ctx.options.settings.netviz_histogram_size)

    def add(self, rec: FlowRecord) -> None:
        self.tallies.add(rec)

    def finish(self, results: ScanResults) -> None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self._ctx.log(f"{WARNING}netviz: matplotlib is not installed, no picture drawn;"
                          f" install it with {INSTALL_HINT}")
            return
        fig = draw(self.tallies, self._ctx)
        for name in PICTURES:
            out = AtomicFile(named_after(self._ctx.report_path, name), "wb")
            try:
                fig.savefig(out.file, format=name.rsplit(".", 1)[1], dpi=PNG_DPI,
                            metadata={"Creator": "forensics-tcpflow netviz"} if name.endswith(".pdf") else None)
            except BaseException:
                out.discard()
                raise
            results.files.append(out.commit())
