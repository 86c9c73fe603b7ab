"""A dynamic work queue over MPI: rank 0 hands out batches of run indices
on request (a batch is a tuple of runs that advance together on one device,
see :mod:`gpusim.batch`; one run when batching is off).

Runs differ a lot in length (an eliminated tumour stops mattering early, an
escaping one fills the lattice), so ranks ask for the next batch when they
finish one instead of getting a fixed share.

Rank 0 also works.  Its dispatcher is a thread that polls for requests
(``Iprobe`` + a short sleep: a blocking ``recv`` busy-waits a whole core in
MPICH) while rank 0's main thread does runs like any other rank.  A pure
dispatcher would leave one GPU per job idle (srun starts one rank per GPU), and
dispatching costs next to nothing: a few bytes per run that lasts seconds to
hours.  Only the dispatcher thread calls MPI while it runs, which needs
``MPI_THREAD_SERIALIZED``; where the library offers less, rank 0 falls back to
dispatching only.

Messages: a worker sends ``(batch, results, stopping)`` (``batch`` None on
its first request; ``results`` one record per run of the batch) with tag
REQUEST; rank 0 answers with the next batch, or None when the queue is empty
or the sweep was stopped, with tag WORK.  ``stopping``: the worker was
signalled (SIGTERM, SIGUSR1, SIGINT) and leaves without an answer; rank 0
then hands out nothing more, so a signal stops the whole sweep after the
batches in flight are checkpointed.  mpi4py is imported by the caller only
(``import gpusim`` never loads it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Callable

TAG_REQUEST, TAG_WORK = 11, 12
POLL_S = 0.02
HEARTBEAT_S = 30.0

Batch = tuple[int, ...]
RunFn = Callable[[Batch], list[dict]]


class Tally:
    """Rank 0's bookkeeping and progress lines: runs done, running, failed, ETA.

    One line per finished run, and one every ``HEARTBEAT_S`` seconds while
    nothing finishes (plain lines: they end up in Slurm logs)."""

    def __init__(self, total: int, already: int, describe: Callable[[int], str], stream=None,
                 enabled: bool = True):
        self.total, self.already = total, already
        self.describe = describe
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.running: dict[int, int] = {}  # run index -> rank
        self.done = self.failed = self.interrupted = 0
        self.results: dict[int, dict] = {}
        self.t0 = self._last = time.monotonic()

    def started(self, rank: int, index: int) -> None:
        self.running[index] = rank

    def finished(self, rank: int, index: int, result: dict) -> None:
        self.running.pop(index, None)
        self.results[index] = dict(result, rank=rank)
        if result["status"] == "failed":
            self.failed += 1
            what = f"FAILED after {result['runtime_s']:.1f} s: {result['error']}"
        elif result["status"] == "interrupted":
            self.interrupted += 1
            what = f"interrupted after {result['runtime_s']:.1f} s (checkpointed)"
        else:
            self.done += 1
            what = f"{result['status']} in {result['runtime_s']:.1f} s"
        self._line(f"run {self.describe(index)} {what} on rank {rank}")

    def eta_s(self) -> float | None:
        if self.done == 0:
            return None
        remaining = self.total - self.already - self.done - self.failed - self.interrupted
        return remaining * (time.monotonic() - self.t0) / self.done

    def status(self) -> str:
        eta = self.eta_s()
        return (f"{self.already + self.done}/{self.total} done, {len(self.running)} running, "
                f"{self.failed} failed, ETA {'?' if eta is None else f'{eta:.0f} s'}")

    def heartbeat(self) -> None:
        if time.monotonic() - self._last >= HEARTBEAT_S:
            self._line(None)

    def _line(self, event: str | None) -> None:
        self._last = time.monotonic()
        if self.enabled:
            print(f"[sweep] {event + ' | ' if event else ''}{self.status()}", file=self.stream, flush=True)


class WorkQueue:
    """Batches of run indices not yet handed out, shared by rank 0's two threads."""

    def __init__(self, todo: list[Batch], tally: Tally, stop: Callable[[], bool] = lambda: False):
        self._todo = deque(tuple(b) for b in todo)
        self._lock = threading.Lock()
        self.tally = tally
        self._stop = stop  # this process got a stop signal
        self._halted = False  # a rank reported one

    def halt(self) -> None:
        """Hand out nothing more (a rank was stopped by a signal)."""
        self._halted = True

    @property
    def stopped(self) -> bool:
        return self._halted or self._stop()

    def take(self, rank: int) -> Batch | None:
        with self._lock:
            if not self._todo or self.stopped:
                return None
            batch = self._todo.popleft()
            for index in batch:
                self.tally.started(rank, index)
            return batch

    def finish(self, rank: int, batch: Batch, results: list[dict]) -> None:
        with self._lock:
            for index, result in zip(batch, results):
                self.tally.finished(rank, index, result)

    def heartbeat(self) -> None:
        with self._lock:
            self.tally.heartbeat()


def work_locally(queue: WorkQueue, run: RunFn, rank: int = 0) -> None:
    """Take batches from the queue until it is empty (serial sweeps, and rank
    0's own share under MPI)."""
    while (batch := queue.take(rank)) is not None:
        queue.finish(rank, batch, run(batch))


def _beat_until(queue: WorkQueue, done: threading.Event) -> None:
    """The periodic progress line while this rank's own run goes on."""
    while not done.wait(1.0):
        queue.heartbeat()


def _work_beside(queue: WorkQueue, run: RunFn, background: Callable[[threading.Event], None], name: str) -> None:
    """Work through the queue in this thread while ``background(done)`` runs in
    a daemon thread; ``done`` is set when the local work ends.  The thread is
    awaited only when the local work succeeded (after a failure it may be
    waiting on other ranks)."""
    done = threading.Event()
    thread = threading.Thread(target=background, args=(done,), name=name, daemon=True)
    thread.start()
    try:
        work_locally(queue, run)
    finally:
        done.set()
    while thread.is_alive():
        thread.join(timeout=1.0)


def work_serially(queue: WorkQueue, run: RunFn) -> None:
    """No MPI: work through the queue, with a heartbeat thread for the
    periodic progress line during long runs."""
    _work_beside(queue, run, lambda done: _beat_until(queue, done), "gpusim-heartbeat")


def dispatch(comm, queue: WorkQueue) -> None:
    """Rank 0: answer every other rank's requests until each has been told
    to stop.  Returns when all workers are done."""
    from mpi4py import MPI

    status = MPI.Status()
    active = comm.Get_size() - 1
    while active:
        if not comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_REQUEST, status=status):
            queue.heartbeat()
            time.sleep(POLL_S)
            continue
        src = status.Get_source()
        batch, results, stopping = comm.recv(source=src, tag=TAG_REQUEST)
        if batch is not None:
            queue.finish(src, batch, results)
        if stopping:  # that rank was signalled: it waits for no answer, and nobody gets more work
            queue.halt()
            active -= 1
            continue
        nxt = queue.take(src)
        comm.send(nxt, dest=src, tag=TAG_WORK)
        if nxt is None:
            active -= 1


def work_remotely(comm, run: RunFn, stop: Callable[[], bool] = lambda: False) -> int:
    """Ranks > 0: ask rank 0 for batches until it says stop, or until this
    rank is signalled (``stop()``: it reports its last batch and leaves);
    returns runs done."""
    message: tuple = (None, None, False)
    done = 0
    while True:
        stopping = stop()
        comm.send((*message[:2], stopping), dest=0, tag=TAG_REQUEST)
        if stopping:
            return done
        batch = comm.recv(source=0, tag=TAG_WORK)
        if batch is None:
            return done
        message = (batch, run(batch), False)
        done += len(batch)


def serve_and_work(comm, queue: WorkQueue, run: RunFn) -> None:
    """Rank 0 under MPI: dispatch in a thread and work in the main thread
    (or only dispatch, where MPI cannot be called from a second thread)."""
    from mpi4py import MPI

    if comm.Get_size() == 1:
        work_serially(queue, run)
        return
    if MPI.Query_thread() < MPI.THREAD_SERIALIZED:
        dispatch(comm, queue)
        return
    errors: list[BaseException] = []

    def dispatcher(done: threading.Event) -> None:
        try:
            dispatch(comm, queue)
            _beat_until(queue, done)  # rank 0's own last run: keep the progress lines coming
        except BaseException as err:  # surfaced below: a dead dispatcher would hang every rank
            errors.append(err)

    _work_beside(queue, run, dispatcher, "gpusim-dispatcher")
    if errors:
        raise errors[0]
