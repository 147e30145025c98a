"""--cluster: the jobs on real Dask processes (a scheduler and two workers on 127.0.0.1), compared with -j 1.

A folder of corpus captures plus a generated capture of about 20 MB (its job
runs long enough to be hit mid-way): the same output as one process, after a
worker is SIGKILLed mid-job, after the scheduler dies (then --resume), after Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from lxml import etree

from batchkit import CORPUS, normalized_report, run_cli, tree
from forensics_tcpflow.batch.journal import JOURNAL, state_dir
from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.dfxml import FTF_NS
from forensics_tcpflow.report.validate import validate_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import WORKLOADS, generate  # noqa: E402

pytestmark = pytest.mark.usefixtures("corpus")

START_SECONDS = 60         # a scheduler and its workers come up within this
RUN_SECONDS = 300          # a whole run on the cluster, on a busy two-core machine
POLL = 0.05
BIG = "big-mix.pcap"
BIG_SHAPE, BIG_SCALE = "mix-short", 0.06   # 21 MB of 12,000 short connections: several seconds of work


def require_distributed() -> None:
    """The [cluster] extra: a failure under CI (the test command installs it), a skip elsewhere."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        message = "dask distributed is not installed (pip install '.[cluster]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)


def wait_for(what: str, ready: Callable[[], Any], seconds: float = START_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := ready():
            return value
        time.sleep(POLL)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@dataclass
class DaskCluster:
    """`dask scheduler` and two `dask worker` processes (no nanny: a killed worker stays dead)."""

    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    address: str = ""
    worker_pids: dict[str, int] = field(default_factory=dict)   # worker address -> pid

    def start(self, *command: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        log = open(self.root / f"proc-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([*prefix, sys.executable, "-m", *command], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        return self.start("distributed.cli.dask_worker", "--scheduler-file", str(self.root / "scheduler.json"),
                          "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                          "--name", name, "--death-timeout", "60", prefix=prefix)

    def client(self) -> Any:
        from distributed import Client
        return Client(self.address, timeout=START_SECONDS)

    def wait_for_workers(self, count: int) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=START_SECONDS)
            self.worker_pids = client.run(os.getpid)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait(timeout=START_SECONDS)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    require_distributed()
    cluster = DaskCluster(tmp_path / "dask")
    cluster.root.mkdir()
    try:
        cluster.start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(cluster.root / "scheduler.json"))
        info = wait_for("the scheduler file", lambda: _read_json(cluster.root / "scheduler.json"))
        cluster.address = info["address"]
        for name in ("w1", "w2"):
            cluster.start_worker(name)
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.stop()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Evidence:
    folder: Path
    baseline: Path      # the -j 1 output


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    require_distributed()
    root = tmp_path_factory.mktemp("cluster")
    folder = root / "evidence"
    folder.mkdir()
    for capture in sorted(CORPUS.glob("pcapplusplus__*.pcap")):
        shutil.copy(capture, folder / capture.name)
    info = generate(WORKLOADS[BIG_SHAPE].scaled(BIG_SCALE), root / "generated")
    shutil.copy(info.paths[0], folder / BIG)
    baseline = root / "baseline"
    assert run_cli(str(folder), "-o", str(baseline), "-j", "1", "-q") == ExitStatus.OK
    return Evidence(folder, baseline)


def assert_same(out: Path, evidence: Evidence) -> None:
    assert tree(out) == tree(evidence.baseline)
    assert normalized_report(out / "report.xml") == normalized_report(evidence.baseline / "report.xml")


def report(out: Path) -> etree._ElementTree:
    return etree.parse(str(out / "report.xml"))


def workers_of(out: Path) -> dict[str, list[str]]:
    """Each capture's workers, by file name, as the report gives them."""
    return {Path(inp.get("path")).name: [w.get("address") for w in inp.findall(f"{{{FTF_NS}}}worker")]
            for inp in report(out).iter(f"{{{FTF_NS}}}input")}


def start_run(evidence: Evidence, out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "forensics_tcpflow", str(evidence.folder), "-o", str(out),
                             "-q", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the run did not end within {RUN_SECONDS} s: {err}")
    return proc.returncode, err


def big_job_running(out: Path) -> list[int]:
    """[the big capture's job index] once an attempt of it has begun writing its staging folder, else []."""
    try:
        with (state_dir(out) / JOURNAL).open() as fh:
            plan = json.loads(fh.readline())
        [index] = [i for i, (_, captures, _, _) in enumerate(plan["jobs"]) if captures[0][1].endswith(BIG)]
        started = any(stage.name.startswith(f"{index}-") and any(stage.iterdir())
                      for stage in (state_dir(out) / "staging").iterdir())
    except (OSError, ValueError):
        return []
    return [index] if started else []


def worker_running(cluster: DaskCluster, index: int) -> str:
    with cluster.client() as client:
        return wait_for("the worker of the big job", lambda: next(
            (worker for worker, keys in client.processing().items()
             if any(str(key).endswith(f"-{index}") for key in keys)), ""))


def test_cluster_output_is_the_output_of_one_process(dask_cluster: DaskCluster, evidence: Evidence,
                                                     tmp_path: Path) -> None:
    events: list[Progress] = []
    out = tmp_path / "out"
    env = Environment(log=lambda line: None, progress=events.append)
    assert run_cli(str(evidence.folder), "-o", str(out), "--cluster", dask_cluster.address, env=env) == 0
    assert_same(out, evidence)
    assert validate_report(out / "report.xml", thorough=True) == []     # both schemas, with the cluster facts
    [facts] = report(out).iter(f"{{{FTF_NS}}}cluster")
    assert facts.get("scheduler") == dask_cluster.address and facts.get("dask")
    ran = workers_of(out)
    assert len(ran) == 12 and all(len(w) == 1 and w[0] in dask_cluster.worker_pids for w in ran.values())
    assert len(set(w[0] for w in ran.values())) == 2, "both workers took jobs"
    ended = [event.capture for event in events if event.kind == "end-capture"]
    assert sorted(Path(label).name for label in ended) == sorted(ran), "progress came back from every job"


def test_local_cluster_gives_the_same_output(evidence: Evidence, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli(str(evidence.folder), "-o", str(out), "--cluster", "local:2", "-q") == 0
    assert_same(out, evidence)


def test_a_worker_killed_mid_job_is_retried_elsewhere(dask_cluster: DaskCluster, evidence: Evidence,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_run(evidence, out, "--cluster", dask_cluster.address)
    [index] = wait_for("the big job to start", lambda: big_job_running(out), RUN_SECONDS)
    victim = worker_running(dask_cluster, index)
    os.kill(dask_cluster.worker_pids[victim], signal.SIGKILL)
    code, err = finish(proc)
    assert code == 0, err
    assert_same(out, evidence)
    [survivor] = set(dask_cluster.worker_pids) - {victim}
    assert workers_of(out)[BIG] == [survivor]
    assert not state_dir(out).exists(), "no attempt's staging folder is left behind"


def test_scheduler_gone_then_resume_here(dask_cluster: DaskCluster, evidence: Evidence, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_run(evidence, out, "--cluster", dask_cluster.address)
    wait_for("the big job to start", lambda: big_job_running(out), RUN_SECONDS)
    dask_cluster.procs[0].kill()           # the scheduler
    code, err = finish(proc)
    assert code == ExitStatus.INTERRUPTED, err
    assert "lost the Dask scheduler" in err and "--resume" in err and "Traceback" not in err
    assert report(out).getroot().find(f".//{{{FTF_NS}}}run").get("interrupted") == "true"
    assert run_cli(str(evidence.folder), "-o", str(out), "-j", "1", "-q", "--resume") == 0
    assert_same(out, evidence)


def test_ctrl_c_cancels_the_cluster_jobs_and_resume_finishes(dask_cluster: DaskCluster, evidence: Evidence,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_run(evidence, out, "--cluster", dask_cluster.address)
    wait_for("the big job to start", lambda: big_job_running(out), RUN_SECONDS)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == ExitStatus.INTERRUPTED, err
    assert report(out).getroot().find(f".//{{{FTF_NS}}}run").get("interrupted") == "true"
    with dask_cluster.client() as client:
        wait_for("the cluster to be idle", lambda: not any(client.processing().values()))
    assert run_cli(str(evidence.folder), "-o", str(out), "--cluster", dask_cluster.address, "-q", "--resume") == 0
    assert_same(out, evidence)


def test_a_worker_that_cannot_see_the_inputs_is_named(dask_cluster: DaskCluster, evidence: Evidence,
                                                      tmp_path: Path) -> None:
    """A third worker in its own mount namespace, where the evidence folder is an empty tmpfs."""
    hide = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"mount -t tmpfs none {evidence.folder} && exec \"$0\" \"$@\"")
    if subprocess.run([*hide[:-1], f"mount -t tmpfs none {tmp_path}"], capture_output=True).returncode:
        message = "cannot make a mount namespace (unshare needs root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    dask_cluster.start_worker("blind", prefix=hide)
    dask_cluster.wait_for_workers(3)
    lines: list[str] = []
    out = tmp_path / "out"
    code = run_cli(str(evidence.folder), "-o", str(out), "--cluster", dask_cluster.address,
                   env=Environment(log=lines.append))
    [blind] = [address for address, pid in dask_cluster.worker_pids.items() if pid == dask_cluster.procs[-1].pid]
    assert code == ExitStatus.USAGE, lines
    assert any(f"worker {blind} cannot read {evidence.folder}/" in line for line in lines), lines
    assert not state_dir(out).exists()


def test_without_dask_the_message_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)      # import distributed raises ImportError
    monkeypatch.delitem(sys.modules, "forensics_tcpflow.batch.cluster", raising=False)
    lines: list[str] = []
    code = run_cli(str(CORPUS / "tcpflow__test7-three-flows.pcap"), "-o", str(tmp_path / "out"),
                   "--cluster", "local:1", env=Environment(log=lines.append))
    assert code == ExitStatus.USAGE
    assert any("pip install 'forensics-tcpflow[cluster]'" in line for line in lines), lines
