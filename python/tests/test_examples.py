"""The tutorial programs in examples/python/, run as users run them.

Each program runs twice in a subprocess: as written (``from shmring import
...``) and with that one import line changed to ``from multiprocessing import
...`` (``import shmring as multiprocessing`` -> ``import multiprocessing``).
Both must exit 0 and print what the tutorial prints; the one exception is
scenario 3 under multiprocessing, which must fail with multiprocessing's
"Queue objects should only be shared between processes through inheritance".
After each run (and once every process the program started has exited)
nothing the program made may be left in /dev/shm.
"""
import ast
import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import shmring

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "python"))
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(shmring.__file__)))
SHM_DIR = "/dev/shm"
TIMEOUT = 60.0  # seconds for one program
SETTLE = 10.0  # seconds for what a program started to finish after it returned

FROM_LINE = re.compile(r"^from shmring import (?P<names>.+)$", re.M)
AS_LINE = re.compile(r"^import shmring as multiprocessing$", re.M)

VARIANTS = ["shmring", "multiprocessing"]


# ---- running a program -------------------------------------------------------------------

def example_path(filename):
    return os.path.join(EXAMPLES, filename)


def multiprocessing_source(path):
    """The program's text with its one shmring import line replaced by the
    multiprocessing one; checks that this line is the only mention."""
    with open(path) as f:
        text = f.read()
    found = FROM_LINE.findall(text) + AS_LINE.findall(text)
    assert len(found) == 1, "%s: expected exactly one shmring import line" % path
    text = FROM_LINE.sub(lambda m: "from multiprocessing import " + m.group("names"), text)
    text = AS_LINE.sub("import multiprocessing", text)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] != "shmring" for a in node.names), path
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "shmring", path
        elif isinstance(node, ast.Name):
            assert node.id != "shmring", "%s uses the name shmring beyond its import line" % path
    return text


def program(filename, variant, tmp_path):
    """The file to run for this variant: the example itself, or its
    multiprocessing twin written to tmp_path under the same name."""
    path = example_path(filename)
    assert os.path.isfile(path), path
    if variant == "shmring":
        return path
    twin = tmp_path / filename
    twin.write_text(multiprocessing_source(path))
    return str(twin)


def environment(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("EXAMPLE_START_METHOD", None)
    env["EXAMPLE_PAUSE"] = "0.01"
    env.update(extra)
    return env


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a reused id owned by someone else
        return False
    return True


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def leftovers(pid):
    """Auto-named segments made by process `pid` (shmring-py-<kind>-<pid>-<hex>)."""
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(SHM_DIR, "shmring-py-*-%d-*" % pid)))


class Run:
    def __init__(self, pid, returncode, stdout, stderr, seconds):
        self.pid = pid
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    @property
    def lines(self):
        return self.stdout.splitlines()

    def describe(self):
        return "exit status %r after %.2f s\n--- stdout\n%s--- stderr\n%s" % (
            self.returncode, self.seconds, self.stdout, self.stderr)


def run(path, tmp_path, args=(), env=None, after=None):
    """Runs `path` in its own session, waits for it and for every process it
    started (bounded), then checks that /dev/shm holds nothing of its.
    `after(run)` runs between the program's exit and those checks."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, path, *args], cwd=str(tmp_path), env=env or environment(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail("%s did not finish in %.0f s\n--- stdout\n%s--- stderr\n%s" % (path, TIMEOUT, stdout, stderr))
    result = Run(proc.pid, proc.returncode, stdout, stderr, time.monotonic() - start)
    try:
        if after is not None:
            after(result)
        # Everything the program started (its session) must end by itself.
        assert wait_for(lambda: not group_alive(proc.pid), SETTLE), (
            "processes started by %s still running %.0f s after it exited" % (path, SETTLE))
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    # The last user of an auto-named object removes it as it exits.
    assert wait_for(lambda: not leftovers(proc.pid), 1.0), (
        "left in %s by %s: %s" % (SHM_DIR, path, leftovers(proc.pid)))
    return result


def assert_ok(result):
    assert result.returncode == 0, result.describe()
    assert result.stderr == "", result.describe()


# ---- what each program must print ------------------------------------------------------------
#
# check_NN(path, tmp_path, variant) runs the program at `path` and checks it.

def check_01(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    assert r.lines == [
        "put 1", "put 2", "put 3",
        "full: True",
        "put(4, timeout=2) raised queue.Full after 2.0 s",
        "put_nowait(4) raised queue.Full at once",
        "the queue is full: not putting 4",
        "reader got 1", "reader got 2", "reader got 3",
        "ok",
    ], r.describe()


def check_02(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    assert r.lines == [
        "writer put A", "writer put B", "writer put C",
        "reader got A", "reader got B", "reader got C",
        "ok: the reader drained A B C",
    ], r.describe()


def check_03(path, tmp_path, variant):
    r = run(path, tmp_path)
    if variant == "shmring":
        assert_ok(r)
        assert r.lines == ["hello world", "ok"], r.describe()
    else:
        # multiprocessing refuses a plain Queue as a Pool task's argument.
        assert r.returncode != 0, r.describe()
        assert ("RuntimeError: Queue objects should only be shared between processes through inheritance"
                in r.stderr), r.describe()
        assert "hello world" not in r.lines, r.describe()


def check_04(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    expected = []
    for i in range(20):
        if i % 2 == 0:
            expected.append("receiver: reading %d = %.3f" % (i, i * 1.5))
        else:
            expected.append("receiver: text 'plain text %d'" % i)
    expected.append("receiver: stopped after 10 JSON and 10 text messages")
    expected.append("ok: 20 messages, receiver stopped cleanly")
    assert r.lines == expected, r.describe()


def check_05(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    assert r.lines[-1:] == ["ok: ten messages from ten processes"], r.describe()
    assert sorted(r.lines[:-1]) == sorted("['hello%d']" % i for i in range(10)), r.describe()


def check_06(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    assert sorted(r.lines[:10]) == sorted("hello %d" % i for i in range(10)), r.describe()
    assert r.lines[10:] == ["EOF: every sender closed its end",
                            "ok: ten messages from ten processes, then EOF"], r.describe()


def check_07(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    lines = r.lines
    assert len(lines) == 21 and lines[-1] == "ok", r.describe()
    seen = []
    for k in range(10):
        first, second = lines[2 * k], lines[2 * k + 1]
        m = re.fullmatch(r"hello world (\d)", first)
        assert m, r.describe()
        # One at a time: nobody printed between this holder's two lines.
        assert second == "goodbye world " + m.group(1), r.describe()
        seen.append(int(m.group(1)))
    assert sorted(seen) == list(range(10)), r.describe()


def check_08(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    assert r.lines == ["285.0", str([-i for i in range(10)]), "ok"], r.describe()


def check_09(path, tmp_path, variant):
    r = run(path, tmp_path)
    assert_ok(r)
    assert r.lines == [str([(i, i * i) for i in range(10)]), "ok"], r.describe()


def check_10(path, tmp_path, variant):
    out = tmp_path / "received.txt"

    def children_finished(result):
        # The parent returned without joining: the receiver writes the file.
        assert wait_for(out.exists, SETTLE), "the receiver wrote nothing in %.0f s\n%s" % (
            SETTLE, result.describe())

    r = run(path, tmp_path, args=(str(out),), after=children_finished)
    assert_ok(r)
    assert r.lines == ["parent: started a sender and a receiver; exiting without joining them"], r.describe()
    assert out.read_text().splitlines() == ["message %d" % i for i in range(10)] + ["done"]


SCENARIOS = {
    "01_queue_full.py": check_01,
    "02_writer_reader.py": check_02,
    "03_pool_letters.py": check_03,
    "04_json_worker.py": check_04,
    "05_ten_putters.py": check_05,
    "06_pipe_ten_senders.py": check_06,
    "07_lock_print.py": check_07,
    "08_value_array.py": check_08,
    "09_dict_squares.py": check_09,
    "10_parent_exits.py": check_10,
}


# ---- the runs ------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("filename", sorted(SCENARIOS))
def test_example(filename, variant, tmp_path):
    """The program as written, and with the multiprocessing import line."""
    SCENARIOS[filename](program(filename, variant, tmp_path), tmp_path, variant)


START_METHODS = ["spawn", "forkserver"]
MAIN_LINE = re.compile(r'^if __name__ == "__main__":\n', re.M)


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("filename", sorted(SCENARIOS))
def test_example_other_start_methods(filename, method, tmp_path):
    """The program as written (shmring), with set_start_method(method) as the
    first statement of its main block: shmring objects reach spawned and
    forkserver children by pickling (Python's own pass these too, except 3,
    and 10, where the tutorial's FileNotFoundError appears under spawn)."""
    with open(example_path(filename)) as f:
        text = f.read()
    assert len(MAIN_LINE.findall(text)) == 1, filename
    text = MAIN_LINE.sub(lambda m: m.group(0) + "    from multiprocessing import set_start_method as _set_method\n"
                         "    _set_method(%r)\n" % method, text)
    twin = tmp_path / filename
    twin.write_text(text)
    SCENARIOS[filename](str(twin), tmp_path, "shmring")


# ---- the examples themselves ---------------------------------------------------------------

def test_every_example_has_one_import_line_to_change():
    files = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))
    assert files == sorted(SCENARIOS)
    for f in files:
        multiprocessing_source(example_path(f))


def test_readme_lists_every_example():
    with open(os.path.join(EXAMPLES, "README.md")) as f:
        readme = f.read()
    for f in os.listdir(EXAMPLES):
        if f.endswith(".py"):
            assert f in readme, f
