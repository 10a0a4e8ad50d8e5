"""Manager(): multiprocessing.Manager's factory methods without a server
process. Every object it hands out is a shmring object in shared memory, so
a get or a set costs a memory access, not a round trip to a server."""
from . import _objects

__all__ = ["SharedManager", "Manager"]


class SharedManager:
    """What Manager() returns. start(), shutdown() and use in ``with`` are
    accepted for compatibility and do nothing: there is no server."""

    def __init__(self, *args, **kwargs):
        self._started = False

    def start(self, initializer=None, initargs=()):
        """Nothing to start (no server); runs initializer(*initargs) if given."""
        if initializer is not None:
            initializer(*initargs)
        self._started = True

    def connect(self):
        """Nothing to connect to (no server)."""
        pass

    def shutdown(self):
        """Nothing to shut down (no server): the objects stay usable."""
        self._started = False

    join = connect

    def __enter__(self):
        self._started = True
        return self

    def __exit__(self, *exc):
        self.shutdown()

    # The objects. Keyword arguments beyond multiprocessing's (name=,
    # capacity=, ...) go to the shmring constructors.
    def dict(self, *args, **kwargs):
        """A shmring Dict (shared memory, no server)."""
        options = {k: kwargs.pop(k) for k in ("name", "capacity", "max_key", "max_value") if k in kwargs}
        return _objects.Dict(*args, **options, **kwargs)

    def list(self, sequence=(), **options):
        """A shmring List (shared memory, no server)."""
        return _objects.List(sequence, **options)

    def Namespace(self, **kwargs):
        """A Namespace whose attributes live in a shared Dict."""
        return _objects.Namespace(**kwargs)

    def Queue(self, maxsize=0, **options):
        """A shmring Queue."""
        return _objects.Queue(maxsize, **options)

    def JoinableQueue(self, maxsize=0, **options):
        """A shmring JoinableQueue."""
        return _objects.JoinableQueue(maxsize, **options)

    def Lock(self, **options):
        """A shmring Lock."""
        return _objects.Lock(**options)

    def RLock(self, **options):
        """A shmring RLock."""
        return _objects.RLock(**options)

    def Semaphore(self, value=1, **options):
        """A shmring Semaphore."""
        return _objects.Semaphore(value, **options)

    def BoundedSemaphore(self, value=1, **options):
        """A shmring BoundedSemaphore."""
        return _objects.BoundedSemaphore(value, **options)

    def Event(self, **options):
        """A shmring Event."""
        return _objects.Event(**options)

    def Condition(self, lock=None, **options):
        """A shmring Condition."""
        return _objects.Condition(lock, **options)

    def Barrier(self, parties, action=None, timeout=None, **options):
        """A shmring Barrier."""
        return _objects.Barrier(parties, action, timeout, **options)

    def Value(self, typecode, value, lock=True, **options):
        """The Manager's Value: .value, get() and set() on any picklable
        object (as multiprocessing's, the typecode is not enforced). It
        lives in a shared Dict; a ctypes Value is shmring.Value."""
        return ManagedValue(typecode, value, **options)

    def Array(self, typecode, sequence, lock=True, **options):
        """A shmring Array."""
        return _objects.Array(typecode, sequence, lock=lock, **options)

    def Pool(self, *args, **kwargs):
        """A shmring Pool."""
        from .pool import Pool
        return Pool(*args, **kwargs)

    def __repr__(self):
        return "<shmring.SharedManager (no server process)>"


class ManagedValue:
    """Manager().Value(typecode, value): one picklable object in shared memory."""

    def __init__(self, typecode, value, *, _dict=None, **options):
        self._typecode = typecode
        self._d = _dict if _dict is not None else _objects.Dict(capacity=1, max_value=options.pop("max_value", 1 << 16),
                                                                **options)
        if _dict is None:
            self._d["value"] = value

    def get(self):
        return self._d["value"]

    def set(self, value):
        self._d["value"] = value

    value = property(get, set)

    def __reduce__(self):
        return (_managed_value, (self._typecode, self._d))

    def __repr__(self):
        return "%s(%r, %r)" % (type(self).__name__, self._typecode, self.get())


def _managed_value(typecode, d):
    return ManagedValue(typecode, None, _dict=d)


def Manager(*, ctx=None):
    """A started SharedManager (multiprocessing.Manager())."""
    m = SharedManager()
    m.start()
    return m
