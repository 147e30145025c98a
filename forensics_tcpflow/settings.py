"""tcpflow's `-S NAME=VALUE` settings, each declared once (tcpflow's name, its default as tcpflow
prints it, how its text is read, what it does) and parsed once into one typed, immutable value.

tcpflow 1.6.1 ignores a name it does not know and reads a malformed number as 0; here both are
usage errors that list the known names, so a typo cannot silently change what is recorded.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

NS = 1_000_000_000
YES, NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")


class SettingError(ValueError):
    """A -S argument that names no setting or whose value cannot be read."""


def _seconds(text: str) -> int:
    """Seconds, fractions allowed, as integer nanoseconds (tcpflow keeps whole seconds only)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number of seconds") from None
    if not value.is_finite():
        raise ValueError("not a number of seconds")
    return int(value * NS)


def _idle_seconds(text: str) -> int:
    value = _seconds(text)
    if value < 0:
        raise ValueError("must be 0 (never) or more seconds")
    return value


def _yes_no(text: str) -> bool:
    if text.lower() in YES:
        return True
    if text.lower() in NO:
        return False
    raise ValueError("must be YES or NO")


def _fd(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("not a file descriptor number") from None
    if value < -1:
        raise ValueError("must be -1 (none) or an open file descriptor")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("not a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _command(text: str) -> tuple[str, ...]:
    """A command line split as a shell would split it, but run without one."""
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise ValueError(f"cannot split the command: {exc}") from None


def _show_seconds(value: Any) -> str:
    return str(Decimal(value) / NS)


def _show_yes_no(value: Any) -> str:
    return "YES" if value else "NO"


def _declare(name: str, default: str, read: Callable[[str], Any], meaning: str,
             show: Callable[[Any], str] = str) -> Any:
    """One setting: the dataclass field's default is `read(default)`, so both forms always agree."""
    return field(default=read(default), metadata={"name": name, "default": default, "read": read,
                                                  "meaning": meaning, "show": show})


def _command_hook(name: str, each: str) -> Any:
    return _declare(name, "", _command, f"run this command (no shell) on each {each}, its path as the last"
                    " argument, after the run; its exit status is in the report", shlex.join)


def _alert_hook(name: str, each: str) -> Any:
    return _declare(name, "-1", _fd, f"write 'open\\tPATH' and 'close\\tPATH' lines for each {each} to this"
                    " open file descriptor")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every -S setting of a run, typed; the report records each under `settings.<tcpflow name>`."""

    tdelta_ns: int = _declare(
        "tdelta", "0", _seconds, "seconds added to every packet time: file names (%T %t, -Ft, -FT),"
        " flow times and file times (tcpflow keeps whole seconds, we keep the fraction)", _show_seconds)
    enable_report: bool = _declare(
        "enable_report", "YES", _yes_no, "NO: write no report.xml (nor flows.jsonl, flows.csv)", _show_yes_no)
    http_cmd: tuple[str, ...] = _command_hook("http_cmd", "HTTP body file")
    http_alert_fd: int = _alert_hook("http_alert_fd", "HTTP body file")
    netviz_histogram_size: int = _declare(
        "netviz_histogram_size", "1000", _count, "netviz: the most addresses each address histogram keeps")
    tcp_timeout_ns: int = _declare(
        "tcp_timeout", "0", _idle_seconds, "close a connection idle this many seconds of packet time; what"
        " follows starts a new cN (0: never; as --idle-timeout)", _show_seconds)
    tcp_cmd: tuple[str, ...] = _command_hook("tcp_cmd", "flow file")
    tcp_alert_fd: int = _alert_hook("tcp_alert_fd", "flow file")
    check_fcs: bool = _declare(
        "check_fcs", "YES", _yes_no, "NO: decode 802.11 frames whose FCS is wrong (still counted as"
        " 802.11:bad-fcs-accepted) instead of dropping them", _show_yes_no)

    def recorded(self) -> dict[str, str]:
        """Every setting by tcpflow's name, its value as text."""
        return {f.metadata["name"]: f.metadata["show"](getattr(self, f.name)) for f in fields(self)}


_BY_NAME = {f.metadata["name"]: f for f in fields(Settings)}


def known() -> str:
    return ", ".join(_BY_NAME)


def summary() -> str:
    """Every setting as NAME=DEFAULT (what it does), for --help."""
    return "; ".join(f"{name}={f.metadata['default']} ({f.metadata['meaning']})" for name, f in _BY_NAME.items())


def parse_settings(pairs: Iterable[str]) -> Settings:
    """`NAME=VALUE` arguments, later ones winning as in tcpflow."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        declared = _BY_NAME.get(name.strip())
        if not sep or declared is None:
            raise SettingError(f"unknown setting {pair!r} (NAME=VALUE); known: {known()}")
        try:
            values[declared.name] = declared.metadata["read"](text.strip())
        except ValueError as exc:
            raise SettingError(f"{name.strip()}={text}: {exc}; known: {known()}") from None
    return replace(Settings(), **values)
