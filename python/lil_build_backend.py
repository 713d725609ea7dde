"""The build backend of `pip install .`: CMake builds the extension, and the
wheel is written here with the standard library alone.

Why not setuptools or scikit-build: pip builds in an isolated environment and
would download the backend named in pyproject.toml from PyPI; with no network
(and Debian's pip) that fails unless the user also turns build isolation off.
A backend that lives in the repository (PEP 517 ``backend-path``) and needs no
package makes a plain ``pip install .`` work offline in any virtual
environment, with only the build tools the C++ build already needs: cmake, a
C++17 compiler, python3-dev and python3-pybind11 (CMake finds its config).

What it does (PEP 517 hooks ``build_wheel`` and ``build_sdist``):
  1. configures the repository with CMake (LIL_BUILD_PYTHON=ON, everything else
     off, Release, Python_EXECUTABLE = the interpreter pip runs) in a temporary
     folder and builds the target ``_lil``;
  2. packs build/python/lil (the package sources and the extension, as the
     CMake build lays them out) into a wheel tagged for this interpreter and
     platform (PEP 427), with METADATA and RECORD.
Environment: CMAKE_BUILD_PARALLEL_LEVEL (default: the number of CPUs),
LIL_CMAKE_ARGS (extra arguments for the configure step, split on spaces).
"""

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "lil"
SUMMARY = ("Stop LLM decode loops when the output stops carrying information (Guardian), "
           "exact incremental DEFLATE sizes, sparse-attention KV policies")
# What an sdist carries: enough to build the wheel again.
SDIST_PATHS = ("CMakeLists.txt", "LICENSE", "README.md", "pyproject.toml", "cmake", "include", "src", "python")


def _version():
    # The one place the version is written: include/lil/config.hpp.
    with open(os.path.join(ROOT, "include", "lil", "config.hpp"), encoding="utf-8") as f:
        text = f.read()
    parts = [re.search(r"^#define LIL_VERSION_%s +([0-9]+)$" % p, text, re.M) for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        raise RuntimeError("lil_build_backend: no LIL_VERSION_MAJOR/MINOR/PATCH in include/lil/config.hpp")
    return ".".join(m.group(1) for m in parts)


def _tag():
    impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, sys.implementation.name[:2])
    py = f"{impl}{sys.version_info.major}{sys.version_info.minor}"
    abi = f"{py}{getattr(sys, 'abiflags', '')}" if impl == "cp" else "none"
    platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    return f"{py}-{abi}-{platform}"


def _metadata(version):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {NAME}",
        f"Version: {version}",
        f"Summary: {SUMMARY}",
        "License: Apache-2.0",
        "Requires-Python: >=3.8",
        "Description-Content-Type: text/markdown",
        "",
        "Python module of lil: Guardian, the exact DEFLATE engine, KV policies, and adapters for "
        "Hugging Face transformers, vLLM and SGLang. See docs/python.md in the repository.",
    ]
    return "\n".join(lines) + "\n"


def _run(cmd, cwd=None):
    print("lil_build_backend: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def _runs(candidate):
    try:
        subprocess.run([candidate, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, timeout=60)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


def _packaged_binary(script, name):
    """The real binary behind `script` when it is the console script of the
    Python package `name` (pip's "cmake" and "ninja" packages): the script's own
    interpreter, run outside pip's isolated build environment, says where the
    package keeps it."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode("utf-8", "replace")
    except OSError:
        return None
    if not first.startswith("#!") or "python" not in first:
        return None
    interpreter = first[2:].strip().split()[0]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME")}
    code = ("import os, {0}; d = getattr({0}, 'CMAKE_BIN_DIR', None) or getattr({0}, 'BIN_DIR'); "
            "print(os.path.join(d, '{0}'))").format(name)
    try:
        found = subprocess.run([interpreter, "-c", code], env=env, capture_output=True, text=True,
                               timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found if found and _runs(found) else None


def _working_tool(name):
    """The first `name` on PATH that runs. pip builds in an isolated
    environment, where a cmake or ninja that is a Python package's script
    (pip's "cmake" in a virtual environment's bin/) cannot import its package
    and fails: then the package's own binary is used, else the next on PATH."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which(name, path=folder) if folder else None
        if candidate is None:
            continue
        if _runs(candidate):
            return candidate
        behind = _packaged_binary(candidate, name)
        if behind:
            return behind
    return None


def _build_package(build_dir):
    """Runs CMake; returns the folder holding the built package lil/."""
    cmake = _working_tool("cmake")
    if cmake is None:
        raise RuntimeError("lil_build_backend: no working cmake on PATH (apt-get install cmake)")
    configure = [cmake, "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                 "-DLIL_BUILD_PYTHON=ON", "-DLIL_BUILD_TESTS=OFF", "-DLIL_BUILD_BENCH=OFF",
                 "-DLIL_BUILD_EXAMPLES=OFF", "-DLIL_BUILD_CLI=OFF", "-DLIL_INSTALL=OFF",
                 f"-DPython_EXECUTABLE={sys.executable}"]
    ninja = _working_tool("ninja")
    if ninja:
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    configure += os.environ.get("LIL_CMAKE_ARGS", "").split()
    _run(configure)
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
    _run([cmake, "--build", build_dir, "--target", "_lil", "--parallel", jobs])
    return os.path.join(build_dir, "python")


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    tag = _tag()
    dist_info = f"{NAME}-{version}.dist-info"
    wheel_name = f"{NAME}-{version}-{tag}.whl"
    build_dir = tempfile.mkdtemp(prefix="lil-wheel-")
    try:
        package_root = _build_package(build_dir)
        files = []
        for folder, _, names in os.walk(os.path.join(package_root, NAME)):
            for name in sorted(names):
                if name.endswith((".py", ".pyi", ".so", ".pyd")) or name == "py.typed":
                    path = os.path.join(folder, name)
                    files.append((os.path.relpath(path, package_root).replace(os.sep, "/"), path))
        if not any(arc.startswith(f"{NAME}/_lil") for arc, _ in files):
            raise RuntimeError("lil_build_backend: the build produced no extension lil/_lil")
        records = []
        target = os.path.join(wheel_directory, wheel_name)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
            for arcname, path in sorted(files):
                with open(path, "rb") as f:
                    data = f.read()
                wheel.writestr(arcname, data)
                records.append(_record_line(arcname, data))
            extra = {
                f"{dist_info}/METADATA": _metadata(version).encode(),
                f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: lil_build_backend\n"
                                       f"Root-Is-Purelib: false\nTag: {tag}\n").encode(),
                f"{dist_info}/top_level.txt": f"{NAME}\n".encode(),
            }
            with open(os.path.join(ROOT, "LICENSE"), "rb") as f:
                extra[f"{dist_info}/LICENSE"] = f.read()
            for arcname, data in extra.items():
                wheel.writestr(arcname, data)
                records.append(_record_line(arcname, data))
            records.append(f"{dist_info}/RECORD,,")
            wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
        return wheel_name
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = f"{NAME}-{version}"
    name = f"{base}.tar.gz"

    def keep(info):
        parts = info.name.split("/")
        if "__pycache__" in parts or info.name.endswith(".pyc"):
            return None
        return info

    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        for path in SDIST_PATHS:
            full = os.path.join(ROOT, path)
            if os.path.exists(full):
                tar.add(full, arcname=f"{base}/{path}", filter=keep)
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata(version).encode()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []
