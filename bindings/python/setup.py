"""Builds the polysock package: its Python files, the native backend
polysock._native (polysock/_native.c linked statically with libpolysock.a)
and a copy of libpolysock.so for the ctypes backend.

The library comes from `cargo build --release` in the repository this folder
sits in (so `pip install bindings/python` needs Rust's cargo and a C
compiler, nothing else), or, when POLYSOCK_LIB_DIR is set, from that
directory (libpolysock.a and libpolysock.so already built; cargo is not
run). Build files go to <cargo target dir>/python-build (POLYSOCK_BUILD_BASE
overrides). On Pythons other than CPython only the ctypes backend is
installed.
"""

import os
import platform
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # bindings/python -> the repository

# What a Rust static library needs from the system (as `cargo rustc --
# --print native-static-libs` reports on Linux; libc comes by default).
RUST_SYSTEM_LIBS = ["gcc_s", "util", "rt", "pthread", "m", "dl"]

CPYTHON = platform.python_implementation() == "CPython"


def cargo_version():
    with open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8") as f:
        match = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    return match.group(1)


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def library_dir():
    """The directory holding libpolysock.a and libpolysock.so, building
    them with cargo unless POLYSOCK_LIB_DIR names one."""
    given = os.environ.get("POLYSOCK_LIB_DIR")
    if given:
        return given
    if shutil.which("cargo") is None:
        sys.exit("polysock: building needs Rust's cargo on PATH (or POLYSOCK_LIB_DIR "
                 "set to a directory holding libpolysock.a and libpolysock.so)")
    subprocess.check_call(["cargo", "build", "--release"], cwd=ROOT)
    return os.path.join(target_dir(), "release")


def include_dir(lib_dir):
    """The header cargo generated for this platform, else the committed one."""
    built = os.path.join(lib_dir, "include")
    if os.path.isfile(os.path.join(built, "polysock.h")):
        return built
    return os.path.join(ROOT, "include")


def link_options(lib_dir):
    """How polysock._native is compiled and linked beyond what setuptools
    does for any extension of this Python."""
    return {
        "include_dirs": [include_dir(lib_dir)],
        "extra_objects": [os.path.join(lib_dir, "libpolysock.a")],
        "libraries": RUST_SYSTEM_LIBS,
        # Only PyInit__native is exported; the Rust code's unused parts go.
        "extra_link_args": ["-Wl,--exclude-libs,ALL", "-Wl,--gc-sections", "-Wl,--strip-debug"],
    }


class BuildWithLibrary(build_ext):
    """build_ext that first gets the library (cargo), links the native
    module with it and puts libpolysock.so into the package."""

    def run(self):
        lib_dir = library_dir()
        if CPYTHON:
            for ext in self.extensions:
                for name, value in link_options(lib_dir).items():
                    setattr(ext, name, value)
        else:
            self.extensions[:] = []
        super().run()
        if not self.inplace:
            package = os.path.join(self.build_lib, "polysock")
            os.makedirs(package, exist_ok=True)
            shutil.copyfile(os.path.join(lib_dir, "libpolysock.so"),
                            os.path.join(package, "libpolysock.so"))


def build_base():
    base = os.environ.get("POLYSOCK_BUILD_BASE") or os.path.join(target_dir(), "python-build")
    os.makedirs(base, exist_ok=True)
    return base


if __name__ == "__main__":
    os.chdir(HERE)
    setup(
        version=cargo_version(),
        packages=["polysock"],
        # Replaced in BuildWithLibrary.run once the library exists. Always
        # present, so build_ext runs (it ships libpolysock.so) and the wheel
        # is tagged for this platform.
        ext_modules=[Extension("polysock._native", sources=[os.path.join("polysock", "_native.c")])],
        cmdclass={"build_ext": BuildWithLibrary},
        exclude_package_data={"polysock": ["*.c"]},
        options={"build": {"build_base": build_base()}, "egg_info": {"egg_base": build_base()}},
        zip_safe=False,
    )
