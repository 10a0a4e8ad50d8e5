"""Value, Array, RawValue, RawArray and Manager() (dict, list, Namespace and
the rest): the same assertions against multiprocessing and shmring; then
what shmring does its own way (Dict, List, Namespace without a server,
objects opened and pickled by name)."""
import ctypes
import pickle

import pytest

import shmring
import helpers_mp as h
from conftest import T


# ---- Value and Array ---------------------------------------------------------------------

def test_value(mp):
    v = mp.Value("d", 0.0)
    assert v.value == 0.0
    v.value = 2.5
    assert v.value == 2.5
    with v.get_lock():
        v.value += 1
    assert v.value == 3.5
    obj = v.get_obj()
    assert isinstance(obj, ctypes.c_double) and obj.value == 3.5
    obj.value = 4.0  # the object in shared memory, not a copy
    assert v.value == 4.0
    assert v.get_lock().acquire() and v.get_lock().acquire()  # an RLock by default
    v.get_lock().release()
    v.get_lock().release()
    with v:  # the wrapper is its own context manager
        v.value = 1.0
    assert mp.Value("i").value == 0
    assert mp.Value(ctypes.c_long, 5).value == 5


def test_value_without_lock(mp):
    v = mp.Value("i", 7, lock=False)
    assert v.value == 7
    v.value = -3
    assert v.value == -3


def test_value_with_given_lock(mp):
    lock = mp.Lock()
    v = mp.Value("i", 1, lock=lock)
    assert v.get_lock() is lock
    with v.get_lock():
        assert lock.acquire(False) is False


def test_array(mp):
    a = mp.Array("i", range(10))
    assert len(a) == 10
    assert a[0] == 0 and a[9] == 9 and a[-1] == 9
    assert a[2:5] == [2, 3, 4]
    assert a[:] == list(range(10))
    assert a[::3] == [0, 3, 6, 9]
    assert list(a) == list(range(10))
    a[0] = -1
    a[1:3] = [7, 8]
    assert a[:4] == [-1, 7, 8, 3]
    with pytest.raises(IndexError):
        a[10]
    with pytest.raises(IndexError):
        a[10] = 1
    with pytest.raises(ValueError):
        a[1:3] = [1]  # the size of a slice cannot change
    with a.get_lock():
        a[5] += 100
    assert a[5] == 105
    obj = a.get_obj()
    assert len(obj) == 10 and obj[5] == 105
    obj[6] = 60  # writes through
    assert a[6] == 60
    z = mp.Array("d", 4)
    assert z[:] == [0.0] * 4
    assert mp.Array(ctypes.c_double, [1.5, 2.5])[:] == [1.5, 2.5]


def test_char_array(mp):
    c = mp.Array("c", b"hello")
    assert c.value == b"hello"
    assert c.raw == b"hello"
    assert c[0] == b"h" and c[:] == b"hello"
    c.value = b"hi"
    assert c.value == b"hi"
    assert c.raw == b"hi\x00lo"
    c[4] = b"!"
    assert c.raw == b"hi\x00l!"


def test_raw_value_and_raw_array(mp):
    rv = mp.RawValue("i", 3)
    assert rv.value == 3
    rv.value = 4
    assert rv.value == 4
    ra = mp.RawArray("d", 3)
    assert ra[:] == [0.0, 0.0, 0.0]
    ra[1] = 1.5
    assert ra[:] == [0.0, 1.5, 0.0]
    ri = mp.RawArray("i", [1, 2, 3])
    assert ri[:] == [1, 2, 3] and len(ri) == 3


def test_tutorial_8_value_and_array_from_ten_processes(mp, procs):
    n = mp.Value("d", 0.0)
    a = mp.Array("i", range(10))
    ps = [procs.start(h.tutorial_value_array, n, a, i) for i in range(10)]
    procs.join_ok(*ps)
    assert n.value in [float(i * i) for i in range(10)]
    assert a[:] == [-i for i in range(10)]


def test_locked_increments_across_processes(mp, procs):
    v = mp.Value("i", 0)
    ps = [procs.start(h.locked_value_increments, v, 500) for _ in range(2)]
    procs.join_ok(*ps, timeout=30)
    assert v.value == 1000


def test_raw_array_written_by_child(mp, procs):
    ra = mp.RawArray("i", 10)
    ps = [procs.start(h.tutorial_value_array, mp.RawValue("d", 0.0), ra, i) for i in range(10)]
    procs.join_ok(*ps)
    assert ra[:] == [-i for i in range(10)]


# ---- Manager ------------------------------------------------------------------------------

@pytest.fixture
def manager(mp):
    with mp.Manager() as m:
        yield m


def test_manager_dict_api(manager):
    d = manager.dict()
    assert len(d) == 0
    d["a"] = 1
    d[2] = "two"
    d[(3, 4)] = [5, 6]
    assert d["a"] == 1 and d[2] == "two" and d[(3, 4)] == [5, 6]
    assert "a" in d and "b" not in d
    assert len(d) == 3
    assert d.get("b") is None and d.get("b", 7) == 7
    assert d.setdefault("b", 8) == 8 and d.setdefault("b", 9) == 8
    assert d.pop("b") == 8 and d.pop("b", None) is None
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(KeyError):
        del d["missing"]
    d.update({"x": 1}, y=2)
    assert sorted(map(str, d.keys())) == sorted(["a", "2", "(3, 4)", "x", "y"])
    assert d.copy() == {"a": 1, 2: "two", (3, 4): [5, 6], "x": 1, "y": 2}
    assert dict(d.items()) == d.copy()
    del d["x"]
    assert "x" not in d
    d.clear()
    assert len(d) == 0
    d2 = manager.dict({"k": "v"}, n=1)
    assert d2.copy() == {"k": "v", "n": 1}


def test_manager_list_api(manager):
    lst = manager.list([3, 1, 2])
    assert len(lst) == 3 and lst[0] == 3 and lst[-1] == 2
    lst.append(4)
    lst.extend([5, 6])
    assert lst[1:3] == [1, 2]
    lst.insert(0, 0)
    assert list(lst) == [0, 3, 1, 2, 4, 5, 6]
    assert lst.pop() == 6 and lst.pop(0) == 0
    assert lst.index(2) == 2 and lst.count(1) == 1
    lst.remove(1)
    lst.sort()
    assert list(lst) == [2, 3, 4, 5]
    lst.reverse()
    assert list(lst) == [5, 4, 3, 2]
    lst[0] = "five"
    del lst[1]
    assert list(lst) == ["five", 3, 2]
    lst += [9]
    assert list(lst) == ["five", 3, 2, 9]
    with pytest.raises(IndexError):
        lst[10]
    assert 3 in list(lst)
    assert manager.list()[:] == []


def test_manager_namespace(manager):
    ns = manager.Namespace()
    ns.x = 1
    ns.y = [1, 2]
    assert ns.x == 1 and ns.y == [1, 2]
    del ns.x
    with pytest.raises(AttributeError):
        ns.x
    ns2 = manager.Namespace(a=1, b="b")
    assert (ns2.a, ns2.b) == (1, "b")


def test_tutorial_9_ten_processes_write_manager_dict(manager, procs):
    d = manager.dict()
    ps = [procs.start(h.set_dict_item, d, i) for i in range(10)]
    procs.join_ok(*ps)
    assert dict(d.items()) == {i: i * i for i in range(10)}


def test_manager_list_and_namespace_from_children(manager, procs):
    lst, ns = manager.list(), manager.Namespace()
    ps = [procs.start(h.list_append, lst, i) for i in range(5)]
    ps.append(procs.start(h.namespace_set, ns, x=1, name="child"))
    procs.join_ok(*ps)
    assert sorted(lst) == list(range(5))
    assert ns.x == 1 and ns.name == "child"


def test_manager_objects_used_by_a_child(mp, manager, procs):
    objs = {
        "dict": manager.dict(),
        "list": manager.list(),
        "ns": manager.Namespace(),
        "queue": manager.Queue(),
        "jqueue": manager.JoinableQueue(),
        "lock": manager.Lock(),
        "rlock": manager.RLock(),
        "semaphore": manager.Semaphore(0),
        "event": manager.Event(),
        "condition": manager.Condition(),
        "barrier": manager.Barrier(2),
        "value": manager.Value("i", 0),
        "array": manager.Array("i", [0, 0, 0]),
    }
    out = mp.Queue()
    assert objs["lock"].acquire()
    objs["semaphore"].release()
    p = procs.start(h.modify_manager_objects, objs, out)
    assert objs["barrier"].wait(T) in (0, 1)
    results = dict(out.get(timeout=T) for _ in range(4))
    procs.join_ok(p)
    objs["lock"].release()
    assert results == {"lock": False, "sem": True, "barrier": results["barrier"], "done": None}
    assert objs["dict"]["child"] == p.pid
    assert list(objs["list"]) == ["from child"]
    assert objs["ns"].x == 42
    assert objs["queue"].get(timeout=T) == "queued"
    assert objs["jqueue"].get(timeout=T) == "joinable"
    objs["jqueue"].task_done()
    objs["jqueue"].join()
    assert objs["value"].value == 99
    assert list(objs["array"]) == [0, 7, 0]
    assert objs["event"].is_set() and objs["event"].wait(T)


def test_manager_without_with(mp, procs):
    m = mp.Manager()
    try:
        d, lst = m.dict(), m.list()
        p = procs.start(h.set_dict_item, d, 3)
        q = procs.start(h.list_append, lst, "x")
        procs.join_ok(p, q)
        assert d[3] == 9 and lst[:] == ["x"]
    finally:
        m.shutdown()


def test_manager_start_shutdown():
    """Manager() is started already; the unstarted SharedManager accepts start()/shutdown()."""
    m = shmring.Manager()
    d = m.dict(a=1)
    assert d["a"] == 1
    m.shutdown()
    m2 = shmring.SharedManager()
    m2.start()
    assert m2.list([1])[:] == [1]
    m2.shutdown()


# ---- shmring only: Dict, List, Namespace in shared memory, and names -------------------------

def test_dict_named_open_and_persist(names):
    name = names("dict")
    d = shmring.Dict({"a": 1}, name=name, capacity=64)
    other = shmring.Dict.open(name)
    other["b"] = b"bytes"
    assert d["b"] == b"bytes" and other["a"] == 1
    assert d.capacity >= 64
    d[1.5] = None
    d[True] = False
    d[("t", 1)] = {"nested": [1]}
    assert other[1.5] is None and other[True] is False and other[("t", 1)] == {"nested": [1]}
    assert d == other
    assert isinstance(d.copy(), dict) and sorted(map(repr, d)) == sorted(map(repr, d.keys()))
    assert d.popitem()[0] in ("a", "b", 1.5, True, ("t", 1))
    del d, other
    again = shmring.Dict.open(name)  # a named dict persists until unlink
    assert len(again) == 4
    shmring.Dict.unlink(name)
    with pytest.raises(FileNotFoundError):
        shmring.Dict.open(name)


def test_dict_limits():
    d = shmring.Dict(capacity=4, max_key=16, max_value=32)
    with pytest.raises(ValueError):
        d["k"] = "v" * 100  # above max_value
    with pytest.raises(ValueError):
        d["k" * 100] = 1  # above max_key
    with pytest.raises(MemoryError):
        for i in range(100):
            d[i] = i


def test_list_named_and_slices(names):
    name = names("list")
    lst = shmring.List([1, 2, 3], name=name)
    other = shmring.List.open(name)
    other.append(4)
    assert lst[:] == [1, 2, 3, 4]
    lst[1:3] = ["x"]
    assert other[:] == [1, "x", 4]
    del lst[::2]
    assert other[:] == ["x"]
    assert lst == ["x"] and lst == other


def test_namespace_pickles_to_its_dict(names):
    ns = shmring.Namespace(name=names("dict"), a=1)
    ns2 = pickle.loads(pickle.dumps(ns))
    ns2.b = 2
    assert ns.b == 2 and ns2.a == 1
    with pytest.raises(AttributeError):
        ns._private = 1
    assert "a=1" in repr(ns)


def test_value_and_array_open_by_name(names):
    vname, aname = names("value"), names("array")
    v = shmring.Value("d", 1.25, name=vname)
    a = shmring.Array("i", [1, 2, 3], name=aname)
    v2 = shmring.Value.open(vname, "d")
    a2 = shmring.Array.open(aname, "i")
    v2.value = 2.5
    a2[0] = 10
    assert v.value == 2.5 and a[:] == [10, 2, 3] and len(a2) == 3
    with v2.get_lock():
        assert v.get_lock().acquire(timeout=0.05) is True  # the same RLock, same thread: recursive
        v.get_lock().release()
    with pytest.raises((TypeError, ValueError, OSError)):
        shmring.Value.open(vname, "i")  # the wrong type


def test_value_pickles_by_name():
    v = shmring.Value("i", 5)
    a = shmring.Array("d", 3)
    v2, a2 = pickle.loads(pickle.dumps((v, a)))
    v2.value = 6
    a2[2] = 1.5
    assert v.value == 6 and a[:] == [0.0, 0.0, 1.5]


def test_value_lock_false_still_shared(procs):
    v = shmring.Value("i", 7, lock=False)
    a = shmring.RawArray("i", 10)
    ps = [procs.start(h.tutorial_value_array, v, a, 3)]
    procs.join_ok(*ps)
    assert v.value == 9 and a[3] == -3
