"""Jobs on a Dask cluster: the same run_job, on the workers of a scheduler (or of a LocalCluster).

Inputs and OUT lie on storage every worker sees at the same paths; the runner
checks that on every worker before anything runs. Each attempt of a job stages
its files in a folder of its own and hands back only plain results, so a job
the scheduler runs again (its worker died) leaves nothing twice: the
coordinating process alone moves files into place, journals and reports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import __version__
from ..environment import Progress, file_sink
from ..options import Options
from .jobs import Job, JobResult, RunnerError, SinkFactory, Workspace, run_job

try:
    import distributed
    from distributed import Client, Future, LocalCluster, get_worker
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
except ImportError as exc:  # the optional extra is missing: say how to install it
    raise RunnerError("--cluster needs Dask: install the extra with"
                      " pip install 'forensics-tcpflow[cluster]' (dask and distributed)") from exc

LOCAL = "local:"
CONNECT_SECONDS = 10           # to reach the scheduler
WORKERS_SECONDS = 60           # for a first worker to join it
CLOSE_SECONDS = 5
POLL_SECONDS = 0.1
STOP_SECONDS = 120             # running jobs told to stop close their flows within this
SEND_EVERY_NS = 500_000_000    # a worker's progress in bytes reaches the coordinator at most this often

_stopped: set[str] = set()     # in each worker process: runs told to stop (set by Client.run)


def _connect(address: str) -> tuple[Client, LocalCluster | None]:
    """A client of the scheduler at `address`, or of a LocalCluster of N single-threaded worker processes."""
    if address.startswith(LOCAL):
        count = address[len(LOCAL):]
        if not count.isdigit() or int(count) < 1:
            raise RunnerError(f"--cluster {address}: give the number of local workers, e.g. local:2")
        with _ignoring_sigint():
            cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1")
        return Client(cluster), cluster
    try:
        client = Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise RunnerError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    return client, None


@contextlib.contextmanager
def _ignoring_sigint() -> Iterator[None]:
    """Worker processes started meanwhile inherit SIGINT ignored: Ctrl-C at the terminal reaches the
    whole process group, and only the coordinator should act on it (it tells the jobs to stop)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


def check_worker(inputs: tuple[str, ...], outdir: str, version_here: str) -> str:
    """On a worker: what it cannot do of the run ("" when it can read every capture and write OUT)."""
    if version_here != __version__:
        return f"runs forensics-tcpflow {__version__}, the coordinator {version_here}"
    for path in inputs:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror or exc}"
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=outdir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write {outdir}: {exc.strerror or exc}"
    return ""


def _stop_run(run_id: str) -> None:
    _stopped.add(run_id)


def _forget_run(run_id: str) -> None:
    _stopped.discard(run_id)


def work(job: Job, options: Options, workspace: Workspace, run_id: str) -> JobResult:
    """On a worker: one attempt of a job, progress sent to the coordinator through the scheduler."""
    worker = get_worker()
    last_sent = [0]

    def progress(event: Progress) -> None:
        now = time.monotonic_ns()
        if event.kind != "bytes" or now - last_sent[0] >= SEND_EVERY_NS:
            last_sent[0] = now
            worker.log_event(run_id, [event.kind, event.capture, event.amount])

    result = run_job(job, options, workspace, file_sink, progress, lambda: run_id in _stopped,
                     attempt=uuid.uuid4().hex)
    for summary in result.summaries:
        summary.workers = [worker.address]
    return result


class ClusterRunner:
    """Jobs on the workers of a Dask scheduler; progress and results come back to this process."""

    def __init__(self, options: Options) -> None:
        address = options.cluster or ""
        _quiet_dask()
        self._client, self._local = _connect(address)
        try:
            self.scheduler = self._client.scheduler.address if self._local else address
            self._wait_for_a_worker()
            workers = self._client.scheduler_info(n_workers=-1)["workers"]
            self.slots = sum(info["nthreads"] for info in workers.values())
            self.facts = {"scheduler": self.scheduler, "dask": version("dask"), "distributed": distributed.__version__}
        except BaseException:
            self.close()
            raise

    def _wait_for_a_worker(self) -> None:
        try:
            self._client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError as exc:
            raise RunnerError(f"the Dask scheduler at {self.scheduler} has no worker"
                              f" (none joined within {WORKERS_SECONDS} s): start some with"
                              f" dask worker {self.scheduler}") from exc

    def check(self, captures: list[str], outdir: Path) -> None:
        """Every worker reads a byte of every capture and writes a file into OUT (then removes it)."""
        inputs = tuple(os.path.abspath(path) for path in captures)
        answers = self._client.run(check_worker, inputs, os.path.abspath(outdir), __version__)
        problems = [f"worker {worker} {problem}" for worker, problem in sorted(answers.items()) if problem]
        if problems:
            raise RunnerError("the cluster cannot run this: " + "; ".join(problems)
                              + " (inputs and OUT must be on storage every worker sees at the same paths)")

    def run(self, jobs: list[Job], options: Options, workspace: Workspace, make_sink: SinkFactory,
            progress: Callable[[Progress], None], stop: threading.Event) -> Iterator[JobResult]:
        """Every job submitted at once (the scheduler spreads them); results in the order they finish.

        The workers write real flow files (file_sink): `make_sink` serves jobs run in this process.
        """
        run_id = f"forensics-tcpflow-{uuid.uuid4().hex}"
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._client.subscribe_topic(run_id, events.put)
        futures = {self._client.submit(work, _absolute(job), options, workspace, run_id, pure=False,
                                       key=f"{run_id}-{job.index}"): job for job in jobs}
        told = False
        deadline = 0.0
        try:
            while futures:
                if stop.is_set() and not told:
                    told, deadline = True, time.monotonic() + STOP_SECONDS
                    self._stop(run_id, futures)
                finished = [future for future in futures if future.done()]
                if not finished:
                    _drain(events, progress)
                    if told and time.monotonic() > deadline:
                        return
                    self._alive()
                    time.sleep(POLL_SECONDS)
                    continue
                for future in finished:
                    job = futures.pop(future)
                    if future.cancelled() and told:
                        continue
                    _drain(events, progress)
                    yield self._result(future, job)
        finally:
            _drain(events, progress)
            if self._client.status == "running":    # a scheduler gone would be waited for in vain
                self._client.cancel(list(futures), force=True)
                self._tell(_forget_run, run_id)
                self._client.unsubscribe_topic(run_id)

    def map_work(self, function: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        """Scanners' per-file work on the workers (OUT is shared at the same path), results in order."""
        futures = self._client.map(function, items, pure=False)
        try:
            for future in futures:
                yield future.result()
        except CommClosedError as exc:
            raise self._lost() from exc
        finally:
            self._client.cancel(futures)

    def _stop(self, run_id: str, futures: dict[Future, Job]) -> None:
        """Tell the workers' running jobs to stop; jobs not yet started are cancelled."""
        self._tell(_stop_run, run_id)
        running = {key for keys in self._client.processing().values() for key in keys}
        waiting = [future for future in futures if future.key not in running]
        self._client.cancel(waiting)

    def _tell(self, function: Callable[[str], None], run_id: str) -> None:
        try:
            self._client.run(function, run_id)
        except (OSError, TimeoutError):
            pass   # a cluster gone has no jobs left to tell

    def _alive(self) -> None:
        """A client reconnecting has lost its futures with the scheduler: the jobs it ran are gone."""
        if self._client.status != "running":
            raise self._lost()

    def _lost(self) -> RunnerError:
        return RunnerError(f"lost the Dask scheduler at {self.scheduler}: the jobs finished so far are"
                           " journaled; continue with --resume (on the cluster or on this machine)")

    def _result(self, future: Future, job: Job) -> JobResult:
        try:
            return future.result()
        except CommClosedError as exc:     # the scheduler went while the result was on its way
            raise self._lost() from exc
        except FutureCancelledError as exc:
            self._alive()
            raise RunnerError(f"the Dask scheduler at {self.scheduler} dropped job {job.index}"
                              f" ({', '.join(label for _, label in job.captures)}): {exc}") from exc
        except distributed.KilledWorker as exc:
            raise RunnerError(f"job {job.index} ({', '.join(label for _, label in job.captures)})"
                              f" killed every worker that tried it: {exc}") from exc

    def close(self) -> None:
        try:
            self._client.close(timeout=CLOSE_SECONDS)
        except (OSError, TimeoutError):
            pass   # the scheduler is gone: there is nothing left to close
        if self._local is not None:
            self._local.close()


def _quiet_dask() -> None:
    """Dask's own log lines (tracebacks of lost connections) stay out of ours: its faults reach the user
    as our errors."""
    for name in ["distributed", *logging.Logger.manager.loggerDict]:
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _absolute(job: Job) -> Job:
    """Paths a worker opens must not depend on its working directory (labels stay as given)."""
    return replace(job, captures=tuple((os.path.abspath(path), label) for path, label in job.captures))


def _drain(events: "queue.SimpleQueue[Any]", progress: Callable[[Progress], None]) -> None:
    while True:
        try:
            _, (kind, capture, amount) = events.get_nowait()
        except queue.Empty:
            return
        progress(Progress(kind, capture, amount))
