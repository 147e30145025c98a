"""`-e netviz`: tcpflow's one-page picture of a capture, as report.pdf and report.png beside the report.

Drawn from the finished flows and the inputs' counters (no second read of the
captures): traffic over time spreads each flow direction's packets and bytes
evenly over its lifetime, stacked by the top destination ports; the top
addresses and ports; and, beyond tcpflow, flow sizes and durations and how
complete the evidence is (holes, overlaps, snaplen cuts, undecodable packets).
matplotlib is an optional extra: without it the run goes on and says how to get it.
"""

from __future__ import annotations

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
TIME_BINS = 60
PNG_DPI = 80              # readable on screen; the PDF is the document
_BLOCK = 20_000           # flows spread over the time bins at once (bounded memory)


@dataclass(slots=True)
class Tallies:
    """Every number the page shows, gathered in one pass over the flows."""

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
    lifetimes: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # first, last, packets, bytes, dport
    sizes: list[int] = field(default_factory=list)
    durations_ns: list[int] = field(default_factory=list)

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
        self.lifetimes.append((rec.first_ts_ns, rec.last_ts_ns, rec.packets, rec.wire_bytes, rec.dport))
        self.sizes.append(rec.stream_length)
        self.durations_ns.append(rec.last_ts_ns - rec.first_ts_ns)


def _spread(tallies: Tallies, edges: Any, ports: list[int]) -> tuple[Any, Any]:
    """(packets, bytes) per time bin and stacked port (the last row: other ports), each flow
    spread evenly over [first, last] (all in its bin when it lasted no time)."""
    import numpy as np
    rows = len(ports) + 1
    packets, volume = np.zeros((rows, len(edges) - 1)), np.zeros((rows, len(edges) - 1))
    row_of = {port: index for index, port in enumerate(ports)}
    for start in range(0, len(tallies.lifetimes), _BLOCK):
        block = np.array(tallies.lifetimes[start:start + _BLOCK], dtype=np.float64)
        first, last, count, size = block[:, 0:1], block[:, 1:2], block[:, 2:3], block[:, 3:4]
        span = np.maximum(last - first, 1.0)
        share = np.clip((edges[None, :] - first) / span, 0.0, 1.0)
        share[:, -1] = 1.0
        part = np.diff(share, axis=1)
        row = np.array([row_of.get(int(port), rows - 1) for port in block[:, 4]])
        np.add.at(packets, row, part * count)
        np.add.at(volume, row, part * size)
    return packets, volume


def _bars(ax: Any, counter: Counter, title: str, unit: str) -> None:
    top = counter.most_common(TOP)[::-1]
    ax.barh([str(key) for key, _ in top], [value for _, value in top], color="#4c72b0")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(unit, fontsize=8)
    ax.tick_params(labelsize=7)


def _log_histogram(ax: Any, values: Any, title: str, unit: str) -> None:
    import numpy as np
    positive = values[values > 0]
    if len(values):
        low = positive.min() if len(positive) else 1.0
        high = max(positive.max() if len(positive) else 1.0, low * 10)
        ax.hist(np.maximum(values, low), bins=np.geomspace(low, high, 21), color="#55a868")
        ax.set_xscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(unit, fontsize=8)
    ax.set_ylabel("flow directions", fontsize=8)
    ax.tick_params(labelsize=7)


def draw(tallies: Tallies, ctx: ScanContext) -> Any:
    """The page as a matplotlib Figure (the tests read its texts)."""
    from matplotlib.figure import Figure
    import numpy as np
    inputs = ctx.inputs
    times = [t for inp in inputs for t in (inp.first_ts_ns, inp.last_ts_ns) if t is not None]
    begin, end = (min(times), max(times)) if times else (0, 0)
    fig = Figure(figsize=(8.27, 11.69))
    grid = fig.add_gridspec(5, 2, hspace=0.75, wspace=0.45, top=0.86, bottom=0.05, left=0.14, right=0.97)
    names = ", ".join(Path(inp.path).name for inp in inputs[:3]) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")
    packets_in = sum(inp.packets for inp in inputs)
    undecodable = sum(inp.undecodable_packets for inp in inputs)
    snaplen_cut = sum(inp.truncated_packets for inp in inputs)
    transports = ", ".join(f"{name} {count}" for name, count in sorted(tallies.families.items())) or "none"
    fig.suptitle(f"forensics-tcpflow netviz: {names}", fontsize=11, y=0.985)
    fig.text(0.5, 0.955, f"{iso_time(begin)}  to  {iso_time(end)}   ({(end - begin) / NS:.3f} s)",
             ha="center", fontsize=8)
    fig.text(0.5, 0.94, f"packets: {packets_in}   TCP flow directions: {tallies.flows}   TCP packets: {tallies.packets}"
             f"   wire bytes: {tallies.wire_bytes}   bytes in flow files: {tallies.file_bytes}", ha="center", fontsize=8)
    fig.text(0.5, 0.925, f"transports (packets): {transports}, not in a TCP flow {max(0, packets_in - tallies.packets)}",
             ha="center", fontsize=8)
    fig.text(0.5, 0.905, f"evidence: holes: {tallies.holes} ({tallies.hole_bytes} bytes)   overlaps: {tallies.overlaps}"
             f"   snaplen-cut packets: {snaplen_cut}   undecodable packets: {undecodable}",
             ha="center", fontsize=8, color="#b00000" if tallies.holes or tallies.overlaps or undecodable else "black")
    edges = np.linspace(begin, max(end, begin + 1), TIME_BINS + 1, dtype=np.float64)
    ports = [port for port, _ in tallies.dport.most_common(TOP_PORTS_STACKED)]
    packets, volume = _spread(tallies, edges, ports)
    seconds = (edges[:-1] - begin) / NS
    width = (edges[1] - edges[0]) / NS
    labels = [f"dst port {port}" for port in ports] + ["other ports"]
    for position, values, what in ((grid[0, :], packets, "packets"), (grid[1, :], volume, "bytes")):
        ax = fig.add_subplot(position)
        bottom = np.zeros(TIME_BINS)
        for label, row in zip(labels, values):
            if row.any():
                ax.bar(seconds, row, width=width, bottom=bottom, align="edge", label=label)
                bottom += row
        ax.set_title(f"{what} over time, by destination port (flows spread over their lifetime)", fontsize=9)
        ax.set_xlabel(f"seconds since {iso_time(begin)}", fontsize=8)
        ax.set_ylabel(what, fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, ncols=3, loc="upper right")
    _bars(fig.add_subplot(grid[2, 0]), tallies.src, "top source addresses", "wire bytes")
    _bars(fig.add_subplot(grid[2, 1]), tallies.dst, "top destination addresses", "wire bytes")
    _bars(fig.add_subplot(grid[3, 0]), tallies.sport, "top source ports", "wire bytes")
    _bars(fig.add_subplot(grid[3, 1]), tallies.dport, "top destination ports", "wire bytes")
    for position, data, title, unit in ((grid[4, 0], tallies.sizes, "flow sizes", "stream bytes (log scale)"),
                                        (grid[4, 1], [d / NS for d in tallies.durations_ns], "flow durations",
                                         "seconds (log scale; 0 shown at the smallest bin)")):
        _log_histogram(fig.add_subplot(position), np.asarray(data, dtype=np.float64), title, unit)
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
                fig.savefig(out.file, format=name.rsplit(".", 1)[1], dpi=PNG_DPI if name.endswith(".png") else 100,
                            metadata={"Creator": "forensics-tcpflow netviz"} if name.endswith(".pdf") else None)
            except BaseException:
                out.discard()
                raise
            results.files.append(out.commit())
