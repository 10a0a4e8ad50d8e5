"""Pool: multiprocessing.Pool on shmring queues, where a killed worker's task
fails instead of hanging.

Layout: each worker has its own inbox (a Queue only it reads) and all share
one results Queue. The pool sends a worker at most WINDOW chunks at a time
and keeps every chunk it sent until its answer arrives, so when a worker dies
the pool knows exactly what it held: the chunk it was running (the oldest)
fails with WorkerDied (or runs again, with retries=), the ones it had not
started go to other workers. A worker that retires (maxtasksperchild) says so
first, so its exit is never taken for a death. Before blaming a dead worker
for a chunk, the pool drains the results queue: an answer put before the
death is never lost.

One thread (the result handler) takes answers, watches the workers and runs
callbacks, as multiprocessing's result handler does.
"""
import collections
import itertools
import multiprocessing
import multiprocessing.pool
import os
import pickle
import queue
import reprlib
import signal
import threading
import time
import traceback
import weakref

from . import _lifetime
from . import _objects

__all__ = ["Pool", "AsyncResult", "MapResult", "WorkerDied"]

TimeoutError = multiprocessing.TimeoutError

# Chunks sent to one worker and not yet answered. One: a task goes to a
# worker only when it is free, as with multiprocessing's shared task queue,
# so a short task never waits behind a long one while another worker idles.
WINDOW = 1
_WATCH = 0.02  # seconds between looks at the workers' liveness


class WorkerDied(RuntimeError):
    """The worker running this task died (killed, crashed) before answering."""


# ---- the worker ----------------------------------------------------------------------------

_APPLY, _MAP, _STARMAP = 0, 1, 2


def _worker(slot, inbox, results, initializer, initargs, maxtasks):
    # terminate() sends SIGTERM, which must end this process wherever it is,
    # as it ends multiprocessing's workers: by the default action, in the
    # kernel. Not by a Python handler (one raising SystemExit was used): the
    # interpreter runs a handler only between bytecodes, so a SIGTERM that
    # came after the last check and before a blocking call (time.sleep in a
    # task, say) waited for that call to end, and a task in C code never
    # checks. The exit cleanup this skips (removing what this process made
    # without a name) is done by the pool once this process has exited
    # (_lifetime.collect_exited). With fork and spawn, SIGTERM was blocked
    # from the start (_start_worker) until here, so a handler inherited from
    # the parent never runs: a SIGTERM sent meanwhile ends the process now.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if initializer is not None:
        initializer(*initargs)
    done = 0
    while maxtasks is None or done < maxtasks:
        try:
            task = inbox.get()
        except (_objects.ShutDown, KeyboardInterrupt):
            break
        if task is None:
            break
        chunk, func, kind, payload = task
        try:
            if kind == _APPLY:
                value = func(*payload[0], **payload[1])
            elif kind == _MAP:
                value = list(map(func, payload))
            else:
                value = list(itertools.starmap(func, payload))
            ok = True
        except Exception as e:  # noqa: BLE001 - the task's error goes back to get(), with its traceback
            ok, value = False, multiprocessing.pool.ExceptionWithTraceback(e, e.__traceback__)
        # The value is pickled on its own, so that the pool can always read
        # which chunk an answer is for, even when the value cannot be unpickled there.
        try:
            data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - an unpicklable result or error
            ok, data = False, pickle.dumps(multiprocessing.pool.MaybeEncodingError(e, reprlib.repr(value)))
        try:
            results.put((chunk, slot, ok, data))
        except (ValueError, MemoryError) as e:  # too large for the results queue
            results.put((chunk, slot, False, pickle.dumps(ValueError("the task's result could not be sent: %s" % e))))
        done += 1
    # Retiring (maxtasksperchild) or told to stop: say so before exiting.
    results.put((None, slot, None, None))


# ---- results -----------------------------------------------------------------------------

class AsyncResult:
    """The result of apply_async (multiprocessing.pool.AsyncResult)."""

    def __init__(self, pool, callback, error_callback):
        self._pool = pool
        self._event = threading.Event()
        self._callback = callback
        self._error_callback = error_callback
        self._success = None
        self._value = None

    def ready(self):
        return self._event.is_set()

    def successful(self):
        if not self.ready():
            raise ValueError("%r not ready" % self)
        return self._success

    def wait(self, timeout=None):
        self._event.wait(timeout)

    def get(self, timeout=None):
        self.wait(timeout)
        if not self.ready():
            raise TimeoutError
        if self._success:
            return self._value
        raise self._value

    # Called by the pool with its lock held, for each chunk's answer.
    def _chunk_done(self, index, ok, value):
        self._finish(ok, value)

    def _finish(self, ok, value):
        if self._success is not None:
            return
        self._success, self._value = ok, value
        # As in multiprocessing, the callback runs before get() returns: the
        # pool runs it, outside its lock, then sets the event (_complete).
        self._pool._to_call.append(self)

    def _complete(self):
        fn = self._callback if self._success else self._error_callback
        try:
            if fn is not None:
                fn(self._value)
        finally:
            self._event.set()


class MapResult(AsyncResult):
    """The result of map_async and starmap_async: a list in input order."""

    def __init__(self, pool, nchunks, length, chunksize, callback, error_callback):
        super().__init__(pool, callback, error_callback)
        self._out = [None] * length  # each chunk's values go to their place as they arrive
        self._chunksize = chunksize
        self._left = nchunks
        if nchunks == 0:
            self._finish(True, [])

    def _chunk_done(self, index, ok, value):
        if not ok:
            self._finish(False, value)
            return
        start = index * self._chunksize
        self._out[start:start + len(value)] = value
        self._left -= 1
        if self._left == 0:
            self._finish(True, self._out)


class IMapIterator:
    """The iterator of imap (in order) and imap_unordered (as they finish)."""

    def __init__(self, pool, ordered):
        self._cond = threading.Condition(threading.Lock())
        self._ordered = ordered
        self._items = collections.deque()
        self._waiting = {}  # ordered: chunk index -> values that came early
        self._next_chunk = 0
        self._chunks = None  # known once every chunk was sent
        self._seen = 0

    def __iter__(self):
        return self

    def next(self, timeout=None):
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._items:
                if self._chunks is not None and self._seen == self._chunks and not self._waiting:
                    raise StopIteration
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError
                self._cond.wait(left)
            ok, value = self._items.popleft()
        if ok:
            return value
        raise value

    __next__ = next

    def _chunk_done(self, index, ok, value):
        with self._cond:
            self._seen += 1
            if not self._ordered:
                if ok:
                    self._items.extend((True, v) for v in value)
                else:
                    self._items.append((False, value))
            else:  # in input order: a failed chunk's error takes its place
                self._waiting[index] = (ok, value)
                while self._next_chunk in self._waiting:
                    done_ok, done = self._waiting.pop(self._next_chunk)
                    if done_ok:
                        self._items.extend((True, v) for v in done)
                    else:
                        self._items.append((False, done))
                    self._next_chunk += 1
            self._cond.notify_all()

    def _all_sent(self, nchunks):
        with self._cond:
            self._chunks = nchunks
            self._cond.notify_all()


# ---- the pool ------------------------------------------------------------------------------

def _terminate_at_exit(ref):
    pool = ref()
    if pool is not None:
        pool.terminate()


_RUN, _CLOSE, _TERMINATE = 0, 1, 2


class _Worker:
    def __init__(self, slot, process, inbox):
        self.slot = slot
        self.process = process
        self.inbox = inbox
        self.held = collections.deque()  # chunk ids sent, oldest first
        self.retiring = False


class Pool:
    """A pool of worker processes (multiprocessing.Pool) on shmring queues.

    Pool(processes=None, initializer=None, initargs=(), maxtasksperchild=None,
         context=None, *, retries=0)

    apply, apply_async (callback, error_callback), map, map_async, imap,
    imap_unordered, starmap, starmap_async, close, join, terminate, and use
    as a context manager (exit terminates, as in multiprocessing). A worker
    killed mid-task is replaced, and that task's get() raises WorkerDied
    (retries=n: the task runs again up to n times first) — never a hang.
    Any shmring object (a plain Queue too) can be passed to a task.
    """

    def __init__(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None, context=None, *,
                 retries=0):
        if processes is None:
            processes = os.cpu_count() or 1
        if processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if maxtasksperchild is not None and (not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0):
            raise ValueError("maxtasksperchild must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._ctx = getattr(context, "_mp", context) or multiprocessing.get_context()
        self._processes = processes
        self._initializer, self._initargs = initializer, initargs
        self._maxtasks = maxtasksperchild
        self._retries = retries
        self._lock = threading.RLock()
        self._state = _RUN
        self._results = _objects.Queue()  # items up to 64 MiB; memory as used
        self._chunks = {}  # chunk id -> [result, index, task, tries]
        self._pending = collections.deque()  # chunk ids not sent yet
        self._feeding = 0  # imap input threads still reading
        self._ids = itertools.count()
        self._to_call = []  # callbacks to run outside the lock
        self._workers = {}
        self._slots = itertools.count()
        self._owner = os.getpid()
        for _ in range(processes):
            self._start_worker()
        self._handler = threading.Thread(target=self._handle, name="shmring.Pool results", daemon=True)
        self._handler.start()
        # A program that ends with the pool open: stop it before
        # multiprocessing terminates its daemonic children at exit (priority
        # 15 runs first, as multiprocessing.Pool's own), or the results
        # thread would take them for dead and start replacements nobody stops.
        multiprocessing.util.Finalize(None, _terminate_at_exit, args=(weakref.ref(self),), exitpriority=15)

    # -- workers --

    def _start_worker(self):
        slot = next(self._slots)
        inbox = _objects.Queue()
        p = self._ctx.Process(target=_worker, name="PoolWorker-%d" % slot,
                              args=(slot, inbox, self._results, self._initializer, self._initargs, self._maxtasks))
        p.daemon = True
        # The child starts with SIGTERM blocked (a fork or an exec keeps this
        # thread's mask) and unblocks it once it has the default action
        # (_worker): a handler it inherited (fork) or an ignored SIGTERM
        # (fork, spawn) never swallows terminate()'s. Not for forkserver: its
        # children get the server's mask, and a server started by this
        # start() would keep SIGTERM blocked for every process it forks.
        if self._ctx.get_start_method() in ("fork", "spawn"):
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            try:
                p.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        else:
            p.start()
        self._workers[slot] = _Worker(slot, p, inbox)

    @staticmethod
    def _exited(w):
        """A worker's process has exited and was waited for: remove what it
        made without a name and nobody holds (a killed worker could not)."""
        _lifetime.collect_exited(w.process.pid)

    def _worker_gone(self, w, died):
        """A worker exited: fail (or retry) the chunk it was running, give the rest to others."""
        del self._workers[w.slot]
        w.inbox.shutdown()
        self._exited(w)  # its exitcode is known: it was waited for
        held = list(w.held)
        if died and held:
            first = held.pop(0)
            entry = self._chunks.get(first)
            if entry is not None:
                if entry[3] < self._retries:
                    entry[3] += 1
                    self._pending.appendleft(first)
                else:
                    code = w.process.exitcode
                    how = "killed by signal %d" % -code if code is not None and code < 0 else "exit code %s" % code
                    self._answer(first, False, WorkerDied(
                        "worker process %d (%s) died %s while running this task" % (w.process.pid, w.process.name, how)))
        for c in reversed(held):
            if c in self._chunks:
                self._pending.appendleft(c)
        if self._state == _RUN or (self._state == _CLOSE and (self._chunks or self._pending)):
            self._start_worker()

    def _watch(self):
        for w in list(self._workers.values()):
            if w.process.exitcode is not None:
                self._drain()  # answers put before the exit count first
                self._worker_gone(w, died=not w.retiring)

    # -- sending and answering --

    def _submit(self, result, index, task):
        cid = next(self._ids)
        self._chunks[cid] = [result, index, task, 0]
        self._pending.append(cid)
        return cid

    def _dispatch(self):
        while self._pending:
            best = None
            for w in self._workers.values():
                if not w.retiring and len(w.held) < WINDOW and (best is None or len(w.held) < len(best.held)):
                    best = w
            if best is None:
                return
            cid = self._pending.popleft()
            entry = self._chunks.get(cid)
            if entry is None:
                continue
            func, kind, payload = entry[2]
            try:
                best.inbox.put((cid, func, kind, payload))
            except Exception as e:  # noqa: BLE001 - unpicklable or too large: the task fails
                self._answer(cid, False, e)
                continue
            best.held.append(cid)

    def _answer(self, cid, ok, value):
        entry = self._chunks.pop(cid, None)
        if entry is not None:
            entry[0]._chunk_done(entry[1], ok, value)

    def _on_message(self, msg):
        cid, slot, ok, value = msg
        w = self._workers.get(slot)
        if cid is None:  # the worker retires
            if w is not None:
                w.retiring = True
            return
        if w is not None:
            try:
                w.held.remove(cid)
            except ValueError:
                pass
        try:
            value = pickle.loads(value)
        except Exception as e:  # noqa: BLE001 - e.g. an exception class that cannot be rebuilt here
            ok, value = False, RuntimeError("the task's %s could not be unpickled in the pool's process: %r"
                                            % ("result" if ok else "error", e))
        self._answer(cid, ok, value)

    def _drain(self):
        while True:
            try:
                msg = self._results.get_nowait()
            except (queue.Empty, _objects.ShutDown):
                return
            self._on_message(msg)

    def _run_callbacks(self):
        with self._lock:
            calls, self._to_call = self._to_call, []
        for result in calls:
            try:
                result._complete()
            except Exception:  # noqa: BLE001 - a callback's error: reported, the pool goes on
                traceback.print_exc()

    def _handle(self):
        last_watch = 0.0
        while True:
            try:
                msg = self._results.get(timeout=_WATCH)
            except _objects.ShutDown:
                return
            except queue.Empty:
                msg = None
            with self._lock:
                if self._state == _TERMINATE:
                    return
                if msg is not None:
                    self._on_message(msg)
                now = time.monotonic()
                if now - last_watch >= _WATCH:
                    last_watch = now
                    self._watch()
                self._dispatch()
            self._run_callbacks()

    # -- the public calls --

    def _check_running(self):
        if self._state != _RUN:
            raise ValueError("Pool not running")

    def _chunks_of(self, iterable, chunksize):
        """(chunks, chunksize). A range, list or tuple is sliced (a range's
        slices are ranges: nothing to build or pickle but three numbers);
        anything else is made a list first."""
        if not isinstance(iterable, (range, list, tuple)):
            iterable = list(iterable)
        if chunksize is None:  # multiprocessing's default
            chunksize, extra = divmod(len(iterable), self._processes * 4)
            if extra:
                chunksize += 1
        if len(iterable) == 0:
            chunksize = 1
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not %r" % chunksize)
        return [iterable[i:i + chunksize] for i in range(0, len(iterable), chunksize)], chunksize

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):  # noqa: B006 - mp's signature
        """Run func(*args, **kwds) in a worker; returns an AsyncResult."""
        self._check_running()
        result = AsyncResult(self, callback, error_callback)
        with self._lock:
            self._submit(result, 0, (func, _APPLY, (tuple(args), dict(kwds))))
            self._dispatch()
        self._run_callbacks()
        return result

    def apply(self, func, args=(), kwds={}):  # noqa: B006
        """apply_async(...).get()"""
        return self.apply_async(func, args, kwds).get()

    def _map_async(self, func, iterable, kind, chunksize, callback, error_callback):
        self._check_running()
        parts, chunksize = self._chunks_of(iterable, chunksize)
        result = MapResult(self, len(parts), sum(map(len, parts)), chunksize, callback, error_callback)
        with self._lock:
            for i, part in enumerate(parts):
                self._submit(result, i, (func, kind, part))
            self._dispatch()
        self._run_callbacks()
        return result

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """map() without waiting: returns a MapResult."""
        return self._map_async(func, iterable, _MAP, chunksize, callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """starmap() without waiting: returns a MapResult."""
        return self._map_async(func, iterable, _STARMAP, chunksize, callback, error_callback)

    def map(self, func, iterable, chunksize=None):
        """[func(x) for x in iterable], computed by the workers in chunks."""
        return self.map_async(func, iterable, chunksize).get()

    def starmap(self, func, iterable, chunksize=None):
        """[func(*args) for args in iterable], computed by the workers."""
        return self.starmap_async(func, iterable, chunksize).get()

    def _imap(self, func, iterable, chunksize, ordered):
        self._check_running()
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not %r" % chunksize)
        it = IMapIterator(self, ordered)
        with self._lock:
            self._feeding += 1
        # The input is read by a thread, as multiprocessing's task handler
        # does: results come while a slow (or endless) iterable is read.
        threading.Thread(target=self._feed, args=(it, func, iterable, chunksize), daemon=True,
                         name="shmring.Pool imap input").start()
        return it

    def _feed(self, it, func, iterable, chunksize):
        n = 0
        try:
            source = iter(iterable)
            while True:
                part = list(itertools.islice(source, chunksize))
                if not part:
                    break
                with self._lock:
                    if self._state == _TERMINATE:
                        break
                    self._submit(it, n, (func, _MAP, part))
                    self._dispatch()
                n += 1
        except Exception as e:  # noqa: BLE001 - the iterable failed: its error takes the next place
            it._chunk_done(n, False, e)
            n += 1
        finally:
            it._all_sent(n)
            with self._lock:
                self._feeding -= 1
            self._run_callbacks()

    def imap(self, func, iterable, chunksize=1):
        """Like map, as an iterator yielding in input order."""
        return self._imap(func, iterable, chunksize, True)

    def imap_unordered(self, func, iterable, chunksize=1):
        """Like imap, yielding each result as soon as it is ready."""
        return self._imap(func, iterable, chunksize, False)

    def close(self):
        """No more tasks; the workers exit once the queued tasks are done."""
        if self._state == _RUN:
            self._state = _CLOSE

    def terminate(self):
        """Stop the workers now; unfinished tasks are abandoned."""
        if os.getpid() != self._owner:
            return
        with self._lock:
            if self._state == _TERMINATE:
                return
            self._state = _TERMINATE
            workers = list(self._workers.values())
        for w in workers:
            if w.process.exitcode is None:
                w.process.terminate()
        for w in workers:
            w.process.join()
            w.inbox.shutdown()
            self._exited(w)
        self._results.shutdown()
        self._handler.join()

    def join(self):
        """Wait for the workers to exit (after close() or terminate())."""
        if self._state == _RUN:
            raise ValueError("Pool is still running")
        if self._state == _TERMINATE or os.getpid() != self._owner:
            return
        while True:
            with self._lock:
                if not self._chunks and not self._pending and not self._feeding:
                    workers = list(self._workers.values())
                    break
            time.sleep(0.005)
        for w in workers:
            try:
                w.inbox.put(None)
            except Exception:  # noqa: BLE001 - shut down already
                pass
        for w in workers:
            w.process.join()
            self._exited(w)
        with self._lock:
            self._state = _TERMINATE
        self._results.shutdown()
        self._handler.join()
        self._run_callbacks()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, *exc):
        self.terminate()

    def __reduce__(self):
        raise NotImplementedError("pool objects cannot be passed between processes or pickled")

    def __repr__(self):
        state = {_RUN: "RUN", _CLOSE: "CLOSE", _TERMINATE: "TERMINATE"}[self._state]
        return "<shmring.Pool state=%s pool_size=%d>" % (state, len(self._workers))
