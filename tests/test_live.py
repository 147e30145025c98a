"""Live capture (-i) on real traffic: TCP servers and clients on 127.0.0.1, captured on lo.

Every socket has a timeout, every thread a join timeout and every run a --duration
as a safety net, so a failure ends the test instead of hanging it. Needs root
(or CAP_NET_RAW) like any capture: under CI=true its absence is a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from lxml import etree

from conftest import require_oracle
from oracles import REPORT_NAMES
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.capture.savefile import CaptureSaver
from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.dfxml import FTF_NS
from forensics_tcpflow.report.validate import validate_report
from capturekit import drain

TIMEOUT = 20.0          # seconds any socket operation, thread or run may take
SAFETY = "30"           # --duration of every run: it ends even if the test never stops it
HOST = "127.0.0.1"


def _can_capture() -> bool:
    try:
        import pcapy
        pcapy.open_live("lo", 64, 0, 100).close()
        return True
    except Exception:
        return False


@pytest.fixture(autouse=True)
def _capture_allowed() -> None:
    if _can_capture():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("cannot capture on lo (root or CAP_NET_RAW is required under CI=true)")
    pytest.skip("cannot capture on lo (needs root or CAP_NET_RAW)")


def _listener() -> socket.socket:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, 0))                # a free high port chosen by the kernel
    server.listen(4)
    server.settimeout(TIMEOUT)
    return server


def _exchange(server: socket.socket, request: bytes, reply: bytes, client_port: int = 0) -> int:
    """One connection: the client sends `request`, the server answers `reply` and closes first
    (so the client's port is free again at once); returns the client's port."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    client.settimeout(TIMEOUT)
    client.bind((HOST, client_port))
    client.connect(server.getsockname())
    peer, _ = server.accept()
    peer.settimeout(TIMEOUT)
    with client, peer:
        client.sendall(request)
        got = bytearray()
        while len(got) < len(request):
            got += peer.recv(1 << 16)
        peer.sendall(reply)
        peer.shutdown(socket.SHUT_WR)
        while client.recv(1 << 16):
            pass
        return client.getsockname()[1]


def _files(out: Path) -> dict[str, str]:
    """Flow files by name, as digests: a failing comparison stays readable."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()
            and p.name not in REPORT_NAMES}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _name(a: int, b: int, suffix: str = "") -> str:
    return f"127.000.000.001.{a:05d}-127.000.000.001.{b:05d}{suffix}"


def _live(report: Path) -> etree._Element:
    live = etree.parse(str(report)).find(f".//{{{FTF_NS}}}live")
    assert live is not None
    return live


def _run_live(args: list[str], traffic: Callable[[], None], interface: str = "lo") -> tuple[int, list[str]]:
    """The CLI in this process (main thread: it owns the signals); `traffic` runs in a thread once the
    interface is open, then SIGINT ends the capture as an examiner's Ctrl-C would."""
    opened, ended, lock = threading.Event(), threading.Event(), threading.Lock()
    failure: list[BaseException] = []
    lines: list[str] = []

    def progress(event: Progress) -> None:
        if event.kind == "start-capture":
            opened.set()
        elif event.kind == "end-capture":
            with lock:             # no signal once the capture is over (--packets may end it first)
                ended.set()

    def drive() -> None:
        try:
            if opened.wait(TIMEOUT):
                traffic()
                time.sleep(0.5)                    # the last packets reach the capture
        except BaseException as exc:              # reported by the test, after the run ends
            failure.append(exc)
        finally:
            with lock:
                if not ended.is_set():
                    os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    status = main(["-i", interface, "--duration", SAFETY, *args], Environment(progress=progress, log=lines.append))
    thread.join(TIMEOUT)
    assert not failure, failure
    return status, lines


def test_two_connections_reusing_ports_and_a_filtered_one(tmp_path: Path) -> None:
    first, second, other = os.urandom(200_000), os.urandom(30_000), b"not captured"
    server, excluded = _listener(), _listener()
    port = server.getsockname()[1]
    ports: list[int] = []

    def traffic() -> None:
        ports.append(_exchange(server, first, b"reply one"))
        ports.append(_exchange(server, second, b"reply two", client_port=ports[0]))    # the same four-tuple
        _exchange(excluded, other, b"nor this")

    out = tmp_path / "out"
    with server, excluded:
        status, lines = _run_live(["-o", str(out), "--save-capture", str(tmp_path / "live.pcapng"),
                                   "tcp", "port", str(port)], traffic)
    assert status == ExitStatus.OK, lines
    client = ports[0]
    assert ports == [client, client]
    assert _files(out) == {
        _name(client, port): _digest(first), _name(port, client): _digest(b"reply one"),
        _name(client, port, "c1"): _digest(second), _name(port, client, "c1"): _digest(b"reply two")}
    report = out / "report.xml"
    assert validate_report(report) == []
    run = etree.parse(str(report)).find(f".//{{{FTF_NS}}}run")
    assert run is not None and run.get("interrupted") == "false" and run.get("exit_status") == "0"
    live = _live(report)
    assert (live.get("interface"), live.get("filter"), live.get("linktype")) == ("lo", f"tcp port {port}", "1")
    assert int(live.get("received")) >= 1 and live.get("promiscuous") == "true"
    assert any("dropped by the kernel" in line for line in lines)

    # tcpflow names the same flows the same way, from the packets we saved
    require_oracle("tcpflow")
    saved = live.find(f"{{{FTF_NS}}}saved_capture")
    assert saved is not None and Path(saved.get("path")).stat().st_size == int(saved.get("size"))
    oracle = tmp_path / "tcpflow"
    oracle.mkdir()
    subprocess.run(["tcpflow", "-r", saved.get("path"), "-o", str(oracle)], check=True, timeout=60,
                   capture_output=True)
    assert {k: v for k, v in _files(oracle).items() if not k.startswith("alerts")} == _files(out)


@contextlib.contextmanager
def _capturing(out: Path, saved: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """The CLI in its own process, capturing on lo once the saved capture exists; killed if left running."""
    proc = subprocess.Popen([sys.executable, "-m", "forensics_tcpflow", "-i", "lo", "-q", "-o", str(out),
                             "--duration", SAFETY, "--save-capture", str(saved), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not saved.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert saved.exists(), proc.communicate(timeout=TIMEOUT)[1] if proc.poll() is not None else "not capturing"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)


def _stop(proc: subprocess.Popen[bytes], sig: int) -> bytes:
    """The signal an examiner's Ctrl-C (or a service manager) sends; the process's stderr."""
    proc.send_signal(sig)
    return proc.communicate(timeout=TIMEOUT)[1]


def test_sigint_mid_transfer_writes_the_partial_flow(tmp_path: Path) -> None:
    """A real signal to a real process while the client is still sending: the flow file holds
    the beginning of what was sent, written and reported as cut by the end of the capture."""
    out, saved = tmp_path / "out", tmp_path / "evidence" / "live.pcapng"
    saved.parent.mkdir()
    stream = os.urandom(4 << 20)
    chunk, pace = 64 << 10, 0.005            # about 12 MB/s: the capture keeps up, nothing dropped
    with _listener() as server, _capturing(out, saved, "--filter", f"tcp port {server.getsockname()[1]}") as proc:
        client = socket.create_connection(server.getsockname(), timeout=TIMEOUT)
        peer, _ = server.accept()
        peer.settimeout(TIMEOUT)

        def receive() -> None:          # until the client's end of stream
            while peer.recv(1 << 20):
                pass

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        with client, peer:
            ports = client.getsockname()[1], server.getsockname()[1]
            sent = 0
            while sent < len(stream):
                if sent == len(stream) // 4:
                    proc.send_signal(signal.SIGINT)   # mid-transfer: the client goes on sending
                client.sendall(stream[sent:sent + chunk])
                sent += chunk
                time.sleep(pace)
            client.shutdown(socket.SHUT_WR)
            reader.join(TIMEOUT)
        err = proc.communicate(timeout=TIMEOUT)[1]
    assert proc.returncode == ExitStatus.OK, err
    name = _name(*ports)
    written = (out / name).read_bytes()
    assert 0 < len(written) < len(stream) and written == stream[:len(written)]    # no holes: nothing dropped
    report = out / "report.xml"
    assert validate_report(report) == []
    doc = etree.parse(str(report))
    assert doc.find(f".//{{{FTF_NS}}}run").get("interrupted") == "false"
    reasons = {Path(obj.findtext("{*}filename", "")).name: obj.find(f"{{{FTF_NS}}}flow").get("close_reason")
               for obj in doc.iter("{*}fileobject")}
    assert reasons[name] == "end-of-input"       # cut by the end of the capture, not closed by its peers

    verdict = verify_report(report)              # `verify` re-hashes the saved capture too
    assert verdict.ok and verdict.inputs == 1
    saved.write_bytes(saved.read_bytes() + b"\0")
    assert verify_report(report).changed == [str(saved)]
    saved.write_bytes(saved.read_bytes()[:-1])

    back = tmp_path / "back"                     # the saved packets give the same flows again
    assert main([str(saved), "-o", str(back), "-q"], Environment(log=lambda line: None)) == ExitStatus.OK
    assert _files(back) == _files(out)


def test_duration_ends_a_quiet_capture(tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    status = main(["-i", "lo", "-o", str(out), "-q", "--duration", "1", "-p", "--snaplen", "96",
                   "tcp port 1"], Environment(log=lambda line: None))
    elapsed = time.monotonic() - started
    assert status == ExitStatus.OK
    assert 1 <= elapsed < TIMEOUT
    live = _live(out / "report.xml")
    assert (live.get("promiscuous"), live.get("snaplen"), live.get("filter")) == ("false", "96", "tcp port 1")
    assert validate_report(out / "report.xml") == []


def test_packets_limit_and_snaplen(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with _listener() as server:
        status, _ = _run_live(["-o", str(out), "-q", "--packets", "3", "--snaplen", "60",
                               "tcp port", str(server.getsockname()[1])],
                              lambda: _exchange(server, b"x" * 5000, b"y"))
    assert status == ExitStatus.OK
    inp = etree.parse(str(out / "report.xml")).find(f".//{{{FTF_NS}}}input")
    assert inp is not None and inp.get("packets") == "3" and inp.get("format") == "live"
    assert inp.get("truncated_packets") == "3"          # 60 bytes hold no Ethernet, IP and TCP header with options


def test_any_interface_gives_the_same_bytes(tmp_path: Path) -> None:
    """`any` captures with Linux cooked headers (link type 113) instead of Ethernet."""
    out, request = tmp_path / "out", os.urandom(50_000)
    ports: list[int] = []
    with _listener() as server:
        port = server.getsockname()[1]
        status, lines = _run_live(["-o", str(out), "-q", "tcp port", str(port)],
                                  lambda: ports.append(_exchange(server, request, b"answer")), interface="any")
    assert status == ExitStatus.OK, lines
    assert _files(out) == {_name(ports[0], port): _digest(request), _name(port, ports[0]): _digest(b"answer")}
    assert _live(out / "report.xml").get("linktype") == "113"


def test_unknown_interface_is_a_clear_error_with_a_report(tmp_path: Path) -> None:
    out, lines = tmp_path / "out", []
    status = main(["-i", "nosuch-wt14", "-o", str(out), "-q"], Environment(log=lines.append))
    assert status == ExitStatus.INPUT_ERRORS
    assert any("nosuch-wt14: cannot capture" in line for line in lines), lines
    assert validate_report(out / "report.xml") == []


def test_interface_going_down_ends_the_run_with_a_complete_report(tmp_path: Path) -> None:
    """A veth pair made and removed by the test; deleting it mid-capture is the interface going down."""
    name = f"wt{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"],
                          capture_output=True, timeout=TIMEOUT)
    if made.returncode:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot make a veth pair: {made.stderr!r}")
        pytest.skip("cannot make a veth pair")
    try:
        subprocess.run(["ip", "link", "set", name, "up"], check=True, timeout=TIMEOUT)
        lines: list[str] = []

        def progress(event: Progress) -> None:
            if event.kind == "start-capture":
                threading.Timer(0.5, subprocess.run, (["ip", "link", "del", name],),
                                {"timeout": TIMEOUT}).start()

        out = tmp_path / "out"
        status = main(["-i", name, "-o", str(out), "-q", "--duration", SAFETY],
                      Environment(progress=progress, log=lines.append))
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=TIMEOUT)
    assert status == ExitStatus.INPUT_ERRORS
    assert any(f"{name}: capture failed" in line for line in lines), lines
    report = out / "report.xml"
    assert validate_report(report) == []
    assert _live(report).get("interface") == name


def test_live_refusals(tmp_path: Path) -> None:
    taken = tmp_path / "taken.pcapng"
    taken.write_bytes(b"")
    for args in (["--save-capture", str(taken)], ["--resume"], ["--filter", "tcp", "tcp"]):
        assert main(["-i", "lo", "-o", str(tmp_path / "out"), "-q", *args],
                    Environment(log=lambda line: None)) == ExitStatus.USAGE
    assert not (tmp_path / "out" / "report.xml").exists()


def test_saved_capture_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "save.pcapng"
    records = [Record(n, 1, 1_700_000_000_123_456_000 + n * 1000, 100, 120, bytes([n]) * 100, 0)
               for n in range(1, 11)]
    saver = CaptureSaver(str(path), 400, 1, 120, "lo")
    assert list(saver.tee(records)) == records
    saver.close()
    names = [Path(saved.path).name for saved in saver.files]
    assert names[:3] == ["save.pcapng", "save.pcapng1", "save.pcapng2"] and len(names) > 3
    back: list[Record] = []
    for saved in saver.files:
        got, error = drain(Path(saved.path))
        assert error is None and len(got) == saved.packets and os.path.getsize(saved.path) == saved.size
        back += got
    assert [(r.ts_ns, r.caplen, r.origlen, r.data, r.linktype) for r in back] == [
        (r.ts_ns, r.caplen, r.origlen, r.data, r.linktype) for r in records]


def test_relinquish_privileges_after_opening(tmp_path: Path) -> None:
    """-U nobody: the interface and the saved capture are opened as root, the flows and the report
    are written as nobody (in a folder nobody can reach: pytest's own are root's alone)."""
    import pwd
    import tempfile
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory(prefix="wt14-") as top, _listener() as server:
        os.chmod(top, 0o755)
        out, saved = Path(top) / "out", Path(top) / "live.pcapng"
        with _capturing(out, saved, "-U", "nobody", "tcp", "port", str(server.getsockname()[1])) as proc:
            time.sleep(0.5)                          # the switch to nobody follows the opening
            client = _exchange(server, b"as nobody", b"ok")
            time.sleep(0.5)
            err = _stop(proc, signal.SIGTERM)
        assert proc.returncode == ExitStatus.OK, err
        flow = out / _name(client, server.getsockname()[1])
        assert flow.read_bytes() == b"as nobody"
        assert flow.stat().st_uid == nobody.pw_uid and (out / "report.xml").stat().st_uid == nobody.pw_uid
        assert saved.stat().st_uid == 0
        assert validate_report(out / "report.xml") == []
        assert etree.parse(str(out / "report.xml")).findtext(".//{*}uid") == str(nobody.pw_uid)


def test_chroot_after_opening(tmp_path: Path) -> None:
    """-z DIR -U nobody (tcpflow's pair): the run is shut into DIR once the interface and the saved
    capture are open; the flows, the report and the saved capture all land inside DIR, through
    the paths taken before the switch, and the report is valid."""
    import pwd
    import tempfile
    from forensics_tcpflow.privileges import jail_alias
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory(prefix="wt14-jail-") as top, _listener() as server:
        os.chmod(top, 0o755)
        jail = Path(top)
        out, saved = jail / "out", jail / "live.pcapng"
        with _capturing(out, saved, "-U", "nobody", "-z", str(jail), "tcp", "port",
                        str(server.getsockname()[1])) as proc:
            time.sleep(0.5)
            client = _exchange(server, b"in the jail", b"ok")
            time.sleep(0.5)
            err = _stop(proc, signal.SIGTERM)
        assert proc.returncode == ExitStatus.OK, err
        assert (out / _name(client, server.getsockname()[1])).read_bytes() == b"in the jail"
        assert (out / "report.xml").stat().st_uid == nobody.pw_uid
        assert validate_report(out / "report.xml") == []
        assert os.readlink(jail_alias(jail)) == "/"
        assert etree.parse(str(out / "report.xml")).find(".//{*}option[@name='chroot']").get("value") == str(jail)


def test_chroot_refusals(tmp_path: Path) -> None:
    """-z without -U, or with OUT outside the jail, or with scanners that load libraries late: usage errors."""
    jail = tmp_path / "jail"
    jail.mkdir()
    for args in (["-z", str(jail), "-o", str(jail / "out")],
                 ["-z", str(jail), "-U", "nobody", "-o", str(tmp_path / "out")],
                 ["-z", str(jail), "-U", "nobody", "-o", str(jail / "out"), "-e", "http"]):
        lines: list[str] = []
        assert main(["-i", "lo", "--duration", "1", "-q", *args], Environment(log=lines.append)) == ExitStatus.USAGE
        assert any("-z" in line for line in lines), lines


def _appears(path: Path, content: bytes, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.is_file() and path.read_bytes() == content:
            return True
        time.sleep(0.1)
    return False


def test_flows_appear_while_capturing_closed_or_idle(tmp_path: Path) -> None:
    """An examiner watching OUT sees a connection's files once it closes, or once it idles past
    --idle-timeout while still open, not only at the end of the capture."""
    out = tmp_path / "out"
    seen: dict[str, bool] = {}
    with _listener() as server:
        port = server.getsockname()[1]

        def traffic() -> None:
            client = _exchange(server, b"closed connection", b"bye")
            seen["closed"] = _appears(out / _name(client, port), b"closed connection")
            idle = socket.create_connection(server.getsockname(), timeout=TIMEOUT)
            peer, _ = server.accept()
            with idle, peer:
                idle.sendall(b"idle connection")
                assert peer.recv(100) == b"idle connection"
                seen["idle"] = _appears(out / _name(idle.getsockname()[1], port), b"idle connection")

        status, lines = _run_live(["-o", str(out), "-q", "--idle-timeout", "1", "tcp port", str(port)], traffic)
    assert status == ExitStatus.OK, lines
    assert seen == {"closed": True, "idle": True}
    reasons = {obj.find(f"{{{FTF_NS}}}flow").get("close_reason")
               for obj in etree.parse(str(out / "report.xml")).iter("{*}fileobject")}
    assert "idle" in reasons
