"""The multiprocessing objects, each a named shmring object.

Every class here subclasses a C++ type from ``_shmring``: the calls that run
per message or per acquire go straight to C++, and this layer adds what a
Python user expects around them (the constructor signatures of
``multiprocessing``, ``open(name)``, pickling by name, ``repr``).
"""
import ctypes
import operator
import threading
import time
from multiprocessing import context as _mp_context

from . import _lifetime
from . import _shmring

__all__ = [
    "Queue", "SimpleQueue", "JoinableQueue", "Pipe", "Connection", "Lock", "RLock", "Semaphore",
    "BoundedSemaphore", "Event", "Condition", "Barrier", "Value", "Array", "RawValue", "RawArray",
    "Dict", "List", "Namespace", "ShutDown", "unlink",
]

ShutDown = _shmring.ShutDown


def _rebuild(cls, name, extra, inherited):
    obj = cls.__new__(cls)
    obj._attach(name, extra, inherited)
    return obj


class _Named:
    """What every shmring object made from Python has: a name, open(), pickling
    by name, and for objects made without a name, a share in their lifetime
    (shmring._lifetime)."""

    _kind = None  # shmring.unlink's kind

    def _track(self, name, hold):
        self._name = name
        self._hold = hold

    def _created(self, name):
        """After a create: this process's share in the object's lifetime. If
        taking it fails (no file descriptor left: each object made without
        a name uses two), the new file is removed before the error goes up."""
        try:
            hold = _lifetime.hold(name)
        except BaseException:
            if _lifetime.is_auto(name):
                _lifetime.remove_if_unused(_lifetime.path_of(name))
            raise
        self._track(name, hold)

    def _extra(self):
        """What besides the name a process needs to open this object."""
        return None

    def __reduce__(self):
        hold = getattr(self, "_hold", None)
        return _rebuild, (type(self), self._name, self._extra(),
                          hold.for_pickle() if hold is not None else None)

    def _attach(self, name, extra, inherited=None):
        self._open(name, extra)
        self._track(name, _lifetime.hold(name, inherited))

    @classmethod
    def open(cls, name):
        """Attach to the object of this type called `name`, made by any process."""
        obj = cls.__new__(cls)
        obj._attach(name, None)
        return obj

    @classmethod
    def unlink(cls, name):
        """Remove the name (processes that have the object open keep using it)."""
        _shmring._unlink(cls._kind, name)

    def __del__(self):
        hold = getattr(self, "_hold", None)
        if hold is not None:
            try:
                hold.release()
            except Exception:  # noqa: BLE001 - interpreter shutdown: release_all ran already
                pass

    @staticmethod
    def _new_name(name, kind):
        return _lifetime.auto_name(kind) if name is None else name


def unlink(kind, name):
    """Remove the object `name` of the given kind ('queue', 'joinable', 'pipe',
    'lock', 'rlock', 'semaphore', 'bounded', 'event', 'condition', 'barrier',
    'value', 'array', 'dict', 'list')."""
    _shmring._unlink(kind, name)


# ---- queues -------------------------------------------------------------------------

class Queue(_Named, _shmring._Queue):
    """A process-shared FIFO queue: multiprocessing.Queue without a feeder thread.

    Queue(maxsize=0, *, name=None, capacity_bytes=1 GiB, max_message=0)

    Items are pickled (bytes travel as they are); ``put`` and ``get`` block as
    in ``multiprocessing`` and raise ``queue.Full`` / ``queue.Empty``. Any
    process attaches with ``Queue.open(name)``, and the queue pickles by
    name, so it can be passed to Pool tasks and to processes started by fork,
    spawn or forkserver. ``close()`` ends this handle only (as in
    ``multiprocessing``); ``shutdown()`` closes the queue for everyone.
    A process killed while putting or getting loses nothing that was
    committed.

    capacity_bytes: the ring's virtual size. Memory is taken as messages
    are queued and given back as they are taken, so the 1 GiB default
    costs what is queued. It is cut into one lane per producer (8): an item
    may be up to 1/16 of it (64 MiB by default, ValueError beyond), and a
    producer that has 1/8 of it queued waits for room even when maxsize=0.
    """

    _kind = "queue"
    _joinable = False

    def __init__(self, maxsize=0, *, ctx=None, name=None, capacity_bytes=1 << 30, max_message=0):
        name = self._new_name(name, "queue")
        _shmring._Queue.__init__(self, name, True, int(maxsize), capacity_bytes, max_message, self._joinable)
        self._created(name)

    def _open(self, name, extra):
        _shmring._Queue.__init__(self, name, False, joinable=self._joinable)

    def close(self):
        """Indicate that this process will put no more on this handle (later
        calls on it raise ValueError). Other handles and processes go on."""
        self._close_handle()

    def join_thread(self):
        """No feeder thread to join: returns at once (after close(), as in multiprocessing)."""
        if not self._closed:
            raise AssertionError("join_thread() needs close() first")

    def cancel_join_thread(self):
        """Nothing to cancel: every put is in shared memory when it returns."""

    def __repr__(self):
        state = "closed handle" if self._closed else ("shut down" if self.is_shut_down else "open")
        return "<shmring.%s %r maxsize=%d qsize=%d %s>" % (
            type(self).__name__, self.name, self.maxsize, self.qsize(), state)

    def __getstate__(self):  # pragma: no cover - pickling goes through __reduce__
        raise TypeError("pickled by name")


class SimpleQueue(Queue):
    """multiprocessing.SimpleQueue: an unbounded Queue (get, put, empty, close)."""

    def __init__(self, *, ctx=None, name=None, capacity_bytes=1 << 30, max_message=0):
        super().__init__(0, name=name, capacity_bytes=capacity_bytes, max_message=max_message)

    def put(self, obj):  # noqa: D401 - same signature as multiprocessing.SimpleQueue
        """Put obj, waiting for room if the queue's bytes are full."""
        _shmring._Queue.put(self, obj)

    def get(self):
        """Remove and return the next item, waiting for one."""
        return _shmring._Queue.get(self)


class JoinableQueue(Queue):
    """multiprocessing.JoinableQueue: a Queue with task_done() and join()."""

    _kind = "joinable"
    _joinable = True


# ---- Pipe ---------------------------------------------------------------------------

class Connection(_Named, _shmring._Connection):
    """One end of a Pipe: send/recv pickled objects, send_bytes/recv_bytes raw bytes.

    Any number of processes may hold either end: every message arrives whole,
    and the other side sees EOFError once every handle of this end is closed
    or its process has died, after all that was sent.
    """

    _kind = "pipe"

    def _open(self, name, extra):
        _shmring._Connection.__init__(self, name, extra)

    def _extra(self):
        return self._end

    def __reduce__(self):
        popen = _mp_context.get_spawning_popen()
        if popen is not None and not self.closed:
            _hold_end_for_child(self.name, self._end, popen)
        return _Named.__reduce__(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return "<shmring.Connection %r end=%s %s>" % (self.name, "ab"[self._end], state)


def _running(pid):
    """pid exists and is not a zombie (its children are not all reaped by us:
    a forkserver's are the server's)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _hold_end_for_child(name, end, popen):
    """A child being started by spawn or forkserver opens its end by name only
    once it runs; until then the parent could close the last handle of that
    end (EOF is final). So the parent holds one more handle of the end for
    the child until the child exits. (A forked child inherits its handles at
    the fork: nothing to do.) The cost: if the child closes its end and goes
    on running, the other side sees EOF only when the child exits."""
    extra = _shmring._Connection(name, end)

    def keep():
        while getattr(popen, "pid", None) is None and getattr(popen, "returncode", None) is None:
            time.sleep(0.01)  # start() has not launched the child yet
        # Not the sentinel: a forkserver's is readable once it sends the pid.
        while getattr(popen, "returncode", None) is None and _running(popen.pid):
            time.sleep(0.05)
        extra.close()

    threading.Thread(target=keep, name="shmring: pipe end for a child", daemon=True).start()


def Pipe(duplex=True, *, name=None, capacity_bytes=8 << 20):
    """Return (conn1, conn2), the two ends of a pipe, as multiprocessing.Pipe.

    duplex=False: conn1 only receives, conn2 only sends.
    """
    name = _Named._new_name(name, "pipe")
    pair = _shmring._PipePair(name, duplex, capacity_bytes)
    ends = []
    for end in (0, 1):
        c = Connection.__new__(Connection)
        _shmring._Connection.__init__(c, pair, end)
        c._created(name)
        ends.append(c)
    return ends[0], ends[1]


# ---- locks and the rest of synchronization -----------------------------------------------

class Lock(_Named, _shmring._Lock):
    """A process-shared non-recursive lock (multiprocessing.Lock).

    acquire(block=True, timeout=None) -> bool; release(); usable in ``with``.
    A holder that dies holding it is taken over by the next acquirer.
    """

    _kind = "lock"
    _recursive = False

    def __init__(self, *, ctx=None, name=None):
        name = self._new_name(name, self._kind)
        _shmring._Lock.__init__(self, name, True, self._recursive)
        self._created(name)

    def _open(self, name, extra):
        _shmring._Lock.__init__(self, name, False, self._recursive)

    def __repr__(self):
        return "<shmring.%s %r %s>" % (type(self).__name__, self._name, "locked" if self._locked else "unlocked")


class RLock(Lock):
    """A process-shared recursive lock (multiprocessing.RLock)."""

    _kind = "rlock"
    _recursive = True


class Semaphore(_Named, _shmring._Semaphore):
    """A process-shared semaphore (multiprocessing.Semaphore(value=1))."""

    _kind = "semaphore"
    _bounded = False

    def __init__(self, value=1, *, ctx=None, name=None):
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        name = self._new_name(name, self._kind)
        _shmring._Semaphore.__init__(self, name, True, value, self._bounded)
        self._created(name)

    def _open(self, name, extra):
        _shmring._Semaphore.__init__(self, name, False, bounded=self._bounded)

    def __repr__(self):
        return "<shmring.%s %r value=%d>" % (type(self).__name__, self._name, self.get_value())


class BoundedSemaphore(Semaphore):
    """A Semaphore whose release() above its initial value raises ValueError."""

    _kind = "bounded"
    _bounded = True


class Event(_Named, _shmring._Event):
    """A process-shared event (multiprocessing.Event): set, clear, is_set, wait."""

    _kind = "event"

    def __init__(self, *, ctx=None, name=None):
        name = self._new_name(name, self._kind)
        _shmring._Event.__init__(self, name, True)
        self._created(name)

    def _open(self, name, extra):
        _shmring._Event.__init__(self, name, False)

    def __repr__(self):
        return "<shmring.Event %r %s>" % (self._name, "set" if self.is_set() else "unset")


class Condition(_Named, _shmring._Condition):
    """A process-shared condition variable (multiprocessing.Condition(lock=None)).

    lock=None: its own RLock. A shmring Lock or RLock may be given instead.
    wait() is not interrupted by Ctrl-C before it returns: give it a timeout
    where that matters.
    """

    _kind = "condition"

    def __init__(self, lock=None, *, ctx=None, name=None):
        if lock is not None and not isinstance(lock, _shmring._Lock):
            raise TypeError("lock must be a shmring Lock or RLock")
        name = self._new_name(name, self._kind)
        _shmring._Condition.__init__(self, name, True, lock)
        self._user_lock = lock  # pickled with the condition (by name), and kept alive with it
        self._created(name)

    def _open(self, name, extra):
        _shmring._Condition.__init__(self, name, False, extra)
        self._user_lock = extra

    def _extra(self):
        return self._user_lock

    def wait_for(self, predicate, timeout=None):
        """Wait until predicate() is true (as threading.Condition.wait_for)."""
        result = predicate()
        if result:
            return result
        endtime = None
        waittime = timeout
        import time
        while not result:
            if waittime is not None:
                if endtime is None:
                    endtime = time.monotonic() + waittime
                else:
                    waittime = endtime - time.monotonic()
                    if waittime <= 0:
                        break
            self.wait(waittime)
            result = predicate()
        return result

    notifyAll = _shmring._Condition.notify_all

    def __repr__(self):
        return "<shmring.Condition %r>" % (self._name,)


class Barrier(_Named, _shmring._Barrier):
    """A process-shared barrier (multiprocessing.Barrier(parties, action=None, timeout=None)).

    wait() returns 0..parties-1; a timeout, abort() or reset() while others
    wait raises threading.BrokenBarrierError. `action` runs in the last
    process to arrive, so it must exist there (it is pickled with the barrier).
    """

    _kind = "barrier"

    def __init__(self, parties, action=None, timeout=None, *, ctx=None, name=None):
        name = self._new_name(name, self._kind)
        _shmring._Barrier.__init__(self, name, True, parties, action)
        self._action = action
        self._timeout = timeout
        self._created(name)

    def _open(self, name, extra):
        action, timeout = extra if extra is not None else (None, None)
        _shmring._Barrier.__init__(self, name, False, action=action)
        self._action = action
        self._timeout = timeout

    def _extra(self):
        return (self._action, self._timeout)

    def wait(self, timeout=None):
        """Wait for the other parties; returns this party's index."""
        return self._wait(self._timeout if timeout is None else timeout)

    def __repr__(self):
        return "<shmring.Barrier %r parties=%d waiting=%d%s>" % (
            self._name, self.parties, self.n_waiting, " broken" if self.broken else "")


# ---- Value and Array ----------------------------------------------------------------------

_TYPES = {
    "c": ctypes.c_char, "u": ctypes.c_wchar, "b": ctypes.c_byte, "B": ctypes.c_ubyte, "?": ctypes.c_bool,
    "h": ctypes.c_short, "H": ctypes.c_ushort, "i": ctypes.c_int, "I": ctypes.c_uint, "l": ctypes.c_long,
    "L": ctypes.c_ulong, "q": ctypes.c_longlong, "Q": ctypes.c_ulonglong, "f": ctypes.c_float,
    "d": ctypes.c_double,
}


def _typecode(typecode_or_type):
    if isinstance(typecode_or_type, str):
        if typecode_or_type not in _TYPES:
            raise TypeError("unsupported typecode %r (one of %s)" % (typecode_or_type, "".join(_TYPES)))
        return typecode_or_type
    for code, t in _TYPES.items():
        if typecode_or_type is t:
            return code
    raise TypeError("shmring's Value and Array hold the ctypes simple types (%s), not %r"
                    % (", ".join(t.__name__ for t in _TYPES.values()), typecode_or_type))


class _Shared(_Named):
    """Value and Array: a ctypes object in a named segment, with its lock."""

    def _setup(self, raw, code, count, lock):
        self._raw = raw
        self._code = code
        ctype = _TYPES[code]
        self._obj = (ctype * count).from_buffer(raw) if self._is_array else ctype.from_buffer(raw)
        if lock is True or lock is None:
            lock = raw._lock()  # the embedded RLock
        self._lock = lock
        self._locked = lock is not False

    def _make(self, name, code, count, init, lock):
        raw = _shmring._Typed(name, True, code, self._is_array, count, init, lock is not False)
        self._setup(raw, code, count, lock)
        self._created(name)

    def _open(self, name, extra):
        code, lock = extra
        raw = _shmring._Typed(name, False, code, self._is_array)
        self._setup(raw, code, raw._count, lock)

    def _extra(self):
        user_lock = self._lock if isinstance(self._lock, _Named) else (False if not self._locked else None)
        return (self._code, user_lock)

    @classmethod
    def open(cls, name, typecode_or_type="d", *, lock=True):
        obj = cls.__new__(cls)
        obj._attach(name, (_typecode(typecode_or_type), lock))
        return obj

    @classmethod
    def unlink(cls, name):
        _shmring._unlink(cls._kind, name)

    def get_obj(self):
        """The ctypes object in shared memory (reads and writes are not locked)."""
        return self._obj

    def get_lock(self):
        """The lock that guards this object (its embedded RLock unless one was given)."""
        if self._lock is False:
            return self._raw._lock()
        return self._lock

    def acquire(self, *args):
        return self.get_lock().acquire(*args)

    def release(self):
        return self.get_lock().release()

    def __enter__(self):
        return self.get_lock().__enter__()

    def __exit__(self, *exc):
        return self.get_lock().__exit__(*exc)


class _Value(_Shared):
    _kind = "value"
    _is_array = False

    @property
    def value(self):
        if self._locked:
            with self._lock:
                return self._obj.value
        return self._obj.value

    @value.setter
    def value(self, v):
        if self._locked:
            with self._lock:
                self._obj.value = v
        else:
            self._obj.value = v

    def __repr__(self):
        return "<shmring.Value %r %s(%r)>" % (self._name, type(self._obj).__name__, self._obj.value)


class _Array(_Shared):
    _kind = "array"
    _is_array = True

    def __len__(self):
        return len(self._obj)

    def __getitem__(self, i):
        if self._locked:
            with self._lock:
                return self._obj[i]
        return self._obj[i]

    def __setitem__(self, i, v):
        if self._locked:
            with self._lock:
                self._obj[i] = v
        else:
            self._obj[i] = v

    def __iter__(self):  # one element at a time, as multiprocessing's (a 'c' array gives bytes of one)
        if self._locked:
            with self._lock:
                items = [self._obj[i] for i in range(len(self._obj))]
        else:
            items = [self._obj[i] for i in range(len(self._obj))]
        return iter(items)

    @property
    def value(self):  # 'c' arrays, as multiprocessing's
        with self.get_lock():
            return self._obj.value

    @value.setter
    def value(self, v):
        with self.get_lock():
            self._obj.value = v

    @property
    def raw(self):
        with self.get_lock():
            return self._obj.raw

    def __repr__(self):
        return "<shmring.Array %r %s[%d]>" % (self._name, _TYPES[self._code].__name__, len(self))


def Value(typecode_or_type, *args, lock=True, ctx=None, name=None):
    """A ctypes value in shared memory (multiprocessing.Value).

    lock=True: reads and writes of .value take its embedded RLock (get_lock());
    a shmring Lock/RLock may be given instead; lock=False: not locked.
    """
    code = _typecode(typecode_or_type)
    init = bytes(_TYPES[code](*args))
    v = _Value.__new__(_Value)
    v._make(_Named._new_name(name, "value"), code, 1, init, lock)
    return v


def Array(typecode_or_type, size_or_initializer, *, lock=True, ctx=None, name=None):
    """A ctypes array in shared memory (multiprocessing.Array): an int size
    (zero-filled) or a sequence of initial values."""
    code = _typecode(typecode_or_type)
    ctype = _TYPES[code]
    if isinstance(size_or_initializer, int):
        count, init = size_or_initializer, None
    else:
        values = list(size_or_initializer)
        count = len(values)
        init = bytes((ctype * count)(*values))
    if count < 0:
        raise ValueError("array size must be >= 0")
    a = _Array.__new__(_Array)
    a._make(_Named._new_name(name, "array"), code, count, init, lock)
    return a


def RawValue(typecode_or_type, *args, name=None):
    """Value(..., lock=False)."""
    return Value(typecode_or_type, *args, lock=False, name=name)


def RawArray(typecode_or_type, size_or_initializer, *, name=None):
    """Array(..., lock=False)."""
    return Array(typecode_or_type, size_or_initializer, lock=False, name=name)


Value.open = _Value.open
Array.open = _Array.open

# ---- Dict, List, Namespace ----------------------------------------------------------------

_missing = object()


class Dict(_Named, _shmring._Dict):
    """A dict in shared memory (what Manager().dict() gives), no server process.

    Dict(mapping=(), *, name=None, capacity=1024, max_key=128, max_value=1024, **kwargs)

    Readers never block and never see a torn entry, even if a writer is
    killed mid-write. Keys and values are str, int, float, bytes, None, bool
    (stored directly) or anything picklable; sizes are fixed at create
    (MemoryError when full, ValueError for an entry above max_key/max_value).
    keys(), values() and items() return snapshots (lists).
    """

    _kind = "dict"

    def __init__(self, mapping=(), *, name=None, capacity=1024, max_key=128, max_value=1024, **kwargs):
        name = self._new_name(name, self._kind)
        _shmring._Dict.__init__(self, name, True, capacity, max_key, max_value)
        self._created(name)
        self.update(mapping, **kwargs)

    def _open(self, name, extra):
        _shmring._Dict.__init__(self, name, False)

    def __iter__(self):
        return iter(self.keys())

    def pop(self, key, default=_missing):
        """Remove key and return its value (default, or KeyError, if absent)."""
        return self._pop(key, default, default is not _missing)

    def popitem(self):
        """Remove and return some (key, value) pair; KeyError if empty."""
        for k in self.keys():
            v = self._pop(k, _missing, True)
            if v is not _missing:
                return k, v
        raise KeyError("popitem(): dictionary is empty")

    def update(self, other=(), **kwargs):
        """Set every pair of a mapping or iterable of pairs, then of kwargs."""
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v
        for k, v in kwargs.items():
            self[k] = v

    def copy(self):
        """A plain dict with the current entries."""
        return dict(self.items())

    def __eq__(self, other):
        if isinstance(other, (dict, Dict)):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return "<shmring.Dict %r %r>" % (self._name, dict(self.items()))


def _index(i):
    try:
        return operator.index(i)
    except TypeError:
        raise TypeError("list indices must be integers or slices, not %s" % type(i).__name__) from None


class List(_Named, _shmring._List):
    """A list in shared memory (what Manager().list() gives), no server process.

    List(iterable=(), *, name=None, capacity=1024, max_value=1024)

    Single operations are atomic; read-modify-write sequences (sort, a += 1
    on an element) are not: guard them with a Lock.
    """

    _kind = "list"

    def __init__(self, iterable=(), *, name=None, capacity=1024, max_value=1024):
        name = self._new_name(name, self._kind)
        _shmring._List.__init__(self, name, True, capacity, max_value)
        self._created(name)
        self.extend(iterable)

    def _open(self, name, extra):
        _shmring._List.__init__(self, name, False)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._snapshot()[i]
        return self._get(_index(i))

    def _rewrite(self, items):
        """Replace the contents with `items`; if an element does not fit,
        put the old contents back before raising."""
        old = self._snapshot()
        self.clear()
        try:
            self.extend(items)
        except BaseException:
            self.clear()
            self.extend(old)
            raise

    def __setitem__(self, i, value):
        if isinstance(i, slice):
            items = self._snapshot()
            items[i] = value
            self._rewrite(items)
        else:
            self._set(_index(i), value)

    def __delitem__(self, i):
        if isinstance(i, slice):
            items = self._snapshot()
            del items[i]
            self._rewrite(items)
        else:
            self._pop(_index(i))

    def __add__(self, other):
        return self._snapshot() + list(other)

    def __radd__(self, other):
        return list(other) + self._snapshot()

    def __mul__(self, n):
        return self._snapshot() * n

    __rmul__ = __mul__

    def __imul__(self, n):
        self._rewrite(self._snapshot() * n)
        return self

    def insert(self, i, value):
        """Insert value before index i."""
        self._insert(i, value)

    def pop(self, i=-1):
        """Remove and return the element at i (the last by default); IndexError if none."""
        return self._pop(i)

    def extend(self, iterable):
        """Append each element of iterable."""
        for v in iterable:
            self.append(v)

    def __iadd__(self, iterable):
        self.extend(iterable)
        return self

    def __iter__(self):
        return iter(self._snapshot())

    def __contains__(self, v):
        return v in self._snapshot()

    def index(self, v, *args):
        """The first index of v (ValueError if absent)."""
        return self._snapshot().index(v, *args)

    def count(self, v):
        """How many elements equal v."""
        return self._snapshot().count(v)

    def remove(self, v):
        """Remove the first element equal to v (ValueError if absent)."""
        del self[self.index(v)]

    def reverse(self):
        """Reverse in place (rewrites the list: not atomic)."""
        self._rewrite(self._snapshot()[::-1])

    def sort(self, *, key=None, reverse=False):
        """Sort in place (rewrites the list: not atomic)."""
        self._rewrite(sorted(self._snapshot(), key=key, reverse=reverse))

    def copy(self):
        """A plain list with the current elements."""
        return self._snapshot()

    def __eq__(self, other):
        if isinstance(other, (list, List)):
            return self._snapshot() == list(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return "<shmring.List %r %r>" % (self._name, self._snapshot())


class Namespace:
    """Manager().Namespace(): attributes stored in a shared Dict."""

    def __init__(self, *, name=None, _dict=None, **kwargs):
        object.__setattr__(self, "_d", _dict if _dict is not None else Dict(name=name))
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._d[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        if key.startswith("_"):
            raise AttributeError("names starting with '_' are not shared")
        self._d[key] = value

    def __delattr__(self, key):
        try:
            del self._d[key]
        except KeyError:
            raise AttributeError(key) from None

    def __reduce__(self):
        return (_namespace_of, (self._d,))

    def __repr__(self):
        return "Namespace(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self._d.items()))


def _namespace_of(d):
    return Namespace(_dict=d)
