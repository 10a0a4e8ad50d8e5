"""What shmring does beyond multiprocessing (shmring only, unless a test
checks that multiprocessing fails where shmring works): handles passed by
name under every start method, children that outlive their parent,
interruptible blocking calls, crash tolerance, Pool workers killed mid-task,
objects that clean up after themselves, names, repr."""
import gc
import json
import multiprocessing
import os
import pickle
import queue
import random
import re
import select
import signal
import threading
import time

import pytest

import shmring
import helpers_mp as h
from conftest import START_METHODS, T, wait_until

SHM = "/dev/shm"


def auto_files(pid):
    """The auto-named shmring files in /dev/shm made by process `pid`."""
    pat = re.compile(r"^shmring-py-[a-z]+-%d-[0-9a-f]+$" % pid)
    return sorted(n for n in os.listdir(SHM) if pat.match(n))


class LineReader:
    """Reads lines from a subprocess's stdout with a timeout (never hangs)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buf = b""
        self.eof = False

    def readline(self, timeout=T):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from the subprocess within %s s (have %r)" % (timeout, self.buf[-200:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def rest(self, timeout=T):
        """Every complete line until EOF."""
        lines = []
        while True:
            line = self.readline(timeout)
            if line is None:
                return lines
            lines.append(line)


def binary_popen(popen, code, *args):
    return popen(code, *args, text=False, bufsize=0)


# ---- (a) handles pass by name: a plain Queue to a Pool task, under every start method -----------

@pytest.mark.parametrize("method", START_METHODS)
def test_plain_queue_to_pool_task(method):
    """Tutorial 3 with a plain Queue: shmring takes it."""
    ctx = shmring.get_context(method)
    q = ctx.Queue()
    with ctx.Pool(2) as pool:
        assert pool.apply_async(h.write_letters, (q, "hello")).get(timeout=30) == 5
        assert pool.apply_async(h.read_letters, (q, 5)).get(timeout=T) == "hello"
        q.put("!")
        assert pool.apply(h.read_letters, (q, 1)) == "!"
    assert q.empty()


@pytest.mark.parametrize("method", START_METHODS)
def test_plain_queue_to_pool_task_fails_in_multiprocessing(method):
    ctx = multiprocessing.get_context(method)
    q = ctx.Queue()
    with ctx.Pool(1) as pool:
        with pytest.raises(RuntimeError, match="inheritance"):
            pool.apply_async(h.write_letters, (q, "hello")).get(timeout=30)


@pytest.mark.parametrize("method", START_METHODS)
def test_every_object_passed_to_a_process(method, procs):
    """Each kind of object, pickled by name for a child started by `method`, is the same object there."""
    ctx = shmring.get_context(method)
    a, b = ctx.Pipe()
    objs = {
        "queue": ctx.Queue(), "simple": ctx.SimpleQueue(), "joinable": ctx.JoinableQueue(), "conn": b,
        "lock": ctx.Lock(), "rlock": ctx.RLock(), "semaphore": ctx.Semaphore(1), "bounded": ctx.BoundedSemaphore(1),
        "event": ctx.Event(), "condition": ctx.Condition(), "value": ctx.Value("d", 0.0),
        "array": ctx.Array("i", 3), "raw_value": ctx.RawValue("i", 0), "raw_array": ctx.RawArray("i", 3),
        "dict": shmring.Dict(), "list": shmring.List(), "ns": shmring.Namespace(),
    }
    out = ctx.Queue()
    p = procs.start(h.use_everything, objs, out, ctx=ctx)
    assert out.get(timeout=30) == "used"
    procs.join_ok(p)
    assert objs["queue"].get(timeout=T) == "q"
    assert wait_until(lambda: not objs["simple"].empty()) and objs["simple"].get() == "s"
    assert objs["joinable"].get(timeout=T) == "j"
    assert a.poll(T) and a.recv() == "p"
    assert objs["event"].is_set()
    assert objs["value"].value == 1.5 and objs["array"][:] == [3, 0, 0]
    assert objs["raw_value"].value == 2 and objs["raw_array"][:] == [0, 4, 0]
    assert objs["dict"]["k"] == "v" and objs["list"][:] == [1] and objs["ns"].a == 1
    assert objs["lock"].acquire(timeout=T) and objs["semaphore"].get_value() == 1


def test_handles_pickle_by_name():
    q = shmring.Queue()
    q2 = pickle.loads(pickle.dumps(q))
    assert q2.name == q.name
    q2.put("via the copy")
    assert q.get(timeout=T) == "via the copy"
    with pytest.raises(RuntimeError, match="inheritance"):
        pickle.dumps(multiprocessing.Queue())  # multiprocessing refuses


# ---- (b) the parent exits without joining its children --------------------------------------

PARENT_EXITS = r"""
import os, sys, time
import shmring, helpers_mp

def main(method, path):
    ctx = shmring.get_context(method)
    q = ctx.Queue()
    s = ctx.Process(target=helpers_mp.slow_sender, args=(q, ["A", "B", "C"]))
    r = ctx.Process(target=helpers_mp.receiver_to_file, args=(q, path))
    s.start()
    r.start()
    print(os.getpid(), s.pid, r.pid, flush=True)
    # the queue is dropped here, before the children are done

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    if sys.argv[3] == "os._exit":
        print(repr(time.monotonic()), flush=True)
        os._exit(0)  # no exit handlers at all: nothing joins the children
"""


@pytest.mark.parametrize("exit_how", ["return", "os._exit"])
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_tutorial_10_parent_exits_without_joining(method, exit_how, popen, tmp_path):
    path = str(tmp_path / "received.json")
    with open(tmp_path / "out", "w+") as out, open(tmp_path / "err", "w+") as err:
        p = popen(PARENT_EXITS, method, path, exit_how, stdout=out, stderr=err)  # files: the children hold them
        p.wait(30)
        out.seek(0)
        words = out.read().split()
        parent, sender, receiver = map(int, words[:3])
        popen.extra_pids += [sender, receiver]  # killed at teardown if something went wrong
        assert p.returncode == 0
        assert wait_until(lambda: os.path.exists(path), timeout=20), "the receiver wrote nothing"
        with open(path) as f:
            result = json.load(f)
        assert result["pid"] == receiver and result["items"] == ["A", "B", "C"]
        if exit_how == "os._exit":
            assert result["done_at"] > float(words[3])  # the parent was gone before the exchange ended
        err.seek(0)
        assert "Error" not in err.read()  # the tutorial's FileNotFoundError, or any other
    # and the queue went away with its last user
    assert wait_until(lambda: not auto_files(parent), timeout=T), auto_files(parent)


# ---- (c) blocking calls release the GIL and stay interruptible -------------------------------

def _blocking_call(kind, procs):
    """A call that blocks ~0.3 s in shmring, and what it should return."""
    if kind == "queue.get":
        q = shmring.Queue()
        return lambda: pytest.raises(queue.Empty, q.get, timeout=0.3)
    if kind == "lock.acquire":
        lock = shmring.Lock()
        lock.acquire()
        return lambda: lock.acquire(timeout=0.3) is False
    if kind == "event.wait":
        e = shmring.Event()
        return lambda: e.wait(0.3) is False
    if kind == "connection.recv":
        a, b = shmring.Pipe()
        procs.start(h.send_after, b, "late", 0.3)  # another process: our GIL cannot stop it
        return lambda: a.recv() == "late"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["queue.get", "lock.acquire", "event.wait", "connection.recv"])
def test_blocking_call_releases_gil(kind, procs):
    call = _blocking_call(kind, procs)
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin, daemon=True)
    t.start()
    time.sleep(0.05)
    before = count[0]
    t0 = time.monotonic()
    assert call()
    blocked = time.monotonic() - t0
    progress = count[0] - before
    stop.set()
    t.join(T)
    assert blocked >= 0.2
    assert progress > 1000, "the other thread made %d steps in %.2f s" % (progress, blocked)


INTERRUPTED = r"""
import sys, time
import shmring

kind = sys.argv[1]
if kind == "queue.get":
    q = shmring.Queue()
    call = q.get
elif kind == "lock.acquire":
    lock = shmring.Lock()
    lock.acquire()
    call = lock.acquire
elif kind == "event.wait":
    e = shmring.Event()
    call = e.wait
elif kind == "connection.recv":
    a, b = shmring.Pipe()
    call = a.recv
print("blocking", repr(time.monotonic()), flush=True)
try:
    call()
    print("returned", repr(time.monotonic()), flush=True)
except KeyboardInterrupt:
    print("interrupted", repr(time.monotonic()), flush=True)
"""


@pytest.mark.parametrize("kind", ["queue.get", "lock.acquire", "event.wait", "connection.recv"])
def test_sigint_interrupts_blocking_call_within_100ms(kind, popen):
    p = binary_popen(popen, INTERRUPTED, kind)
    lines = LineReader(p.stdout)
    assert lines.readline(T).startswith("blocking")
    time.sleep(0.3)  # well inside the blocking call by now
    assert p.poll() is None
    sent = time.monotonic()
    os.kill(p.pid, signal.SIGINT)
    line = lines.readline(5)
    assert line is not None, "the program ended without a word: %s" % p.stderr.read().decode()[-2000:]
    tag, when = line.split()
    latency = float(when) - sent
    assert tag == "interrupted", line
    assert latency < 0.1, "KeyboardInterrupt %.3f s after SIGINT" % latency
    assert p.wait(T) == 0


DAEMON_AT_EXIT = r"""
import sys, threading, time
mod = __import__(sys.argv[1])
kind = sys.argv[2]
if kind == "queue.get":
    q = mod.Queue()
    target = q.get
elif kind == "event.wait":
    e = mod.Event()
    target = e.wait
elif kind == "lock.acquire":
    lock = mod.Lock()
    lock.acquire()
    target = lock.acquire
threading.Thread(target=target, daemon=True).start()
time.sleep(0.1)
print("exiting", flush=True)
"""


@pytest.mark.parametrize("kind", ["queue.get", "event.wait", "lock.acquire"])
def test_exit_with_a_daemon_thread_blocked(mp, kind, popen):
    """A program that ends while a daemon thread is blocked in a call exits
    normally, as with multiprocessing (three runs: the outcome is a race)."""
    for _ in range(3):
        out, err = popen.run(DAEMON_AT_EXIT, mp.__name__, kind, timeout=30, check=False)
        assert popen.last.returncode == 0, "exit code %s\n%s" % (popen.last.returncode, err)
        assert out.strip() == "exiting"


POOL_LEFT_OPEN = r"""
import os, sys, time
from multiprocessing import util
mod = __import__(sys.argv[1])
pool = mod.Pool(2)
assert pool.map(abs, [-1, -2]) == [1, 2]
print(os.getpid(), flush=True)
# exit-time work of the program's own (say, flushing a log), after
# multiprocessing has ended the daemonic children
util.Finalize(None, time.sleep, args=(0.2,), exitpriority=-5)
"""


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_exit_with_a_pool_left_open(mp, popen, tmp_path):
    """Programs that end without closing their Pool exit normally and leave
    no worker process (nor, for shmring, a file) behind. Three at once."""
    runs = []
    for i in range(3):
        out = open(tmp_path / ("out%d" % i), "w+")
        err = open(tmp_path / ("err%d" % i), "w+")
        runs.append((popen(POOL_LEFT_OPEN, mp.__name__, stdout=out, stderr=err), out, err))  # files: no pipe
    for p, out, err in runs:
        try:
            p.wait(30)
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
            pytest.fail("the program did not end")
    parents = []
    problems = []
    for p, out, err in runs:
        with out, err:
            out.seek(0)
            err.seek(0)
            output, errors = out.read(), err.read()
        if p.returncode != 0:
            problems.append("exit code %s: %s" % (p.returncode, errors.strip()[-300:]))
        else:
            parents.append(int(output.split()[0]))
    wait_until(lambda: not any(_group_alive(p.pid) for p, _, _ in runs), timeout=3)
    for p, _, _ in runs:
        if _group_alive(p.pid):
            problems.append("processes left running: %s" % os.popen("pgrep -a -g %d" % p.pid).read().strip())
    if mp is shmring:
        wait_until(lambda: not any(auto_files(pid) for pid in parents), timeout=3)
        problems += ["files left: %s" % auto_files(pid) for pid in parents if auto_files(pid)]
    assert problems == []


# ---- (d) crash tolerance: SIGKILL of a producer, of a consumer ---------------------------

def check_item(i, item):
    assert item == h.payload(i), "item %d torn or out of order: %r" % (i, item)


PRODUCER = r"""
import sys
import shmring
from helpers_mp import payload
q = shmring.Queue.open(sys.argv[1])
i = 0
while True:
    q.put(payload(i))
    i += 1
    sys.stdout.write("%d\n" % i)  # i items committed
    sys.stdout.flush()
"""

CONSUMER = r"""
import sys, time
import shmring
from helpers_mp import index_of, payload
q = shmring.Queue.open(sys.argv[1])
n = 0
while True:
    item = q.get(timeout=10)
    i = index_of(item)
    assert item == payload(i), "torn item %d" % i
    sys.stdout.write("%d\n" % i)  # got item i
    sys.stdout.flush()
    n += 1
    if n % 10 == 0:
        time.sleep(0.0005)
"""


@pytest.mark.parametrize("round_", range(3))
def test_producer_killed_loses_nothing_committed(round_, names, popen):
    name = names("queue")
    q = shmring.Queue(name=name, capacity_bytes=32 << 20)
    p = binary_popen(popen, PRODUCER, name)
    lines = LineReader(p.stdout)
    target = 3000 + random.randrange(3000)
    printed = 0
    while printed < target:
        printed = int(lines.readline(T))
    time.sleep(random.uniform(0, 0.01))
    os.kill(p.pid, signal.SIGKILL)  # mid-stream
    p.wait(T)
    for line in lines.rest():
        printed = int(line)
    got = [q.get(timeout=T) for _ in range(printed)]  # every committed item is there
    try:
        got.append(q.get(timeout=0.5))  # perhaps one more: put, not yet printed
    except queue.Empty:
        pass
    for i, item in enumerate(got):
        check_item(i, item)
    # every item whose put had returned is there; at most one more (put, not yet printed)
    assert printed <= len(got) <= printed + 1, (printed, len(got))
    q.put("after")  # nothing is wedged
    assert q.get(timeout=T) == "after"


@pytest.mark.parametrize("round_", range(3))
def test_consumer_killed_leaves_the_rest_for_another(round_, names, popen, record_property):
    name = names("queue")
    q = shmring.Queue(name=name, capacity_bytes=32 << 20)
    n = 20000
    for i in range(n):
        q.put(h.payload(i))
    p = binary_popen(popen, CONSUMER, name)
    lines = LineReader(p.stdout)
    target = 1000 + random.randrange(2000)
    taken = []
    while len(taken) < target:
        taken.append(int(lines.readline(T)))
    time.sleep(random.uniform(0, 0.01))
    os.kill(p.pid, signal.SIGKILL)  # mid-stream
    p.wait(T)
    taken += [int(line) for line in lines.rest()]
    first = len(taken)
    assert taken == list(range(first))
    assert first < n - 1, "the first consumer took everything before the kill"
    got = []  # the second consumer: this process
    while not got or h.index_of(got[-1]) < n - 1:
        got.append(q.get(timeout=T))
    with pytest.raises(queue.Empty):
        q.get_nowait()
    start = h.index_of(got[0])
    for k, item in enumerate(got):
        check_item(start + k, item)
    lost = start - first  # taken by the killed consumer, never printed: the one in its hands
    record_property("items_lost", lost)
    print("consumer killed after %d items; lost %d" % (first, lost))
    assert 0 <= lost <= 1, "lost %d items (at most the one being read may be)" % lost


# ---- (e) a Pool worker killed mid-task -----------------------------------------------------

def test_pool_worker_killed_mid_task():
    pids = shmring.Queue()
    pool = shmring.Pool(2)
    try:
        r = pool.apply_async(h.report_pid_and_sleep, (pids, 30))
        victim = pids.get(timeout=T)
        assert victim in [p.pid for p in multiprocessing.active_children()]  # a worker of this pool
        other = pool.apply_async(h.sleep_and_return, ("survivor", 0.3))
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(shmring.WorkerDied):
            r.get(timeout=5)
        assert time.monotonic() - t0 < 5
        assert r.ready() and not r.successful()
        assert other.get(timeout=T) == "survivor"
        # the pool goes on, with a replacement worker
        assert pool.map(h.square, range(20)) == [x * x for x in range(20)]
        assert victim not in pool.map(h.getpid, range(10), chunksize=1)
        assert pool.apply(h.square, (7,)) == 49
    finally:
        pool.terminate()


def test_pool_worker_killed_during_map():
    tags = shmring.Queue()
    with shmring.Pool(2) as pool:
        r = pool.starmap_async(h.report_tag_and_sleep, [(tags, "long", 30), (tags, "short", 0.2)], chunksize=1)
        reported = dict(tags.get(timeout=T) for _ in range(2))
        os.kill(reported["long"], signal.SIGKILL)
        with pytest.raises(shmring.WorkerDied):
            r.get(timeout=10)
        assert pool.map(h.square, [1, 2]) == [1, 4]


# ---- (f) lifetime: unnamed objects vanish with their users; named ones stay ------------------

EVERYTHING = r"""
import os, sys, gc, multiprocessing
import shmring, helpers_mp

def main():
    a, b = shmring.Pipe()
    objs = {
        "queue": shmring.Queue(), "simple": shmring.SimpleQueue(), "joinable": shmring.JoinableQueue(),
        "conn": b, "lock": shmring.Lock(), "rlock": shmring.RLock(), "semaphore": shmring.Semaphore(),
        "bounded": shmring.BoundedSemaphore(), "event": shmring.Event(), "condition": shmring.Condition(),
        "value": shmring.Value("d", 0.0), "array": shmring.Array("i", 3), "raw_value": shmring.RawValue("i"),
        "raw_array": shmring.RawArray("i", 3), "dict": shmring.Dict(), "list": shmring.List(),
        "ns": shmring.Namespace(),
    }
    extra = [shmring.Barrier(2), shmring.Manager().dict(), shmring.Manager().list(), shmring.Manager().Queue()]
    out = shmring.Queue()
    made = [n for n in os.listdir("/dev/shm") if n.startswith("shmring-py-") and "-%d-" % os.getpid() in n]
    print(len(made), flush=True)
    children = []
    for method in ("fork", "spawn", "forkserver"):
        p = multiprocessing.get_context(method).Process(target=helpers_mp.use_everything, args=(objs, out))
        p.start()
        children.append(p)
    for _ in children:
        assert out.get(timeout=30) == "used"
    for _ in children:
        assert a.poll(30) and a.recv() == "p"
    with shmring.Pool(2) as pool:
        assert pool.apply(helpers_mp.put_one, (objs["queue"], "x")) is None
    # a forked child that outlives our handles
    p = multiprocessing.get_context("fork").Process(target=helpers_mp.put_items, args=(objs["queue"], [1]))
    p.start()
    children.append(p)
    for p in children:
        p.join(30)
        assert p.exitcode == 0, p.exitcode
    print(" ".join(str(p.pid) for p in children), flush=True)

main()
"""


def test_unnamed_objects_leave_nothing_in_dev_shm(popen):
    out, err = popen.run(EVERYTHING, timeout=60)
    made_line, pids_line = out.split("\n")[:2]
    assert int(made_line) >= 20, "the program made fewer objects than expected"
    popen_pid = popen.last.pid
    leftovers = auto_files(popen_pid)
    for pid in map(int, pids_line.split()):
        leftovers += auto_files(pid)
    assert leftovers == []


def test_unnamed_object_removed_when_last_handle_dropped(procs):
    makers = [
        shmring.Queue, shmring.SimpleQueue, shmring.JoinableQueue, shmring.Lock, shmring.RLock, shmring.Semaphore,
        shmring.BoundedSemaphore, shmring.Event, shmring.Condition, lambda: shmring.Barrier(2),
        lambda: shmring.Value("i"), lambda: shmring.Array("d", 4), shmring.Dict, shmring.List,
    ]
    me = os.getpid()
    for make in makers:
        before = set(auto_files(me))
        obj = make()
        new = set(auto_files(me)) - before
        assert len(new) == 1, new
        del obj
        gc.collect()
        assert not (new & set(auto_files(me))), new
    a, b = shmring.Pipe()
    path = os.path.join(SHM, a.name)
    assert os.path.exists(path)
    del a
    gc.collect()
    assert os.path.exists(path)  # b still holds it
    del b
    gc.collect()
    assert not os.path.exists(path)


def test_unnamed_object_outlives_parent_handle_while_child_uses_it(procs):
    q, go = shmring.Queue(), shmring.Event()
    path = os.path.join(SHM, q.name)
    p = procs.start(h.wait_event, go, q)  # the child holds q (inherited) and puts into it when woken
    del q
    gc.collect()
    assert os.path.exists(path)  # the child still uses it
    go.set()
    procs.join_ok(p)
    assert wait_until(lambda: not os.path.exists(path))


OPEN_AND_USE = r"""
import sys
import shmring
q = shmring.Queue.open(sys.argv[1])
print(q.get(timeout=10), flush=True)
q.put("from an unrelated process")
lock = shmring.Lock.open(sys.argv[2])
print(lock.acquire(timeout=0.1), flush=True)  # the test holds it
ev = shmring.Event.open(sys.argv[3])
ev.set()
"""


def test_named_objects_persist_and_open_from_unrelated_process(names, popen):
    qname, lname, ename = names("queue"), names("lock"), names("event")
    q = shmring.Queue(name=qname)
    q.put("hello")
    del q
    gc.collect()
    assert os.path.exists(os.path.join(SHM, qname))  # a named object stays without users
    lock, ev = shmring.Lock(name=lname), shmring.Event(name=ename)
    assert lock.acquire()
    out, _ = popen.run(OPEN_AND_USE, qname, lname, ename, timeout=30)
    assert out.split("\n")[:2] == ["hello", "False"]
    assert ev.is_set()
    q = shmring.Queue.open(qname)
    assert q.get(timeout=T) == "from an unrelated process"
    with pytest.raises(FileExistsError):
        shmring.Queue(name=qname)
    with pytest.raises(OSError):
        shmring.Lock.unlink(qname)  # unlink removes only a file of its own kind
    assert os.path.exists(os.path.join(SHM, qname))
    shmring.Queue.unlink(qname)
    assert not os.path.exists(os.path.join(SHM, qname))
    q.put("still usable by who has it open")
    assert q.get(timeout=T) == "still usable by who has it open"
    with pytest.raises(FileNotFoundError):
        shmring.Queue.open(qname)


def test_lock_holder_death_frees_the_lock(procs):
    lock = shmring.Lock()
    p = procs.start(h.acquire_and_die, lock)
    p.join(T)
    assert p.exitcode == -signal.SIGKILL
    t0 = time.monotonic()
    assert lock.acquire(timeout=5)
    assert time.monotonic() - t0 < 5
    assert lock.takeovers >= 1
    lock.release()


def test_shutdown_wakes_blocked_getter(procs):
    q, out = shmring.Queue(), shmring.Queue()
    p = procs.start(h.get_n_put, q, out, 1)  # blocks in get (timeout 10 s)
    time.sleep(0.1)
    q.shutdown()
    p.join(T)
    assert p.exitcode == 1  # the child's get raised ShutDown at once
    with pytest.raises(shmring.ShutDown):
        q.put(1)
    with pytest.raises(shmring.ShutDown):
        q.get(timeout=T)


def test_bytes_fast_path_and_raw_bytes():
    q = shmring.Queue()
    q.put_bytes(b"\x80\x04raw")  # never pickled
    q.put(b"\x80\x04also")  # pickled, since it looks like a pickle
    assert q.get_bytes(timeout=T) == b"\x80\x04raw"
    assert q.get(timeout=T) == b"\x80\x04also"
    q.put_bytes(bytearray(b"plain"))
    assert q.get(timeout=T) == b"plain"


def test_too_large_fails_at_once():
    q = shmring.Queue(capacity_bytes=64 << 10)
    t0 = time.monotonic()
    with pytest.raises(ValueError):
        q.put(b"x" * (1 << 20))
    assert time.monotonic() - t0 < 0.5


# ---- (g) repr names the object ------------------------------------------------------------

def test_repr_names_the_object(names):
    def named(kind):
        n = names(kind)
        chosen.append(n)
        return n

    chosen = []
    made = {
        "Queue": shmring.Queue(name=named("queue")),
        "SimpleQueue": shmring.SimpleQueue(name=named("queue")),
        "JoinableQueue": shmring.JoinableQueue(name=named("joinable")),
        "Connection": shmring.Pipe(name=named("pipe"))[0],
        "Lock": shmring.Lock(name=named("lock")),
        "RLock": shmring.RLock(name=named("rlock")),
        "Semaphore": shmring.Semaphore(name=named("semaphore")),
        "BoundedSemaphore": shmring.BoundedSemaphore(name=named("bounded")),
        "Event": shmring.Event(name=named("event")),
        "Condition": shmring.Condition(name=named("condition")),
        "Barrier": shmring.Barrier(2, name=named("barrier")),
        "Value": shmring.Value("i", 3, name=named("value")),
        "Array": shmring.Array("i", 3, name=named("array")),
        "Dict": shmring.Dict(name=named("dict")),
        "List": shmring.List(name=named("list")),
    }
    for (kind, obj), name in zip(made.items(), chosen):
        r = repr(obj)
        assert name in r, r
        assert re.search(r"\b%s\b" % kind, r), r
    auto = shmring.Queue()
    assert auto.name.startswith("shmring-py-queue-%d-" % os.getpid())
    assert auto.name in repr(auto)
    with shmring.Pool(1) as pool:
        assert "Pool" in repr(pool)
