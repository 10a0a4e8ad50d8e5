"""Names and lifetimes of the objects the Python package makes.

An object made with ``name=`` is the user's, as in C++: it stays until
``unlink``. An object made without a name gets a unique name under the prefix
``shmring-py-`` and is removed once no process uses it any more:

* Every process that holds a handle to it holds a *shared* ``flock`` on its
  file, through a descriptor of its own (a forked child shares its parent's
  descriptor; a child started by spawn or forkserver is handed one when the
  handle is pickled for it, before ``Process.start()`` returns). The kernel
  drops a process's locks when it exits, however it exits.
* When a handle is dropped, and when a process exits normally (also a
  ``multiprocessing`` child, which leaves through ``os._exit``), the process
  closes its descriptor and tries to take an *exclusive* lock on a new one
  without waiting. Only the last user succeeds; it removes the name, checking
  under the lock that the name still leads to the file it examined (the same
  protocol as the C++ segment code, platform/linux/segment.cpp, so the two
  never remove each other's files).
* A Pool worker that is killed (``terminate()``, or a worker that dies) runs
  no exit code: once it has exited, the pool removes what the worker made
  that nobody holds (``collect_exited``), and looks again at what the pool's
  process released while the worker held it.
* If every user was killed (``kill -9``), nobody removed it: the next object
  made without a name in that directory removes such leftovers (at most once
  every 30 s per process), as does ``shmring gc``. Files younger than 10 s
  are left alone: their creator may not have locked them yet.
"""
import atexit
import fcntl
import os
import secrets
import threading
import time
from multiprocessing import context as _mp_context
from multiprocessing import reduction as _reduction
from multiprocessing import util as _util

SHM_DIR = "/dev/shm"
AUTO_PREFIX = "shmring-py-"
_STALE_AGE = 10.0
_SCAN_EVERY = 30.0

_lock = threading.Lock()
_holds = {}  # id(hold) -> hold, every hold this process has not released
_look_again = set()  # paths released while other processes held them
_last_scan = [0.0]


def path_of(name):
    """The file behind a segment name (an absolute path is used as it is)."""
    return name if name.startswith("/") else os.path.join(SHM_DIR, name)


def auto_name(kind):
    """A fresh unique name for an object made without one."""
    _maybe_collect()
    return "%s%s-%d-%s" % (AUTO_PREFIX, kind, os.getpid(), secrets.token_hex(6))


def is_auto(name):
    return os.path.basename(name).startswith(AUTO_PREFIX)


class Hold:
    """This process's share in an auto-named object: a shared flock on its file."""

    __slots__ = ("path", "fd", "__weakref__")

    def __init__(self, path, fd=None):
        self.path = path
        if fd is None:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd = fd
        fcntl.flock(fd, fcntl.LOCK_SH)
        with _lock:
            _holds[id(self)] = self

    def release(self):
        """Drop this share; remove the file if no process holds one any more.
        If some do, look again at exit: a user killed by a signal (a Pool
        worker's terminate()) removes nothing."""
        with _lock:
            if _holds.pop(id(self), None) is None:
                return
            fd, self.fd = self.fd, -1
        os.close(fd)
        if not remove_if_unused(self.path):
            with _lock:
                _look_again.add(self.path)

    def for_pickle(self):
        """What a pickle for a child being spawned carries: a descriptor of the
        same open file (so the child holds the lock from its start); None when
        not pickling for a child's start."""
        if self.fd >= 0 and _mp_context.get_spawning_popen() is not None:
            return _reduction.DupFd(self.fd)
        return None


def hold(name, inherited=None):
    """A Hold for an auto-named object (None for a named one, or if the file
    is already gone: the mapping still works, there is nothing to remove)."""
    if not is_auto(name):
        return None
    fd = inherited.detach() if inherited is not None else None
    try:
        return Hold(path_of(name), fd)
    except FileNotFoundError:
        return None


def remove_if_unused(path):
    """Removes `path` if no process holds a lock on it. True if removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        mine = os.fstat(fd)
        try:
            named = os.lstat(path)
        except FileNotFoundError:
            return False
        if (mine.st_dev, mine.st_ino) != (named.st_dev, named.st_ino):
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)  # drops the lock


def collect(directory=SHM_DIR, min_age=_STALE_AGE):
    """Removes auto-named files in `directory` that no process holds and that
    are older than `min_age` seconds. Returns the names removed."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for e in entries:
        if not e.name.startswith(AUTO_PREFIX):
            continue
        try:
            if now - e.stat(follow_symlinks=False).st_ctime < min_age:
                continue
        except FileNotFoundError:
            continue
        if remove_if_unused(e.path):
            removed.append(e.name)
    return removed


def _maybe_collect():
    now = time.monotonic()
    if now - _last_scan[0] < _SCAN_EVERY:
        return
    _last_scan[0] = now
    collect()


def release_all():
    """Releases every hold of this process and removes what nobody holds
    any more (at exit; safe to call more than once)."""
    with _lock:
        holds = list(_holds.values())
    for h in holds:
        h.release()
    look_again()


def look_again():
    """Removes the files this process released while other processes held
    them, if nobody holds them now."""
    with _lock:
        paths = list(_look_again)
    for p in paths:
        if remove_if_unused(p) or not os.path.exists(p):
            with _lock:
                _look_again.discard(p)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def collect_exited(pid, directory=SHM_DIR):
    """After process `pid` ended without its exit cleanup (killed by a
    signal: a Pool worker's terminate(), or a worker that died): removes
    what that cleanup would have removed. That is the auto-named files
    `pid` made that no process holds, and the files this process released
    while others (`pid`) held them. Call it once `pid` was waited for. The
    first part is skipped if a process `pid` runs again (the number was
    reused): its files may be new and not locked yet. Returns the names
    removed (not counting the second part)."""
    removed = []
    look_again()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    if _running(pid):
        return removed
    mine = str(pid)
    for e in entries:
        if not e.name.startswith(AUTO_PREFIX):
            continue
        parts = e.name[len(AUTO_PREFIX):].rsplit("-", 2)  # kind, pid, random
        if len(parts) == 3 and parts[1] == mine and remove_if_unused(e.path):
            removed.append(e.name)
    return removed


# At exit: once from atexit (which runs before multiprocessing's own exit
# function), and again as a multiprocessing finalizer, which runs after it
# has terminated and joined this process's daemonic and other children.
atexit.register(release_all)
_util.Finalize(None, release_all, exitpriority=-10)


def _after_fork_in_mp_child(_):
    # A multiprocessing child leaves through os._exit (no atexit) after running
    # its Finalize callbacks; those registered before the fork were cleared.
    _util.Finalize(None, release_all, exitpriority=-10)


class _Token:
    pass


_token = _Token()  # register_after_fork keeps a weak reference to its object
_util.register_after_fork(_token, _after_fork_in_mp_child)


def _after_fork_in_child():
    # The child shares its parent's descriptors (and so their locks); its own
    # releases close its copies. The scan clock restarts. The lock is new: a
    # fork from one thread while another held it (a Pool's results thread
    # starting a worker while the main thread released a hold) left the
    # child's copy locked for good.
    global _lock
    _lock = threading.Lock()
    _last_scan[0] = 0.0


os.register_at_fork(after_in_child=_after_fork_in_child)
