"""Functions run in child processes and Pool workers by the tests.

They live in an importable module (conftest.py puts this directory on
sys.path and on PYTHONPATH) so that children started by spawn and
forkserver, which import their target by name, find them too.

Every blocking call here has a timeout: a bug makes the child fail (and the
test that waits for it), never hang.
"""
import json
import os
import random
import threading
import time

T = 10.0  # the timeout of every blocking call in a child


# ---- Pool tasks --------------------------------------------------------------------------

def square(x):
    return x * x


def add(a, b):
    return a + b


def power(a, b):
    return a ** b


def kw_task(a, b=0, *, c=0):
    return a + 10 * b + 100 * c


def fail(msg):
    raise ValueError(msg)


def fail_on(x, bad):
    if x == bad:
        raise ValueError("bad item %r" % (x,))
    return x * x


def getpid(_=None):
    return os.getpid()


def slow_square(x):
    time.sleep(0.5)
    return x * x


def sleep_for(seconds):
    time.sleep(seconds)
    return seconds


def sleep_and_return(x, seconds):
    time.sleep(seconds)
    return x


_initialized = None


def initializer(value):
    global _initialized
    _initialized = (value, os.getpid())


def initialized(_=None):
    return _initialized


def write_letters(q, text):
    """The tutorial's first Pool task: write a string letter by letter into a queue."""
    for ch in text:
        q.put(ch)
    return len(text)


def read_letters(q, n):
    """The tutorial's later Pool task: read the letters back."""
    return "".join(q.get(timeout=T) for _ in range(n))


def report_pid_and_sleep(pid_queue, seconds):
    pid_queue.put(os.getpid())
    time.sleep(seconds)
    return "finished"


# ---- queues ------------------------------------------------------------------------------

def put_items(q, items):
    for it in items:
        q.put(it)


def put_one(q, item):
    q.put(item)


def get_n_put(q_in, q_out, n):
    """Get n items from q_in (with a timeout each) and put them, as a list, into q_out."""
    got = []
    for _ in range(n):
        got.append(q_in.get(timeout=T))
    q_out.put(got)


def writer_random_pauses(q, items):
    """Tutorial 2: the writer puts its items with random pauses."""
    for it in items:
        time.sleep(random.uniform(0.0, 0.05))
        q.put(it)


def joinable_worker(q, out, n):
    """Takes n items from a JoinableQueue, puts item*2 into out, marks each done."""
    for _ in range(n):
        item = q.get(timeout=T)
        time.sleep(0.01)
        out.put(item * 2)
        q.task_done()


def joinable_joiner(q, out):
    """Joins a JoinableQueue in this process, then reports the time it returned."""
    q.join()
    out.put(("joined", time.monotonic()))


def slow_sender(q, items):
    """Tutorial 10's sender: its items with pauses, then None."""
    for it in items:
        time.sleep(random.uniform(0.02, 0.1))
        q.put(it)
    q.put(None)


def receiver_to_file(q, path):
    """Tutorial 10's receiver: everything up to None, written as JSON to path."""
    got = []
    while True:
        item = q.get(timeout=T)
        if item is None:
            break
        got.append(item)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pid": os.getpid(), "items": got, "done_at": time.monotonic()}, f)
    os.rename(tmp, path)


# ---- pipes -------------------------------------------------------------------------------

def send_and_close(conn, items):
    for it in items:
        conn.send(it)
    conn.close()


def send_bytes_and_close(conn, chunks):
    for c in chunks:
        conn.send_bytes(c)
    conn.close()


def echo(conn, n):
    """Receives n objects and sends each back with 'echo' tagged on."""
    for _ in range(n):
        if not conn.poll(T):
            raise TimeoutError("nothing to echo")
        conn.send(("echo", conn.recv()))


def send_then_wait(conn, item, ev):
    conn.send(item)
    ev.wait(T)


def send_one(conn, item):
    conn.send(item)


def send_after(conn, item, delay):
    time.sleep(delay)
    conn.send(item)


def recv_into_queue(conn, out, n):
    got = []
    for _ in range(n):
        if not conn.poll(T):
            break
        got.append(conn.recv())
    out.put(got)


# ---- synchronization ---------------------------------------------------------------------

def hold_lock(lock, held, seconds):
    """Acquire lock, set the `held` event, keep it `seconds`, release."""
    if not lock.acquire(timeout=T):
        raise TimeoutError("could not acquire")
    held.set()
    time.sleep(seconds)
    lock.release()


def try_acquire(lock, out, timeout):
    t0 = time.monotonic()
    ok = lock.acquire(timeout=timeout)
    out.put((ok, time.monotonic() - t0))
    if ok:
        lock.release()


def locked_increments(lock, counter, n):
    """n read-modify-write increments of an unlocked shared counter under `lock`."""
    for _ in range(n):
        with lock:
            v = counter.value
            counter.value = v + 1


def lock_intervals(lock, out, i):
    """Tutorial 7: print under the lock; reports the interval it held the lock."""
    with lock:
        t0 = time.monotonic()
        print("hello world", i, flush=True)
        time.sleep(0.005)
        t1 = time.monotonic()
    out.put((t0, t1))


def acquire_and_die(lock):
    lock.acquire()
    os.kill(os.getpid(), 9)


def semaphore_user(sem, inside, peak, lock, n):
    """Enters sem n times; tracks how many are inside at once."""
    for _ in range(n):
        if not sem.acquire(timeout=T):
            raise TimeoutError("semaphore")
        with lock:
            inside.value += 1
            peak.value = max(peak.value, inside.value)
        time.sleep(0.002)
        with lock:
            inside.value -= 1
        sem.release()


def wait_event(ev, out):
    ok = ev.wait(T)
    out.put(("woke", ok, time.monotonic()))


def set_event_after(ev, delay):
    time.sleep(delay)
    ev.set()


def condition_waiter(cond, waiting, out):
    """Waits on cond once; `waiting` counts waiters (incremented under the lock)."""
    with cond:
        waiting.value += 1
        ok = cond.wait(T)
    out.put(ok)


def condition_wait_for(cond, flag, out):
    with cond:
        ok = cond.wait_for(lambda: flag.value == 1, timeout=T)
        out.put((ok, flag.value))


def condition_set_flag(cond, flag, delay):
    time.sleep(delay)
    with cond:
        flag.value = 1
        cond.notify_all()


def barrier_wait(barrier, out, timeout=T):
    try:
        out.put(("passed", barrier.wait(timeout)))
    except threading.BrokenBarrierError:
        out.put(("broken", None))


# ---- shared memory -----------------------------------------------------------------------

def tutorial_value_array(n, a, i):
    """Tutorial 8: n.value = i*i, a[i] = -i."""
    n.value = i * i
    a[i] = -i


def locked_value_increments(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def set_dict_item(d, i):
    """Tutorial 9: d[i] = i*i."""
    d[i] = i * i


def list_append(lst, item):
    lst.append(item)


def namespace_set(ns, **kw):
    for k, v in kw.items():
        setattr(ns, k, v)


def modify_manager_objects(objs, out):
    """Uses each object a Manager made, so the parent can see the changes."""
    objs["dict"]["child"] = os.getpid()
    objs["list"].append("from child")
    objs["ns"].x = 42
    objs["queue"].put("queued")
    objs["jqueue"].put("joinable")
    objs["value"].value = 99
    objs["array"][1] = 7
    objs["event"].set()
    got = objs["lock"].acquire(timeout=0.2)  # held by the parent: False
    out.put(("lock", got))
    with objs["rlock"]:
        with objs["rlock"]:
            pass
    out.put(("sem", objs["semaphore"].acquire(timeout=T)))
    with objs["condition"]:
        objs["condition"].notify_all()
    out.put(("barrier", objs["barrier"].wait(T)))
    out.put(("done", None))


# ---- lifetime ----------------------------------------------------------------------------

def use_everything(objs, out):
    """Touches each shmring object it is given, from a child process."""
    objs["queue"].put("q")
    objs["simple"].put("s")
    objs["joinable"].put("j")
    objs["conn"].send("p")
    with objs["lock"]:
        pass
    with objs["rlock"]:
        pass
    with objs["semaphore"]:
        pass
    with objs["bounded"]:
        pass
    objs["event"].set()
    with objs["condition"]:
        objs["condition"].notify_all()
    objs["value"].value = 1.5
    objs["array"][0] = 3
    objs["raw_value"].value = 2
    objs["raw_array"][1] = 4
    objs["dict"]["k"] = "v"
    objs["list"].append(1)
    objs["ns"].a = 1
    out.put("used")


# ---- crash tests -------------------------------------------------------------------------

def payload(i):
    """Item i of the crash tests: a pickled tuple or raw bytes, of a length that varies with i."""
    body = (b"%d:" % i) * (1 + (i * 7) % 60)
    return (i, body) if i % 2 == 0 else b"raw:" + body


def index_of(item):
    """The i of payload(i) (for a well-formed item)."""
    return item[0] if isinstance(item, tuple) else int(item[4:].split(b":", 1)[0])


def report_tag_and_sleep(q, tag, seconds):
    q.put((tag, os.getpid()))
    time.sleep(seconds)
    return tag


def report_and_sum(q, n):
    q.put("summing")
    return sum(range(n))  # one C call: no Python signal handler runs until it returns


# ---- test_robustness.py ----------------------------------------------------------------------

class TwoArgError(Exception):
    """An exception that cannot be rebuilt from its args (needs two, pickles one)."""

    def __init__(self, what, detail):
        super().__init__(what)
        self.detail = detail


def raise_two_arg_error(_=None):
    raise TwoArgError("bad", "detail")


def big_bytes(n):
    return b"r" * n


def length(b):
    return len(b)


def make_dict_in_worker():
    import shmring
    global _worker_dict
    _worker_dict = shmring.Dict()


def fail_on_two(x):
    if x == 2:
        raise ValueError("bad item 2")
    return x


def condition_notify_child(cond, flag):
    with cond:
        flag.value = 1
        cond.notify_all()


def put_paced(q, items, pause):
    """Put each item, pausing now and then, so the reader's loop sleeps in between."""
    for i, item in enumerate(items):
        q.put(item)
        if i % 10 == 0:
            time.sleep(pause)


def send_paced_and_close(conn, items, pause):
    for i, item in enumerate(items):
        conn.send(item)
        if i % 10 == 0:
            time.sleep(pause)
    conn.close()


def hold_end_forever(conn, ready):
    ready.set()
    time.sleep(600)
