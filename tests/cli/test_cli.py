"""The `shmring` command as a user drives it: the built binary run in real
processes, its stdout, stderr and exit codes checked (docs/cli.md).

Environment (set by tests/CMakeLists.txt): SHMRING_CLI, the built
`shmring`; SHMRING_QUEUE_PEER, tests/support's shmring_queue_peer, which
plays producer, consumer or role holder in processes of its own. Every
object lives in a private temporary directory that is removed, and every
process started here is killed by its pid, also when a test fails.
"""

import fcntl
import json
import mmap
import os
import pty
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

CLI = os.environ.get("SHMRING_CLI", "build/tools/cli/shmring")
PEER = os.environ.get("SHMRING_QUEUE_PEER", "build/tests/support/shmring_queue_peer")

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_DAMAGED, EXIT_PERMISSION, EXIT_TIMEOUT, EXIT_OTHER = range(7)
SUBCOMMANDS = ["ls", "stat", "watch", "put", "get", "create", "rm", "gc", "bench"]


def run(*args, stdin=None, timeout=30):
    return subprocess.run([CLI, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tmp():
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    d = tempfile.mkdtemp(prefix=f"shmring-cli-{os.getpid()}-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def procs():
    """Processes started by a test; each is killed by its pid at the end."""
    started = []
    yield started
    for p in started:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
            except ProcessLookupError:
                pass
        p.wait(timeout=10)


def peer(procs, *args):
    p = subprocess.Popen([PEER, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(p)
    return p


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def ls_json(d):
    r = run("ls", d, "--json")
    assert r.returncode == EXIT_OK, r.stderr
    return {o["name"]: o for o in map(json.loads, r.stdout.splitlines())}


# ---- help and usage ----


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help_with_examples_and_exit_codes(sub):
    r = run(sub, "--help")
    assert r.returncode == EXIT_OK
    assert "Examples:" in r.stdout and f"shmring {sub}" in r.stdout
    assert "Exit codes:" in r.stdout


def test_every_bridge_subcommand_has_help_with_examples_and_exit_codes():
    top = run("--help").stdout
    if "bridge" not in top:
        pytest.skip("built without the bridge (libnats-dev missing)")
    listed = run("bridge", "--help").stdout.split("Subcommands:")[1].split("Examples:")[0].split()
    subs = [w for w in ("out", "in", "kv") if w in listed]
    assert "out" in subs and "in" in subs
    for sub in subs:
        r = run("bridge", sub, "--help")
        assert r.returncode == EXIT_OK
        assert "Examples:" in r.stdout and f"shmring bridge {sub}" in r.stdout
        assert "Exit codes:" in r.stdout


def test_usage_errors_exit_1():
    assert run().returncode == EXIT_USAGE
    assert run("frobnicate").returncode == EXIT_USAGE
    assert run("get").returncode == EXIT_USAGE  # NAME is required
    assert run("get", "x", "-n", "0").returncode == EXIT_USAGE


def test_missing_object_exits_2(tmp):
    r = run("stat", f"{tmp}/nothing")
    assert r.returncode == EXIT_NOT_FOUND
    assert r.stderr.count("\n") == 1 and "nothing" in r.stderr
    assert run("get", f"{tmp}/nothing", "--timeout", "0").returncode == EXIT_NOT_FOUND
    assert run("rm", f"{tmp}/nothing").returncode == EXIT_NOT_FOUND


def test_permission_denied_exits_4(tmp):
    q = f"{tmp}/q"
    assert run("create", q, "--mode", "600").returncode == EXIT_OK
    if os.geteuid() == 0:  # root passes every permission check: ask as nobody
        os.chmod(tmp, 0o755)
        r = subprocess.run([CLI, "stat", q], capture_output=True, text=True, timeout=30, user=65534, group=65534)
    else:
        os.chmod(q, 0)
        r = run("stat", q)
    assert r.returncode == EXIT_PERMISSION, r.stderr
    assert r.stderr.count("\n") == 1 and "q" in r.stderr


# ---- create, put, get, rm ----


@pytest.mark.parametrize("engine", ["lanes", "mpmc", "spsc"])
def test_put_get_round_trip(tmp, engine):
    q = f"{tmp}/q"
    assert run("create", q, "--engine", engine, "--capacity", 65536).returncode == EXIT_OK
    assert run("put", q, "hello world").returncode == EXIT_OK
    assert run("put", q, "-", stdin="line one\nline two\n").returncode == EXIT_OK
    blob = os.path.join(tmp, "blob.bin")
    with open(blob, "wb") as f:
        f.write(bytes([0, 1, 2, 0xFF]))
    assert run("put", q, "--file", blob).returncode == EXIT_OK
    # The depth ls reads from the layout agrees with the API's qsize().
    o = ls_json(tmp)["q"]
    assert o["engine"] == engine and o["depth_messages"] == 4 and o["depth_bytes"] >= 4 * 8
    assert json.loads(run("stat", q, "--json").stdout)["object"]["qsize"] == 4
    r = run("get", q, "-n", 3, "--timeout", 1)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout == "hello world\nline one\nline two\n"
    r = run("get", q, "--hex", "--timeout", 1)
    assert r.returncode == EXIT_OK and r.stdout == "000102ff\n"
    st = json.loads(run("stat", q, "--json").stdout)
    assert st["object"]["engine"] == engine and st["object"]["qsize"] == 0
    assert ls_json(tmp)["q"]["depth_messages"] == 0


def test_messages_cross_between_the_cli_and_another_process(tmp, procs):
    q = f"{tmp}/q"
    assert run("create", q).returncode == EXIT_OK
    assert run("put", q, "from the cli").returncode == EXIT_OK
    got = peer(procs, "get-hex", q, 1, 5000)
    out, _ = got.communicate(timeout=20)
    assert out.split()[-1] == b"from the cli".hex()
    put = peer(procs, "put-hex", q, "6869")  # "hi"
    put.communicate(timeout=20)
    assert run("get", q, "--timeout", 5).stdout == "hi\n"


def test_get_and_put_time_out_with_exit_5(tmp):
    q = f"{tmp}/q"
    assert run("create", q, "--maxsize", 1).returncode == EXIT_OK
    t = time.monotonic()
    r = run("get", q, "--timeout", 0.3)
    assert r.returncode == EXIT_TIMEOUT and time.monotonic() - t >= 0.3
    assert "empty" in r.stderr
    assert run("put", q, "a").returncode == EXIT_OK
    r = run("put", q, "b", "--timeout", 0.2)
    assert r.returncode == EXIT_TIMEOUT and "full" in r.stderr


def test_put_on_a_lock_is_refused(tmp):
    lk = f"{tmp}/lk"
    assert run("create", lk, "--kind", "lock").returncode == EXIT_OK
    r = run("put", lk, "x")
    assert r.returncode == EXIT_OTHER and "not a queue" in r.stderr


def test_create_every_kind_then_ls_stat_and_rm(tmp):
    kinds = ["queue", "joinable-queue", "pipe", "lock", "rlock", "semaphore", "bounded-semaphore", "event",
             "condition", "barrier", "dict", "list"]
    # A shared-ends pipe would be born closed (the command's handles close at exit): refused.
    assert run("create", f"{tmp}/pipe", "--kind", "pipe").returncode == EXIT_USAGE
    assert not os.path.exists(f"{tmp}/pipe")
    for k in kinds:
        r = run("create", f"{tmp}/{k}", "--kind", k, *(["--one-owner"] if k == "pipe" else []))
        assert r.returncode == EXIT_OK, (k, r.stderr)
    assert run("create", f"{tmp}/queue").returncode == EXIT_OTHER  # exists
    objs = ls_json(tmp)
    assert {n: o["kind"] for n, o in objs.items()} == {k: k for k in kinds}
    assert all(o["state"] == "ok" for o in objs.values())
    for k in kinds:
        r = run("stat", f"{tmp}/{k}", "--json")
        assert r.returncode == EXIT_OK, (k, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["header"]["kind"] == k and doc["header"]["creator_state"] == "dead"
    assert json.loads(run("stat", f"{tmp}/semaphore", "--json").stdout)["object"]["value"] == 1
    assert json.loads(run("stat", f"{tmp}/event", "--json").stdout)["object"]["set"] is False
    pipe = json.loads(run("stat", f"{tmp}/pipe", "--json").stdout)["object"]
    assert pipe["engine"] == "one-owner" and not pipe["closed_a"] and not pipe["closed_b"]
    assert run("rm", *[f"{tmp}/{k}" for k in kinds]).returncode == EXIT_OK
    assert os.listdir(tmp) == []


# ---- ls, stat, watch on live objects ----


def test_ls_and_stat_show_live_producer_and_consumer(tmp, procs):
    q = f"{tmp}/orders"
    assert run("create", q, "--capacity", 65536).returncode == EXIT_OK
    prod = peer(procs, "produce", q, 10**9, 1, 16, 64)
    cons = peer(procs, "consume", q, 10**9, 1, 16, 64)
    pids = {prod.pid, cons.pid}
    assert wait_for(lambda: {a["pid"] for a in ls_json(tmp)["orders"]["attached"]} >= pids)
    o = ls_json(tmp)["orders"]
    assert o["kind"] == "queue" and o["engine"] == "lanes" and o["capacity"] == 65536
    assert all(a["state"] == "alive" for a in o["attached"] if a["pid"] in pids)
    assert o["creator"]["state"] == "dead"  # the cli that created it has exited
    table = run("ls", tmp).stdout
    assert "orders" in table and f"{prod.pid}:alive" in table and f"{cons.pid}:alive" in table
    doc = json.loads(run("stat", q, "--json").stdout)
    assert {a["pid"] for a in doc["attached"]} >= pids
    assert doc["object"]["puts"] > 0
    # Counters move while the peers run.
    p1 = doc["object"]["puts"]
    assert wait_for(lambda: json.loads(run("stat", q, "--json").stdout)["object"]["puts"] > p1)


def test_ls_shows_a_stopped_holder_as_stopped_and_a_killed_one_as_dead(tmp, procs):
    q = f"{tmp}/sp"
    assert run("create", q, "--engine", "spsc").returncode == EXIT_OK
    h = peer(procs, "hold", q, "producer", 60)
    assert h.stdout.readline().strip() == "held"
    os.kill(h.pid, signal.SIGSTOP)
    assert wait_for(lambda: f"{h.pid}:stopped" in run("ls", tmp).stdout)
    os.kill(h.pid, signal.SIGKILL)
    h.wait(timeout=10)
    o = ls_json(tmp)["sp"]
    assert {"pid": h.pid, "state": "dead", "via": "producer"} in o["attached"]


def test_stat_shows_an_event_loop_poller_alive_then_dead(tmp, procs):
    q = f"{tmp}/evq"
    assert run("create", q).returncode == EXIT_OK
    assert run("create", f"{tmp}/lk", "--kind", "lock").returncode == EXIT_OK
    objs = ls_json(tmp)
    assert objs["evq"]["pollers"] == 0 and objs["lk"]["pollers"] is None
    assert json.loads(run("stat", f"{tmp}/lk", "--json").stdout)["pollers"] is None
    p = peer(procs, "poll", q, 60)  # Queue::fileno(), then sleeps
    assert p.stdout.readline().strip() == "polling"
    doc = json.loads(run("stat", q, "--json").stdout)
    assert doc["object"]["pollers"] == 1
    [slot] = doc["pollers"]
    assert slot["where"] == "not_empty" and slot["alive"] is True and int(slot["token"], 16) != 0
    assert slot["armed"] is True  # fileno() armed it on an empty queue; nothing was put since
    assert ls_json(tmp)["evq"]["pollers"] == 1
    lines = run("ls", tmp).stdout.splitlines()
    col = lines[0].split().index("POLLERS")
    assert next(ln for ln in lines if ln.startswith("evq ")).split()[col] == "1"
    text = run("stat", q).stdout
    assert "pollers:" in text
    assert any(slot["token"] in ln and "alive" in ln and "armed" in ln for ln in text.splitlines())
    p.kill()
    p.wait(timeout=10)
    # The slot keeps the dead poller's token until a notifier or a new
    # poller takes it back: stat probes it and says dead.
    doc = json.loads(run("stat", q, "--json").stdout)
    assert [(s["token"], s["alive"]) for s in doc["pollers"]] in ([], [(slot["token"], False)])
    if doc["pollers"]:
        assert any(slot["token"] in ln and "dead" in ln for ln in run("stat", q).stdout.splitlines())
    # A put pokes the armed slot, is refused, and frees it.
    assert run("put", q, "x").returncode == EXIT_OK
    doc = json.loads(run("stat", q, "--json").stdout)
    assert doc["pollers"] == [] and doc["object"]["pollers"] == 0
    assert ls_json(tmp)["evq"]["pollers"] == 0


def test_stat_shows_the_pollers_of_both_ends_of_a_pipe(tmp, procs):
    pp = f"{tmp}/evp"
    p = peer(procs, "poll-pipe", pp, 60)  # creates a shared-ends pipe, fileno() of both ends
    assert p.stdout.readline().strip() == "polling"
    doc = json.loads(run("stat", pp, "--json").stdout)
    assert doc["object"]["engine"] == "shared-ends" and doc["object"]["pollers"] == 2
    assert sorted(s["where"] for s in doc["pollers"]) == ["end a", "end b"]
    assert all(s["alive"] for s in doc["pollers"])
    assert ls_json(tmp)["evp"]["pollers"] == 2
    p.kill()
    p.wait(timeout=10)
    doc = json.loads(run("stat", pp, "--json").stdout)
    assert not any(s["alive"] for s in doc["pollers"])


def test_watch_prints_plain_lines_with_rates_when_not_a_terminal(tmp, procs):
    q = f"{tmp}/w"
    assert run("create", q, "--capacity", 65536).returncode == EXIT_OK
    peer(procs, "produce", q, 10**9, 1, 16, 64)
    peer(procs, "consume", q, 10**9, 1, 16, 64)
    r = run("watch", q, "--interval", 0.3, "--count", 3)
    assert r.returncode == EXIT_OK, r.stderr
    assert "\x1b[" not in r.stdout
    lines = r.stdout.splitlines()
    assert len(lines) == 4 and lines[0].split()[:4] == ["TIME", "NAME", "IN/s", "OUT/s"]
    rate = float(lines[-1].split()[2])
    assert rate > 0, lines


def test_watch_redraws_in_place_on_a_terminal(tmp):
    q = f"{tmp}/w"
    assert run("create", q).returncode == EXIT_OK
    master, slave = pty.openpty()
    try:
        p = subprocess.run([CLI, "watch", q, "--interval", "0.1", "--count", "2"], stdout=slave,
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == EXIT_OK
        out = os.read(master, 65536).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert out.count("\x1b[H\x1b[2J") == 2 and out.count("TIME") == 2


# ---- gc ----


def test_gc_removes_only_objects_every_holder_of_which_is_dead(tmp, procs):
    dead, live = f"{tmp}/dead", f"{tmp}/live"
    for q in (dead, live):
        assert run("create", q, "--engine", "spsc").returncode == EXIT_OK
    holders = [peer(procs, "hold", dead, "producer", 60), peer(procs, "hold", dead, "consumer", 60),
               peer(procs, "hold", live, "producer", 60)]
    for h in holders:
        assert h.stdout.readline().strip() == "held"
    r = run("gc", tmp, "--dry-run")
    assert r.returncode == EXIT_OK and r.stdout == ""
    for h in holders[:2]:
        os.kill(h.pid, signal.SIGKILL)
        h.wait(timeout=10)
    r = run("gc", tmp, "--dry-run")
    assert r.stdout == f"would remove {dead} (queue)\n"
    assert os.path.exists(dead)
    r = run("gc", tmp)
    assert r.returncode == EXIT_OK and r.stdout == f"removed {dead} (queue)\n"
    assert not os.path.exists(dead) and os.path.exists(live)


def test_gc_keeps_an_object_a_live_process_maps_or_flocks(tmp):
    mapped, locked, free = f"{tmp}/mapped", f"{tmp}/locked", f"{tmp}/free"
    for q in (mapped, locked, free):
        assert run("create", q).returncode == EXIT_OK
    # No holder recorded in the layout: only the /proc maps scan and the flock speak.
    with open(mapped, "rb") as f, open(locked, "rb") as g:
        m = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)
        fcntl.flock(g.fileno(), fcntl.LOCK_SH)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=())
        try:
            # The mapping and the flock are this test's process; the cli leaves
            # out only itself, so they count as live holders.
            r = run("gc", tmp, "--dry-run")
            assert r.stdout == f"would remove {free} (queue)\n", r.stdout
            assert run("gc", tmp).returncode == EXIT_OK
            assert os.path.exists(mapped) and os.path.exists(locked) and not os.path.exists(free)
        finally:
            child.kill()
            child.wait()
            m.close()
    assert run("gc", tmp).returncode == EXIT_OK
    assert os.listdir(tmp) == []


# ---- damaged and hostile files ----


def test_damaged_and_hostile_files_get_one_line_and_exit_3(tmp):
    good = f"{tmp}/good"
    assert run("create", good, "--engine", "spsc").returncode == EXIT_OK
    with open(good, "rb") as f:
        data = f.read()
    files = {
        "truncated": data[:100],
        "short": data[:4096],
        "garbage": os.urandom(4096),
        "empty": b"",
        "badversion": data[:8] + b"\x07\x00\x00\x00" + data[12:],
        "badsize": data[:40] + (1 << 40).to_bytes(8, "little") + data[48:],
        "badengine": data[:128 + 36] + (9).to_bytes(4, "little") + data[128 + 40:],
        # The ready word (offset 80) back at `initializing`: a creator that died mid-create.
        "initializing": data[:80] + bytes(4) + data[84:],
    }
    for name, content in files.items():
        with open(f"{tmp}/{name}", "wb") as f:
            f.write(content)
    os.symlink(good, f"{tmp}/link")
    os.mkfifo(f"{tmp}/fifo")
    for name in [*files, "link", "fifo"]:
        for args in (["stat", f"{tmp}/{name}"], ["get", f"{tmp}/{name}", "--timeout", "0"],
                     ["put", f"{tmp}/{name}", "x", "--timeout", "0"]):
            r = run(*args, timeout=10)
            assert r.returncode == EXIT_DAMAGED, (name, args, r.returncode, r.stderr)
            assert r.stderr.count("\n") == 1 and name in r.stderr, (name, r.stderr)
            assert r.stdout == ""
    # rm refuses what is not a shmring object and leaves it in place.
    for name in ("garbage", "empty", "link", "fifo"):
        assert run("rm", f"{tmp}/{name}").returncode == EXIT_DAMAGED
        assert os.path.lexists(f"{tmp}/{name}")
    # ls lists the damaged shmring files with their state, skips the rest.
    objs = ls_json(tmp)
    assert set(objs) == {"good", "truncated", "short", "badversion", "badsize", "badengine", "initializing"}
    assert objs["good"]["state"] == "ok"
    assert objs["initializing"]["state"] == "initializing"
    for name in ("truncated", "short", "badsize"):
        assert objs[name]["state"] == "damaged" and objs[name]["problem"], name
    # Another header version: another build's file, not necessarily damaged.
    assert objs["badversion"]["state"] == "incompatible" and objs["badversion"]["problem"]


def test_randomly_damaged_files_never_crash_or_hang(tmp):
    """Seeded byte and word damage to sound files of several kinds (header,
    layout and ring bytes, sometimes a truncation): every command ends with
    one of the documented exit codes, never a signal or a hang.
    SHMRING_CLI_SEED and SHMRING_CLI_MUTATIONS change the run."""
    rng = random.Random(int(os.environ.get("SHMRING_CLI_SEED", "1")))
    count = int(os.environ.get("SHMRING_CLI_MUTATIONS", "60"))
    bases = {}
    for k, extra in (("lanes", ["--engine", "lanes"]), ("mpmc", ["--engine", "mpmc"]), ("spsc", ["--engine", "spsc"]),
                     ("pipe", ["--kind", "pipe", "--one-owner"]), ("lock", ["--kind", "lock"]),
                     ("barrier", ["--kind", "barrier"]), ("dict", ["--kind", "dict"]), ("list", ["--kind", "list"])):
        p = f"{tmp}/base-{k}"
        assert run("create", p, "--capacity", 16384, *extra).returncode == EXIT_OK
        if k in ("lanes", "mpmc", "spsc"):
            assert run("put", p, "-", stdin="a\nbb\nccc\n").returncode == EXIT_OK
        with open(p, "rb") as f:
            bases[k] = f.read()
        os.unlink(p)
    victim = f"{tmp}/m"
    for i in range(count):
        b = bytearray(bases[rng.choice(sorted(bases))])
        for _ in range(rng.randint(1, 8)):
            lo, hi = rng.choice([(0, 128), (128, 1280), (0, 40000)])
            off = rng.randrange(lo, min(hi, len(b)))
            if rng.random() < 0.5:
                b[off] = rng.randrange(256)
            else:
                word = rng.choice([0, 1, 0xFFFFFFFF, 1 << 40, rng.getrandbits(64)])
                b[off:off + 8] = word.to_bytes(8, "little")
        if rng.random() < 0.1:
            b = b[:rng.randrange(len(b))]
        with open(victim, "wb") as f:
            f.write(bytes(b))
        for args in (["stat", victim, "--json"], ["ls", tmp], ["get", victim, "--timeout", "0", "-n", "3"],
                     ["watch", victim, "--count", "1"], ["gc", tmp, "--dry-run"]):
            r = run(*args, timeout=20)
            assert r.returncode in range(7), (i, args, r.returncode, r.stderr[-300:])
        os.unlink(victim)


# ---- bench ----


def test_bench_reports_throughput_and_round_trip():
    r = run("bench", "--seconds", 0.4, timeout=60)
    assert r.returncode == EXIT_OK, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("throughput: ") and "order checked" in lines[0]
    assert lines[1].startswith("round trip: ") and "every reply checked" in lines[1]
    assert float(lines[0].split()[1]) > 0
