"""shmring: Python's multiprocessing toolbox over shared memory.

Change the import and keep the program::

    from shmring import Process, Queue        # was: from multiprocessing import ...
    import shmring as multiprocessing          # was: import multiprocessing

Queue, SimpleQueue, JoinableQueue, Pipe, Lock, RLock, Semaphore,
BoundedSemaphore, Event, Condition, Barrier, Value, Array, RawValue,
RawArray, Pool and Manager have multiprocessing's signatures, defaults and
exceptions; Process, current_process, active_children, cpu_count and the
start-method functions are multiprocessing's own. Beyond it:

* every object has a name (``name=`` to choose it) and any process attaches
  with ``Queue.open(name)``, ``Lock.open(name)``...; handles pickle by name,
  so a plain Queue can be passed to a Pool task or a spawned process;
* objects made without a name disappear from /dev/shm once their last user
  exits;
* a Pool worker killed mid-task makes that task fail (WorkerDied) instead of
  hanging the pool; a lock holder's death frees the lock;
* Manager() runs no server process: its dict, list and Namespace live in
  shared memory;
* a C++ program shares a queue with Python: ``put_bytes``/``get_bytes``
  carry bytes unchanged, and ``get`` returns a C++ message as bytes.

Documentation: docs/python.md in the source tree.
"""
import multiprocessing as _mp
from multiprocessing import (AuthenticationError, BufferTooShort, ProcessError, TimeoutError,  # noqa: F401
                             active_children, cpu_count, current_process, freeze_support, get_all_start_methods,
                             get_logger, get_start_method, log_to_stderr, parent_process, set_executable,
                             set_forkserver_preload, set_start_method, Process)

from . import _lifetime
from ._objects import (Array, Barrier, BoundedSemaphore, Condition, Connection, Dict, Event,  # noqa: F401
                       JoinableQueue, List, Lock, Namespace, Pipe, Queue, RLock, RawArray, RawValue, Semaphore,
                       ShutDown, SimpleQueue, Value, unlink)
from .managers import Manager, SharedManager  # noqa: F401
from .pool import Pool, WorkerDied  # noqa: F401

__version__ = "0.1.0"

collect_leftovers = _lifetime.collect


class Context:
    """get_context(method): multiprocessing's context for processes, shmring's
    objects. ``ctx.Process`` starts processes with that method; ``ctx.Queue``,
    ``ctx.Pool`` ... are shmring's (Pool workers start with that method)."""

    def __init__(self, method=None):
        self._mp = _mp.get_context(method)

    def __getattr__(self, attr):
        return getattr(self._mp, attr)

    def get_start_method(self, allow_none=False):
        return self._mp.get_start_method(allow_none)

    def Pool(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None, **kwargs):
        return Pool(processes, initializer, initargs, maxtasksperchild, context=self._mp, **kwargs)

    def Manager(self):
        return Manager()

    def __repr__(self):
        return "<shmring.Context start method %r>" % self._mp.get_start_method()


for _name in ("Queue", "SimpleQueue", "JoinableQueue", "Pipe", "Lock", "RLock", "Semaphore", "BoundedSemaphore",
              "Event", "Condition", "Barrier", "Value", "Array", "RawValue", "RawArray"):
    setattr(Context, _name, staticmethod(globals()[_name]))


def get_context(method=None):
    """A Context for the start method `method` (None: the current default)."""
    return Context(method)


__all__ = [
    "Process", "current_process", "active_children", "parent_process", "cpu_count", "freeze_support",
    "get_context", "set_start_method", "get_start_method", "get_all_start_methods", "set_executable",
    "set_forkserver_preload", "get_logger", "log_to_stderr",
    "Queue", "SimpleQueue", "JoinableQueue", "Pipe", "Connection", "Lock", "RLock", "Semaphore",
    "BoundedSemaphore", "Event", "Condition", "Barrier", "Value", "Array", "RawValue", "RawArray", "Pool",
    "Manager", "SharedManager", "Dict", "List", "Namespace", "ShutDown", "WorkerDied", "TimeoutError",
    "BufferTooShort", "AuthenticationError", "ProcessError", "unlink", "collect_leftovers", "Context",
]
