"""A PEP 517 build backend for `pip install ./python`, standard library only.

It builds the extension target `shmring_python` of the project's CMake for
the interpreter that runs pip (so Debian's python3 and a separately
installed CPython each get their own build), then packs the staged package
(build/python/shmring: the .py files, the stubs and _shmring*.so) as a wheel.

Build directory: <checkout>/build-python-<tag> (configured on first use with
only the library and the extension), or an existing configured build given
with `--config-settings build-dir=DIR`; its extension must then have been
configured for an interpreter of the same ABI (checked).
"""
import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

NAME = "shmring"
VERSION = "0.1.0"
HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def _tag():
    impl = "cp%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (impl, impl, plat)


def _run(cmd):
    print("shmring_build:", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in cmd], check=True, stdout=sys.stderr)


def _build(config_settings):
    given = (config_settings or {}).get("build-dir")
    if given:
        build = pathlib.Path(given).resolve()
    else:
        build = ROOT / ("build-python-" + _tag())
        if not (build / "CMakeCache.txt").exists():
            gen = ["-G", "Ninja"] if shutil.which("ninja") else []
            _run(["cmake", "-S", ROOT, "-B", build, *gen, "-DCMAKE_BUILD_TYPE=Release", "-DSHMRING_BUILD_TESTS=OFF",
                  "-DSHMRING_BUILD_PERF=OFF", "-DSHMRING_BUILD_TOOLS=OFF", "-DSHMRING_BUILD_EXAMPLES=OFF",
                  "-DSHMRING_BUILD_PYTHON=ON", "-DPython_EXECUTABLE=" + sys.executable])
    _run(["cmake", "--build", build, "--target", "shmring_python", "-j", str(os.cpu_count() or 1)])
    stage = build / "python" / NAME
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if not (stage / ("_shmring" + suffix)).exists():
        raise RuntimeError("%s has no _shmring%s: that build is for another Python ABI than %s"
                           % (stage, suffix, sys.executable))
    return stage


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _metadata():
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: Python's multiprocessing toolbox over "
            "shared memory\nRequires-Python: >=3.9\n" % (NAME, VERSION))


def _wheel_file():
    return "Wheel-Version: 1.0\nGenerator: shmring_build\nRoot-Is-Purelib: false\nTag: %s\n" % _tag()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    stage = _build(config_settings)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    files = sorted(p for p in stage.iterdir()
                   if p.suffix in (".py", ".pyi") or p.name in ("py.typed", "_shmring" + suffix))
    wheel_name = "%s-%s-%s.whl" % (NAME, VERSION, _tag())
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    records = []
    path = pathlib.Path(wheel_directory) / wheel_name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in files:
            data = f.read_bytes()
            arc = "%s/%s" % (NAME, f.name)
            z.writestr(arc, data)
            records.append(_record_line(arc, data))
        for name, text in (("METADATA", _metadata()), ("WHEEL", _wheel_file())):
            arc = "%s/%s" % (dist_info, name)
            z.writestr(arc, text)
            records.append(_record_line(arc, text.encode()))
        records.append("%s/RECORD,," % dist_info)
        z.writestr("%s/RECORD" % dist_info, "\n".join(records) + "\n")
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = pathlib.Path(metadata_directory) / ("%s-%s.dist-info" % (NAME, VERSION))
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(_metadata())
    (dist_info / "WHEEL").write_text(_wheel_file())
    return dist_info.name
