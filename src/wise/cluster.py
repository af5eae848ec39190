"""Where per-item work runs: this machine's processes, or a Ray cluster (`--ray [ADDRESS]`).

Every stage that fans out (forced alignment in `wise prepare`, feature entries in
`wise features`, ASR in `wise asr-study`, the (row, seed, fold) trainings of `wise cv` and
`wise reproduce`) hands a module-level function and its items to `imap`, and gets
`(index, result)` pairs back in the order they finish. Locally that is a pool of spawned
processes; with Ray each chunk of items is one Ray task, scheduled by Ray on any node.

Storage is a shared path, not an object store: tasks read audio and manifests, and write cache
entries and fold folders, at the same absolute paths as the driver. On one machine that is its
disk; on a cluster, a file system every node mounts at the same path (NFS, Lustre, ...).
fsspec/object-store URLs are not supported. A task's result is small (a status, a metrics
dict); the arrays stay on the shared disk, written atomically, so a task that dies leaves no
half-written file, and a rerun (or Ray's retry) redoes only what is missing.

Failures: a task whose worker process or node dies is retried by Ray (`MAX_RETRIES`); an
exception raised by our own code is not retried (it would fail again) and reaches the caller
as it would locally.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.util as mp_util
import os
import signal
import socket
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing import resource_tracker
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

from wise.errors import WiseError
from wise.stopping import set_exiting, stop_held, worker_exit
from wise.version import code_version

MAX_RETRIES = 3   # Ray reruns a task this often when its worker process or node is lost

_initialized: set = set()     # initializers already run in this (worker) process


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise WiseError(None, "--ray needs Ray: pip install 'wise-ser[cluster]'") from None
    return ray


def connect(address: str | None) -> Any:
    """Join the Ray cluster at `address` ("auto" or None: the one started on this machine with
    `ray start`, or else a new local one) unless this process has joined one already."""
    ray = require_ray()
    if not ray.is_initialized():
        _reachable(address)
        try:
            ray.init(address=None if address in (None, "", "local") else address,
                     logging_level="ERROR", include_dashboard=False,
                     configure_logging=True, log_to_driver=True)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise WiseError(None, f"--ray {address or ''}: cannot join the cluster "
                                  f"({str(e).splitlines()[0]})") from None
    return ray


def _reachable(address: str | None) -> None:
    """Fail in seconds when nothing listens at `address` (host:port): `ray.init` would retry
    for minutes."""
    if address in (None, "", "auto", "local"):
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=10).close()
    except ValueError:
        raise WiseError(None, f"--ray {address}: expected HOST:PORT, e.g. 10.0.0.1:6379") \
            from None
    except OSError as e:
        raise WiseError(None, f"--ray {address}: no Ray head answers there ({e.strerror or e})"
                        ) from None


def check_shared(address: str | None, paths: Sequence[str | Path]) -> None:
    """Fail at once, naming the path, when a node of the cluster cannot see `paths` (which must
    exist) at the same absolute place as this process: without a shared file system every task
    would fail one by one."""
    ray = connect(address)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    want = [str(Path(p).resolve()) for p in paths]
    probe = ray.remote(num_cpus=0, max_retries=MAX_RETRIES)(_missing_paths)
    refs = {n["NodeManagerAddress"] + " " + n["NodeID"][:8]: probe.options(
                name="wise:check_shared",
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
            ).remote(want, code_version())
            for n in ray.nodes() if n["Alive"]}
    for node, ref in refs.items():
        try:
            missing, version = ray.get(ref)
        except ray.exceptions.RayError as e:
            if node.split()[-1] not in _alive_nodes(ray):
                continue        # it left the cluster meanwhile: it will run no task either
            raise WiseError(None, f"Ray node {node} could not run a task: "
                                  f"{str(e).splitlines()[0]}") from None
        if missing:
            raise WiseError(missing[0], f"not visible on Ray node {node}: the manifest, audio "
                                        "and cache must be on a file system every node mounts "
                                        "at the same path")
        if version != code_version():
            raise WiseError(None, f"Ray node {node} runs wise {version}, this process "
                                  f"{code_version()}: install the same version on every node")


def _alive_nodes(ray) -> set[str]:
    return {n["NodeID"][:8] for n in ray.nodes() if n["Alive"]}


def _missing_paths(paths: list[str], _version: str) -> tuple[list[str], str]:
    return [p for p in paths if not os.path.exists(p)], code_version()


def imap(fn: Callable, items: Sequence, *, workers: int | None = None,
         ray: str | None = None, initializer: Callable | None = None,
         initargs: tuple = (), chunksize: int = 1, name: str | None = None,
         idle: Callable[[], object] | None = None,
         idle_every: float = 2.0) -> Iterator[tuple[int, Any]]:
    """Yield `(i, fn(items[i]))` for every item, in the order they finish; while none
    finishes, call `idle()` every `idle_every` seconds (e.g. to show the items' progress).

    Locally: `workers` spawned processes (spawn, not fork: the caller may hold torch's thread
    pools, which a fork can deadlock), each running `initializer(*initargs)` once. With `ray`
    (an address, or "auto"): one Ray task per `chunksize` items, one CPU each, named
    `wise:<name>`; `initializer` runs once in each Ray worker process that takes a chunk.
    `fn` and `initializer` must be module-level functions (they travel by name)."""
    if not items:
        return
    if ray is not None:
        yield from _ray_imap(fn, items, ray, initializer, initargs, chunksize,
                             name or fn.__name__, idle, idle_every)
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    with local_pool(workers, initializer, initargs) as pool:
        tasks = [(fn, i, x) for i, x in enumerate(items)]
        chunks = pool.imap_unordered(_call_chunk, [tasks[s:s + chunksize] for s in
                                                   range(0, len(tasks), max(1, chunksize))])
        for done in watched(pool, chunks, every=idle_every, idle=idle):
            yield from done


def watched(pool: Pool, results: Iterator, every: float = 1.0,
            idle: Callable[[], object] | None = None) -> Iterator:
    """Yield from `results` (a `pool.imap` or `imap_unordered` of chunksize 1: one with larger
    chunks is a plain generator, without a timeout); while none comes, check every
    `every` seconds that no worker process has died (killed for memory, a crash, an
    initializer that failed), and call `idle()`. `Pool` would start another worker and wait
    for ever for the task the dead one held; this fails in one line instead."""
    # Every worker it has had: those it started with (a dead one may be replaced, and gone
    # from its list, between two looks), and those seen since.
    known = set(_first_workers.get(pool, ()))
    while True:
        try:
            yield results.next(timeout=every)
        except StopIteration:
            return
        except mp.TimeoutError:
            known.update(pool._pool)
            dead = [p.exitcode for p in known if p.exitcode is not None]
            if dead:
                how = (f"was killed by signal {-dead[0]}" if dead[0] < 0
                       else f"exited with status {dead[0]}")
                raise WiseError(None, f"a worker process {how} before finishing its work "
                                      "(out of memory?)") from None
            if idle is not None:
                idle()


@contextmanager
def local_pool(workers: int, initializer: Callable | None = None,
               initargs: tuple = ()) -> Iterator[Pool]:
    """A pool of `workers` spawned processes that always ends cleanly, leaving no process, no
    semaphore and no temporary file behind.

    When the block ends normally the workers are told to finish and exit on their own
    (`close`, `join`), running their exit handlers; `Pool`'s own `with` would kill them
    instead, and a process killed mid-life leaks the named semaphores it made (tqdm makes one
    in every process that shows a bar), which the resource tracker then reports at shutdown.
    When the block ends by an error, ^C or SIGTERM, the workers are terminated, and a SIGTERM
    in a worker unwinds it like an exception (`wise.stopping.worker_exit`), so its
    half-written temporaries are removed and its semaphores released. Ctrl-C goes to every
    process of the terminal's group: workers never see it (`_sigint_blocked`), and the
    parent, which gets it too, ends the pool."""
    pool = None
    try:
        # A stop signal while the workers are being started is held back until the pool is
        # complete (`Pool` cleans up after an Exception only), and then ends it like any.
        with stop_held(), _sigint_blocked():
            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker,
                                                initargs=(initializer, initargs))
            _pools.add(pool)
            _first_workers[pool] = list(pool._pool)
        yield pool
    except BaseException:
        if pool is not None:
            _terminate(pool)
        raise
    else:
        pool.close()
    finally:
        if pool is not None:
            pool.join()
            _pools.discard(pool)


TERMINATE_GRACE_S = 5.0     # a terminated worker still running after this is killed


def _terminate(pool: Pool) -> None:
    """`pool.terminate()`, which SIGTERMs the workers and waits for them, bounded: a worker
    still running `TERMINATE_GRACE_S` later (in C code that does not return to Python, or
    whose exception a C library dropped) is killed, so that ending a pool never hangs."""
    workers = list(pool._pool)          # Pool keeps its processes here; it has no public list

    def kill_stuck() -> None:
        for p in workers:
            if p.exitcode is None:
                p.kill()

    timer = threading.Timer(TERMINATE_GRACE_S, kill_stuck)
    timer.daemon = True
    timer.start()
    try:
        pool.terminate()
    finally:
        timer.cancel()


_pools: weakref.WeakSet[Pool] = weakref.WeakSet()     # the pools of `local_pool` still open
_first_workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # pool -> its workers


def end_local_pools() -> None:
    """Terminate every pool of `local_pool` still open. An exception that ends a command leaves
    the generators it passed through suspended (`imap`), and their pools open until those are
    collected; the command calls this first, so that no worker outlives it."""
    for pool in list(_pools):
        _terminate(pool)
        pool.join()
        _pools.discard(pool)


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while processes are started: they inherit the mask (through
    exec too), so a worker never sees ^C, not even while it imports, before `_init_worker`
    ignores it for good. This process still gets a ^C meanwhile (through another thread, or
    when the block ends): held back by the caller's `stop_held`, not lost."""
    # The resource tracker, when it starts, unblocks SIGINT in the thread that starts it, and
    # the first process started starts it: start it first.
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _init_worker(initializer: Callable | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, worker_exit)
    # Run first among the exit handlers: from then on a SIGTERM must not break them off.
    mp_util.Finalize(None, set_exiting, exitpriority=100)
    if initializer is not None:
        initializer(*initargs)



def _call(task: tuple[Callable, int, Any]) -> tuple[int, Any]:
    fn, i, item = task
    return i, fn(item)


def _call_chunk(tasks: list[tuple[Callable, int, Any]]) -> list[tuple[int, Any]]:
    return [_call(task) for task in tasks]


def _ray_imap(fn: Callable, items: Sequence, address: str, initializer: Callable | None,
              initargs: tuple, chunksize: int, name: str, idle: Callable[[], object] | None,
              idle_every: float) -> Iterator[tuple[int, Any]]:
    ray = connect(address)
    task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(_run_chunk)
    task = task.options(name=f"wise:{name}")
    indexed = list(enumerate(items))
    pending = [task.remote(fn, initializer, initargs, indexed[s:s + chunksize])
               for s in range(0, len(indexed), max(1, chunksize))]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1,
                                     timeout=idle_every if idle else None)
            if not done:
                idle()
                continue
            yield from ray.get(done[0])
    finally:
        for ref in pending:       # the caller stopped early (an error, ^C): drop the rest
            ray.cancel(ref, force=True)


def _run_chunk(fn: Callable, initializer: Callable | None, initargs: tuple,
               chunk: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """A Ray task: run `initializer` once per worker process, then `fn` on each item."""
    if initializer is not None and (initializer, initargs) not in _initialized:
        initializer(*initargs)
        _initialized.add((initializer, initargs))
    return [(i, fn(x)) for i, x in chunk]
