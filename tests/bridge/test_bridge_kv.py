"""`shmring bridge kv` as a user runs it (docs/bridge.md, "bridge kv"): two
dicts in /dev/shm stand for two machines, each with its own bridge on one
KV bucket of a real nats-server that each test starts on loopback (the
fixtures of test_bridge.py) and stops by its pid.

The dicts are set from this process through the Python package
(PYTHONPATH=<build>/python, set by tests/CMakeLists.txt). What the bucket
holds is read by a third dict and bridge started at the end: it gets its
entries only from the bucket. Seeded: SHMRING_BRIDGE_SEED repeats a run.
"""

import base64
import json
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import shmring
from test_bridge import CLI, Server, procs, server, tmp, wait_for  # noqa: F401 (fixtures)

BUCKET = "kvtest"


def new_dict(path):
    return shmring.Dict(name=path, capacity=2048, max_key=64, max_value=256)


def kv_bridge(procs, path, server, *extra, bucket=BUCKET):
    args = [CLI, "bridge", "kv", path, "--bucket", bucket, "--server", server.url, "--json", *extra]
    return procs.start(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_bridge(p):
    """SIGTERM to this pid; its summary (JSON) and stderr."""
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, (p.returncode, err[-3000:])
    return json.loads(out.splitlines()[-1]), err


def snapshot(d):
    return dict(d.items())


def converge(dicts, model, timeout=20.0):
    ok = wait_for(lambda: all(snapshot(d) == model for d in dicts), timeout)
    if not ok:
        for i, d in enumerate(dicts):
            s = snapshot(d)
            diff = {k: (s.get(k), model.get(k)) for k in set(s) | set(model) if s.get(k) != model.get(k)}
            print(f"dict {i}: {len(diff)} keys differ, e.g. {list(diff.items())[:5]}")
    return ok


def bucket_as_seen_by_a_new_site(procs, tmp, server, model):
    """A third dict and bridge: it equals `model` only if the bucket holds it."""
    c = new_dict(f"{tmp}/c")
    p = kv_bridge(procs, f"{tmp}/c", server)
    ok = converge([c], model, 15)
    stop_bridge(p)
    return ok


def test_two_dicts_converge_after_sets_and_erases_on_both_sides(procs, tmp, server):
    a, b = new_dict(f"{tmp}/a"), new_dict(f"{tmp}/b")
    a["before"] = "set before any bridge ran"  # a dict bridged for the first time keeps its entries
    pa = kv_bridge(procs, f"{tmp}/a", server)
    pb = kv_bridge(procs, f"{tmp}/b", server)
    model = {"before": "set before any bridge ran"}
    t0 = time.monotonic()
    # Keys of every shape: KV-safe text, text that is not (spaces, dots at the
    # ends, '='), bytes, ints (the Python package packs them as bytes).
    keys = [f"a{i}" for i in range(100)] + [f"b {i}." for i in range(100)] + [b"\x00\xff.", "=x", ".", 7, 3.5]
    for i, k in enumerate(keys):
        (a if i % 2 else b)[k] = f"v{i}"
        model[k] = f"v{i}"
    assert converge([a, b], model), "sets"
    t_sets = time.monotonic() - t0
    for i, k in enumerate(keys[:60]):  # updates from the side that did not set it
        (b if i % 2 else a)[k] = f"w{i}"
        model[k] = f"w{i}"
    assert converge([a, b], model), "updates"
    for i, k in enumerate(keys[::3]):
        del (a if i % 2 else b)[k]
        del model[k]
    assert converge([a, b], model), "erases"
    b["before"] = "changed on b"
    model["before"] = "changed on b"
    assert converge([a, b], model), "an update after the erases"
    sa, ea = stop_bridge(pa)
    sb, eb = stop_bridge(pb)
    print(f"converged: {len(keys)} keys set in {t_sets:.2f} s; a {sa}, b {sb}")
    assert sa["conflicts"] == 0 and sb["conflicts"] == 0, (ea, eb)
    assert bucket_as_seen_by_a_new_site(procs, tmp, server, model)


def test_concurrent_sets_of_one_key_converge_to_one_value_on_both(procs, tmp, server):
    a, b = new_dict(f"{tmp}/a"), new_dict(f"{tmp}/b")
    pa = kv_bridge(procs, f"{tmp}/a", server)
    pb = kv_bridge(procs, f"{tmp}/b", server)
    rounds = 20
    for r in range(rounds):
        a[f"k{r}"] = f"from a {r}"  # both before either bridge's next scan (50 ms apart)
        b[f"k{r}"] = f"from b {r}"
        time.sleep(0.03)
    def agreed():
        sa, sb = snapshot(a), snapshot(b)
        return len(sa) == rounds and sa == sb
    assert wait_for(agreed, 20), (snapshot(a), snapshot(b))
    final = snapshot(a)
    for r in range(rounds):
        assert final[f"k{r}"] in (f"from a {r}", f"from b {r}")
    sa, ea = stop_bridge(pa)
    sb, eb = stop_bridge(pb)
    wins_a = sum(1 for r in range(rounds) if final[f"k{r}"] == f"from a {r}")
    print(f"conflicts: {rounds} keys set on both sides at once; a's value won {wins_a}, b's {rounds - wins_a}; "
          f"conflicts counted: a {sa['conflicts']}, b {sb['conflicts']}")
    # Each key: the loser's local value was replaced (counted), the winner's was not.
    assert sa["conflicts"] + sb["conflicts"] >= rounds // 2, (ea[-2000:], eb[-2000:])
    assert "conflict" in ea + eb
    assert bucket_as_seen_by_a_new_site(procs, tmp, server, final)


class Writer:
    """Sets (and sometimes erases) keys of its own prefix on one dict until
    stopped, remembering the last thing done to each key."""

    def __init__(self, d, prefix, rng, keys=60):
        self.d, self.prefix, self.rng, self.keys = d, prefix, rng, keys
        self.model, self.sets, self.erases = {}, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        n = 0
        while not self.stop.is_set():
            k = f"{self.prefix}{self.rng.randrange(self.keys)}"
            if k in self.model and self.rng.random() < 0.1:
                del self.d[k]
                del self.model[k]
                self.erases += 1
            else:
                n += 1
                self.d[k] = f"{self.prefix}-{n}"
                self.model[k] = f"{self.prefix}-{n}"
                self.sets += 1
            time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def lost(d, model):
    s = snapshot(d)
    return sum(1 for k in set(s) | set(model) if s.get(k) != model.get(k))


def test_kill_9_of_kv_bridges_loses_no_local_set(procs, tmp, server):
    seed = int(os.environ.get("SHMRING_BRIDGE_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"seed {seed}")
    a, b = new_dict(f"{tmp}/a"), new_dict(f"{tmp}/b")
    paths = {"a": f"{tmp}/a", "b": f"{tmp}/b"}
    bridges = {s: kv_bridge(procs, paths[s], server) for s in "ab"}
    kills = 0
    with Writer(a, "a", random.Random(rng.random())) as wa, Writer(b, "b", random.Random(rng.random())) as wb:
        time.sleep(0.5)
        while kills < 24:
            time.sleep(rng.uniform(0.05, 0.4))
            side = rng.choice("ab")
            bridges[side].kill()  # SIGKILL, this pid only
            bridges[side].wait()
            kills += 1
            time.sleep(rng.uniform(0, 0.3))  # sets go on while it is dead
            bridges[side] = kv_bridge(procs, paths[side], server)
        time.sleep(0.3)
    model = {**wa.model, **wb.model}
    ok = converge([a, b], model, 20)
    summaries = {s: stop_bridge(p) for s, p in bridges.items()}
    print(f"kill -9: {kills} kills, sets {wa.sets + wb.sets}, erases {wa.erases + wb.erases}, "
          f"lost on a {lost(a, model)}, lost on b {lost(b, model)}; last bridges: "
          f"{ {s: v[0] for s, v in summaries.items()} }")
    assert ok, "the dicts did not converge to every local set"
    assert all(v[0]["conflicts"] == 0 for v in summaries.values()), "no key is written on both sides"
    assert bucket_as_seen_by_a_new_site(procs, tmp, server, model)


def test_server_restart_mid_run_loses_no_set(procs, tmp, server):
    rng = random.Random(int(os.environ.get("SHMRING_BRIDGE_SEED", random.randrange(1 << 30))))
    a, b = new_dict(f"{tmp}/a"), new_dict(f"{tmp}/b")
    pa = kv_bridge(procs, f"{tmp}/a", server)
    pb = kv_bridge(procs, f"{tmp}/b", server)
    with Writer(a, "a", random.Random(rng.random())) as wa, Writer(b, "b", random.Random(rng.random())) as wb:
        time.sleep(1.0)
        server.stop(signal.SIGKILL)
        time.sleep(2.0)  # sets go on while the server is down
        server.start()
        time.sleep(1.0)
    model = {**wa.model, **wb.model}
    t0 = time.monotonic()
    ok = converge([a, b], model, 20)
    t_conv = time.monotonic() - t0
    sa, ea = stop_bridge(pa)
    sb, eb = stop_bridge(pb)
    print(f"server SIGKILL, 2 s down, restarted: sets {wa.sets + wb.sets}, erases {wa.erases + wb.erases}, "
          f"converged {t_conv:.2f} s after, lost a {lost(a, model)} b {lost(b, model)}; a {sa}, b {sb}")
    assert ok, (ea[-2000:], eb[-2000:])
    assert sa["conflicts"] == 0 and sb["conflicts"] == 0
    assert bucket_as_seen_by_a_new_site(procs, tmp, server, model)


def test_bucket_value_above_max_value_is_skipped_with_a_line(procs, tmp, server):
    small = new_dict(f"{tmp}/a")  # max_value 256
    big = shmring.Dict(name=f"{tmp}/b", capacity=64, max_key=64, max_value=4096)
    pa = kv_bridge(procs, f"{tmp}/a", server)
    pb = kv_bridge(procs, f"{tmp}/b", server)
    big["large"] = "x" * 1000
    big["after"] = "small"
    assert wait_for(lambda: snapshot(small).get("after") == "small", 10)
    assert "large" not in snapshot(small)
    assert pa.poll() is None, "the bridge of the small dict is still running"
    sa, ea = stop_bridge(pa)
    stop_bridge(pb)
    print(f"oversized: a {sa}; its line: {[line for line in ea.splitlines() if 'max_value' in line]}")
    assert sa["skipped"] == 1 and "above the dict's max_value" in ea


# --- The review's cases: a small NATS client of this file's own (the raw
# protocol: PUB/HPUB with a reply inbox) writes to the bucket as "another
# site" and reads it; the state file is written as a killed bridge left it.


class Nats:
    """Request/reply over the NATS text protocol: enough for JetStream's API."""

    def __init__(self, url):
        host, port = url.rsplit("/", 1)[-1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buf = b""
        self.line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nPING\r\n')
        while self.line() != b"PONG":
            pass
        self.sid = 0

    def close(self):
        self.sock.close()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "nats-server closed the connection"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def take(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, payload=b"", headers=None):
        """The reply's (headers, payload)."""
        self.sid += 1
        inbox = f"_INBOX.kvtest.{self.sid}"
        out = f"SUB {inbox} {self.sid}\r\n".encode()
        if headers:
            h = b"NATS/1.0\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"
            out += f"HPUB {subject} {inbox} {len(h)} {len(h) + len(payload)}\r\n".encode() + h + payload + b"\r\n"
        else:
            out += f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n"
        self.sock.sendall(out)
        while True:
            line = self.line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"MSG "):
                data = self.take(int(line.split()[-1]))
                hdr = b""
            elif line.startswith(b"HMSG "):
                parts = line.split()
                data = self.take(int(parts[-1]))
                hdr, data = data[: int(parts[-2])], data[int(parts[-2]):]
            else:
                continue
            self.sock.sendall(f"UNSUB {self.sid}\r\n".encode())
            return hdr, data

    def js(self, api, body):
        return json.loads(self.request(f"$JS.API.{api}", json.dumps(body).encode())[1] or b"{}")

    def put(self, key, value):
        """Another site's write of `key` (bytes as the dict holds them): its revision."""
        ack = json.loads(self.request(f"$KV.{BUCKET}.{key}", value)[1])
        assert "seq" in ack, ack
        return ack["seq"]

    def last(self, key):
        """(revision, value or None for a delete marker); (0, None): no message."""
        r = self.js(f"STREAM.MSG.GET.KV_{BUCKET}", {"last_by_subj": f"$KV.{BUCKET}.{key}"})
        if "error" in r:
            return 0, None
        m = r["message"]
        deleted = b"KV-Operation" in base64.b64decode(m.get("hdrs", ""))
        return m["seq"], None if deleted else base64.b64decode(m.get("data", ""))


@pytest.fixture
def nats(server):
    n = Nats(server.url)
    yield n
    n.close()


def state_path(dict_path, bucket=None):
    head, name = dict_path.rsplit("/", 1)
    return f"{head}/.{name}.{bucket or BUCKET}.bridge-kv"


def fnv(b, h=0xCBF29CE484222325):
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def vhash(v):
    return 0 if v is None else fnv(v) | 1


PUSH, APPLY = 1, 2


def append_state(path, key, synced, rev, pending, kind, expected):
    """Appends a key record to a state file as kv_state.cpp writes it (the
    format its header names): what a bridge killed just after intend() left."""
    data = open(path, "rb").read()
    _, htype = struct.unpack_from("<II", data)
    fields = struct.pack("<QQQB", vhash(synced), rev, vhash(pending), kind)
    if htype == 0x56484B42:  # format 1: no expected value
        payload, ktype = fields + key.encode(), 0x594B4B42
    else:
        payload, ktype = fields + struct.pack("<Q", vhash(expected)) + key.encode(), 0x32594B42
    body = struct.pack("<II", len(payload), ktype) + payload
    with open(path, "ab") as f:
        f.write(body + struct.pack("<Q", fnv(body)))


def run_idle(procs, path, server, *extra, bucket=BUCKET):
    """One bridge run that ends once nothing moved for 1 s: its summary and stderr."""
    p = kv_bridge(procs, path, server, "--idle", "1", *extra, bucket=bucket)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, (p.returncode, err[-3000:])
    return json.loads(out.splitlines()[-1]), err


def test_killed_between_pending_apply_and_the_apply_applies_it_at_restart(procs, tmp, server, nats):
    a = new_dict(f"{tmp}/a")
    a["k"] = "S"
    run_idle(procs, f"{tmp}/a", server)  # pushes S: revision 1
    assert nats.last("sk") == (1, b"sS")
    assert nats.put("sk", b"sY") == 2  # another site
    # The bridge saw revision 2, wrote "pending apply Y (replacing S)" and was killed.
    append_state(state_path(f"{tmp}/a"), "sk", b"sS", 1, b"sY", APPLY, b"sS")
    s, err = run_idle(procs, f"{tmp}/a", server)
    print(f"pending apply at restart: {s}")
    assert nats.last("sk") == (2, b"sY"), ("the stale S was pushed over Y", err[-2000:])
    assert snapshot(a) == {"k": "Y"}
    assert s["conflicts"] == 0


def test_bucket_rewritten_back_to_the_synced_value_is_a_move(procs, tmp, server, nats):
    a = new_dict(f"{tmp}/a")
    a["k"] = "S"
    run_idle(procs, f"{tmp}/a", server)  # revision 1
    nats.put("sk", b"sY")  # revision 2
    nats.put("sk", b"sS")  # revision 3: S again, while a's bridge is stopped
    a["k"] = "L"  # and a's dict changed meanwhile
    s, err = run_idle(procs, f"{tmp}/a", server)
    print(f"ABA at start: {s}")
    assert nats.last("sk") == (3, b"sS"), ("L was pushed over a newer revision", err[-2000:])
    assert snapshot(a) == {"k": "S"}
    assert s["conflicts"] == 1 and "conflict" in err


def test_a_local_set_converges_after_the_delete_marker_was_purged(procs, tmp, server, nats):
    a = new_dict(f"{tmp}/a")
    p = kv_bridge(procs, f"{tmp}/a", server)
    a["k"] = "S"
    assert wait_for(lambda: nats.last("sk")[1] == b"sS", 10)
    del a["k"]
    assert wait_for(lambda: nats.last("sk") == (2, None), 10)
    nats.js(f"STREAM.PURGE.KV_{BUCKET}", {"filter": f"$KV.{BUCKET}.sk"})  # as kvStore_PurgeDeletes does
    assert nats.last("sk") == (0, None)
    a["k"] = "N"
    ok = wait_for(lambda: nats.last("sk")[1] == b"sN", 5)
    s, err = stop_bridge(p)
    print(f"purged delete marker: {s}; lines: {err.count(chr(10))}")
    assert ok, err[-2000:]


def test_a_remote_write_the_full_dict_cannot_take_is_skipped_not_erased(procs, tmp, server, nats):
    a = shmring.Dict(name=f"{tmp}/a", capacity=4, max_key=64, max_value=256)
    a["k"] = "S"
    filler = 0
    p = kv_bridge(procs, f"{tmp}/a", server, "--interval", "2000")
    assert wait_for(lambda: nats.last("sk")[1] == b"sS", 10)  # the first scan
    # Before the next scan: k erased here, the dict filled, and another site writes k.
    del a["k"]
    while True:
        try:
            a[f"f{filler}"] = "x"
            filler += 1
        except Exception:
            break
    rev = nats.put("sk", b"sY")
    time.sleep(3.0)  # the next scan
    s, err = stop_bridge(p)
    print(f"full dict: {filler} fillers; {s}")
    assert nats.last("sk") == (rev, b"sY"), ("the remote write was erased", err[-2000:])
    assert s["skipped"] >= 1 and "skipped" in err


def test_a_push_refused_for_a_passing_reason_is_pushed_again(procs, tmp, server, nats):
    # The bucket made here, as small as one value: the next value is refused
    # (maximum bytes exceeded) until the bucket grows.
    cfg = {"name": f"KV_{BUCKET}", "subjects": [f"$KV.{BUCKET}.>"], "max_msgs_per_subject": 1, "max_bytes": 400,
           "discard": "new", "storage": "file", "num_replicas": 1, "allow_rollup_hdrs": True, "deny_delete": True,
           "allow_direct": True, "max_age": 0, "max_msg_size": -1, "max_msgs": -1, "max_consumers": -1,
           "retention": "limits", "duplicate_window": 120_000_000_000}
    assert "error" not in nats.js(f"STREAM.CREATE.KV_{BUCKET}", cfg)
    a = new_dict(f"{tmp}/a")
    p = kv_bridge(procs, f"{tmp}/a", server)
    a["one"] = "1" * 200
    assert wait_for(lambda: nats.last("sone")[0] > 0, 10)
    a["two"] = "2" * 200
    time.sleep(0.5)
    assert nats.last("stwo") == (0, None)  # refused so far
    cfg["max_bytes"] = 1 << 20
    assert "error" not in nats.js(f"STREAM.UPDATE.KV_{BUCKET}", cfg)
    ok = wait_for(lambda: nats.last("stwo")[1] == b"s" + b"2" * 200, 5)
    s, err = stop_bridge(p)
    print(f"refused for a passing reason: {s}")
    assert ok, err[-2000:]


def test_a_state_file_of_another_bucket_is_refused_not_overwritten(procs, tmp, server):
    a = new_dict(f"{tmp}/a")
    a["k"] = "S"
    run_idle(procs, f"{tmp}/a", server)  # the state of bucket kvtest, by default next to the dict
    path = state_path(f"{tmp}/a")
    before = open(path, "rb").read()
    p = kv_bridge(procs, f"{tmp}/a", server, "--idle", "1", "--state", path, bucket="other")
    _, err = p.communicate(timeout=30)
    print(f"another bucket's state file: exit {p.returncode}: {err.strip()[-300:]}")
    assert p.returncode == 6 and "the state of another bucket" in err
    assert open(path, "rb").read() == before
    # Without --state the other bucket's bridge keeps a file of its own.
    s, _ = run_idle(procs, f"{tmp}/a", server, bucket="other")
    assert os.path.exists(state_path(f"{tmp}/a", "other")) and open(path, "rb").read() == before
    assert s["pushed"] == 1
