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
        if initializer is not None:
            initializer(*initargs)
        self._started = True

    def connect(self):
        pass

    def shutdown(self):
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
        options = {k: kwargs.pop(k) for k in ("name", "capacity", "max_key", "max_value") if k in kwargs}
        return _objects.Dict(*args, **options, **kwargs)

    def list(self, sequence=(), **options):
        return _objects.List(sequence, **options)

    def Namespace(self, **kwargs):
        return _objects.Namespace(**kwargs)

    def Queue(self, maxsize=0, **options):
        return _objects.Queue(maxsize, **options)

    def JoinableQueue(self, maxsize=0, **options):
        return _objects.JoinableQueue(maxsize, **options)

    def Lock(self, **options):
        return _objects.Lock(**options)

    def RLock(self, **options):
        return _objects.RLock(**options)

    def Semaphore(self, value=1, **options):
        return _objects.Semaphore(value, **options)

    def BoundedSemaphore(self, value=1, **options):
        return _objects.BoundedSemaphore(value, **options)

    def Event(self, **options):
        return _objects.Event(**options)

    def Condition(self, lock=None, **options):
        return _objects.Condition(lock, **options)

    def Barrier(self, parties, action=None, timeout=None, **options):
        return _objects.Barrier(parties, action, timeout, **options)

    def Value(self, typecode, value, lock=True, **options):
        return _objects.Value(typecode, value, lock=lock, **options)

    def Array(self, typecode, sequence, lock=True, **options):
        return _objects.Array(typecode, sequence, lock=lock, **options)

    def Pool(self, *args, **kwargs):
        from .pool import Pool
        return Pool(*args, **kwargs)

    def __repr__(self):
        return "<shmring.SharedManager (no server process)>"


def Manager(*, ctx=None):
    """A started SharedManager (multiprocessing.Manager())."""
    m = SharedManager()
    m.start()
    return m
