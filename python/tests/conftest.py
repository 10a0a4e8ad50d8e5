"""Shared fixtures of the shmring Python tests.

Run with the package as built:

    cd /tmp && PYTHONPATH=<build>/python python3 -m pytest <source>/python/tests -q

* ``mp``: parametrized over ``multiprocessing`` and ``shmring`` so that the
  same assertions run against both (shmring is a drop-in).
* ``names``: unique names for named objects, unlinked when the test ends,
  pass or fail.
* ``procs`` / ``popen``: processes a test starts, killed (only those) if
  still running when it ends.
* ``helpers_mp``: the functions children run; importable by spawned children
  because this directory is added to sys.path and to PYTHONPATH.
"""
import faulthandler
import os
import queue
import signal
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
_pp = os.environ.get("PYTHONPATH", "")
if HERE not in _pp.split(os.pathsep):
    os.environ["PYTHONPATH"] = HERE + (os.pathsep + _pp if _pp else "")

import multiprocessing  # noqa: E402

import shmring  # noqa: E402

START_METHODS = ["fork", "spawn", "forkserver"]
T = 10.0  # the timeout of blocking calls in the tests: a bug fails the test, never hangs it
WATCHDOG = 90.0  # no test takes nearly this long


class WatchdogTimeout(Exception):
    """A test ran past WATCHDOG seconds: some call blocked that should not have."""


@pytest.fixture(autouse=True)
def _watchdog():
    """The safety net under the timeouts of each call: SIGALRM raises in the
    test after WATCHDOG seconds (shmring's and multiprocessing's waits check
    for signals); if even that does not end it, faulthandler dumps every
    thread's stack and exits, so the run fails instead of hanging."""
    def on_alarm(signum, frame):
        raise WatchdogTimeout("the test ran for more than %.0f s" % WATCHDOG)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, WATCHDOG)
    faulthandler.dump_traceback_later(WATCHDOG + 30, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(params=["multiprocessing", "shmring"])
def mp(request):
    """The module under test: multiprocessing itself, or shmring in its place."""
    return multiprocessing if request.param == "multiprocessing" else shmring


class Names:
    """Unique names for named shmring objects; each is unlinked at teardown."""

    def __init__(self):
        self._made = []

    def __call__(self, kind="queue"):
        name = "pytest-%d-%s" % (os.getpid(), uuid.uuid4().hex[:12])
        self._made.append((kind, name))
        return name

    def cleanup(self):
        for kind, name in self._made:
            try:
                shmring.unlink(kind, name)
            except (FileNotFoundError, ValueError, OSError):
                pass
            path = os.path.join("/dev/shm", name)
            if os.path.lexists(path):  # made as another kind than declared
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass


@pytest.fixture
def names():
    n = Names()
    yield n
    n.cleanup()


class Procs:
    """multiprocessing.Process objects a test starts; killed at teardown if alive."""

    def __init__(self):
        self._started = []

    def start(self, target, *args, ctx=None, daemon=True, **kwargs):
        ctx = ctx or multiprocessing
        p = ctx.Process(target=target, args=args, kwargs=kwargs, daemon=daemon)
        p.start()
        self._started.append(p)
        return p

    def join_ok(self, *ps, timeout=T):
        """Join each process (with a deadline) and check that it exited with 0."""
        deadline = time.monotonic() + timeout
        for p in ps:
            p.join(max(0.0, deadline - time.monotonic()))
            assert p.exitcode is not None, "process %s did not finish within %.0f s" % (p.name, timeout)
            assert p.exitcode == 0, "process %s exited with %s" % (p.name, p.exitcode)

    def cleanup(self):
        for p in self._started:
            if p.pid is not None and p.exitcode is None:
                p.kill()
            p.join(5)


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.cleanup()


class Popens:
    """Python programs run as separate subprocesses (sys.executable)."""

    def __init__(self):
        self._started = []
        self.last = None  # the last one started
        self.extra_pids = []  # pids of processes those programs reported starting

    def __call__(self, code, *args, **kwargs):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        kwargs.setdefault("cwd", "/tmp")
        kwargs.setdefault("start_new_session", True)  # its own process group: teardown kills what it started
        p = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], **kwargs)
        self._started.append(p)
        self.last = p
        return p

    def run(self, code, *args, timeout=30, check=True):
        """Run a program to its end; returns (stdout, stderr)."""
        p = self(code, *args)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(p)
            try:
                out, err = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                out = err = "(output not available)"
            pytest.fail("subprocess did not finish within %s s\nstdout:\n%s\nstderr:\n%s" % (timeout, out, err))
        if check:
            assert p.returncode == 0, "subprocess exited with %s\nstdout:\n%s\nstderr:\n%s" % (p.returncode, out, err)
        return out, err

    @staticmethod
    def _kill(p):
        """Kill p and what it started (its process group, made for it)."""
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.kill()

    def cleanup(self):
        for p in self._started:
            self._kill(p)
            try:
                p.communicate(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # What those programs left in /dev/shm (a test that checks for
        # leftovers has done so by now): auto-named files carry their pid.
        pids = {p.pid for p in self._started} | set(self.extra_pids)
        for n in os.listdir("/dev/shm"):
            parts = n.split("-")
            if n.startswith("shmring-py-") and len(parts) == 5 and parts[3].isdigit() and int(parts[3]) in pids:
                try:
                    os.unlink(os.path.join("/dev/shm", n))
                except FileNotFoundError:
                    pass


@pytest.fixture
def popen():
    p = Popens()
    yield p
    p.cleanup()


def wait_until(predicate, timeout=T, interval=0.005):
    """Polls predicate until true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def get_while_alive(q, p, timeout=T):
    """q.get(), failing at once if process p (the putter) has failed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if p.exitcode not in (None, 0):
                pytest.fail("the putting process exited with %s" % p.exitcode)
            if time.monotonic() > deadline:
                raise


def poll_while_alive(conn, p, timeout=T):
    """conn.poll(timeout), giving up at once if process p (the sender) has failed."""
    deadline = time.monotonic() + timeout
    while not conn.poll(0.1):
        if p.exitcode not in (None, 0):
            pytest.fail("the sending process exited with %s" % p.exitcode)
        if time.monotonic() > deadline:
            return False
    return True


def settle(mod):
    """multiprocessing.Queue puts go through a feeder thread: give it time to
    move them into the pipe before a non-blocking get (shmring needs none)."""
    if mod is multiprocessing:
        time.sleep(0.2)
