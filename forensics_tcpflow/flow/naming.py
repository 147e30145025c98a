"""tcpflow's file-name templates (-T) and format letters (-F).

The default template must give byte-identical names to tcpflow 1.6.1 so that
existing scripts and case notes keep working; the one deliberate difference is
that `%v` is the 12-bit VLAN ID, not tcpflow's whole TCI.

A UDP flow (--udp) is named by the same template with PROTOCOL_MARKER appended
unless the template holds `%P` itself: `-udp` holds a `u` and a `p`, which no
TCP name of the default template can (digits, dots, dashes, `c` and IPv6's hex
digits a-f and colons), so the two never collide.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Callable

from ..options import DEFAULT_TEMPLATE, NS
from ..errors import UsageError

if TYPE_CHECKING:
    from ..sink import FlowFile, FlowSink


@dataclass(frozen=True, slots=True)
class NameFields:
    """What a template may refer to for one direction."""

    family: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    vlans: tuple[int, ...]
    mac_src: bytes | None
    mac_dst: bytes | None
    first_ts_ns: int
    connection_count: int      # cN of this name
    connection_number: int     # running number of the connection in the capture
    sensor: str                # %S: the capture's name
    protocol: str = "tcp"      # %P: "tcp" or "udp"


@lru_cache(maxsize=4096)     # the busy addresses (servers) stay; memory stays small
def format_address(family: int, packed: bytes) -> str:
    """tcpflow's file-name form: zero-padded dotted quad, compressed IPv6."""
    if family == 4:
        return "%03d.%03d.%03d.%03d" % tuple(packed)
    return str(ipaddress.IPv6Address(packed))


@lru_cache(maxsize=4096)     # the busy addresses (servers) stay; memory stays small
def printable_address(family: int, packed: bytes) -> str:
    """The conventional text form used in reports."""
    return str(ipaddress.IPv4Address(packed) if family == 4 else ipaddress.IPv6Address(packed))


@lru_cache(maxsize=4096)     # a capture has few MACs (the gateway's is in every flow)
def format_mac(mac: bytes | None) -> str:
    return mac.hex(":") if mac else ""


_EXPANSIONS: dict[str, Callable[[NameFields], str]] = {
    "A": lambda f: format_address(f.family, f.src),
    "a": lambda f: "%05d" % f.sport,
    "B": lambda f: format_address(f.family, f.dst),
    "b": lambda f: "%05d" % f.dport,
    "E": lambda f: format_mac(f.mac_src),
    "e": lambda f: format_mac(f.mac_dst),
    "T": lambda f: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(f.first_ts_ns // NS)),
    "t": lambda f: str(f.first_ts_ns // NS),
    "V": lambda f: "--" if f.vlans else "",
    "v": lambda f: str(f.vlans[0]) if f.vlans else "",
    "C": lambda f: "c" if f.connection_count > 0 else "",
    "c": lambda f: str(f.connection_count) if f.connection_count > 0 else "",
    "#": lambda f: str(f.connection_count),
    "N": lambda f: str(f.connection_number % 1000),
    "K": lambda f: str(f.connection_number // 1000 % 1000),
    "M": lambda f: str(f.connection_number // 1_000_000 % 1000),
    "G": lambda f: str(f.connection_number // 1_000_000_000 % 1000),
    "S": lambda f: f.sensor,
    "P": lambda f: f.protocol,
    "%": lambda f: "%",
}

# -F letters: each rewrites the template the way tcpflow's does.
_FLAG_REWRITES: dict[str, Callable[[str], str]] = {
    "c": lambda t: t.replace("%C%c", "") + "c%#",
    "t": lambda t: "%tT" + t,
    "T": lambda t: "%TT" + t,
    "k": lambda t: "%K/" + t,
    "m": lambda t: "%M/%K/" + t,
    "g": lambda t: "%G/%M/%K/" + t,
    "X": lambda t: t,   # no flow files at all: handled by the sink
}


class TemplateError(UsageError):
    """A template or -F letter tcpflow would also refuse."""


def build_template(template: str = DEFAULT_TEMPLATE, fflags: str = "") -> str:
    """Apply -F letters; like tcpflow, binning letters are ignored when -T is given."""
    custom = template != DEFAULT_TEMPLATE
    for letter in fflags:
        rewrite = _FLAG_REWRITES.get(letter)
        if rewrite is None:
            raise TemplateError(f"unknown -F letter {letter!r} (known: {''.join(_FLAG_REWRITES)})")
        if custom and letter in "kmg":
            continue
        template = rewrite(template)
    validate_template(template)
    return template


def validate_template(template: str) -> None:
    i = 0
    while i < len(template):
        if template[i] == "%":
            if i + 1 >= len(template):
                raise TemplateError(f"template {template!r} cannot end with a %")
            if template[i + 1] not in _EXPANSIONS:
                raise TemplateError(f"template {template!r}: unknown variable %{template[i + 1]}")
            i += 2
        else:
            i += 1


@cache
def _parts(template: str) -> tuple[str | Callable[[NameFields], str], ...]:
    """A validated template split once into literal text and variables (a name is made per flow)."""
    parts: list[str | Callable[[NameFields], str]] = []
    i = 0
    while i < len(template):
        if template[i] == "%":
            parts.append(_EXPANSIONS[template[i + 1]])
            i += 2
            continue
        j = template.find("%", i)
        j = len(template) if j < 0 else j
        parts.append(template[i:j])
        i = j
    return tuple(parts)


PROTOCOL_MARKER = "-%P"


def expand(template: str, fields: NameFields) -> str:
    """Expand a validated template; '/' makes sub-directories, as in tcpflow. A flow of another
    protocol than TCP carries its marker (see the module's docstring)."""
    if fields.protocol != "tcp" and "%P" not in template:
        template += PROTOCOL_MARKER
    return "".join(part if isinstance(part, str) else part(fields) for part in _parts(template))


def create_named(sink: FlowSink, template: str, fields: Callable[[int], NameFields]) -> tuple[str, int, FlowFile]:
    """A new flow file under the first free name, trying cN = 0, 1, 2... as tcpflow does;
    returns (name, N, file). `fields(N)` gives the name's fields for the count N."""
    count = 0
    while True:
        name = expand(template, fields(count))
        file = sink.create(name)
        if file is not None:
            return name, count, file
        count += 1
