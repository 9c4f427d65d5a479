"""Builds the `brook` module with pip, compiling brook's sources into it:

    pip install ./bindings/python                          # with a package index
    pip install --no-build-isolation ./bindings/python     # without (Debian: python3-pybind11)

Needs liblmdb-dev, libzmq3-dev, cppzmq-dev and libmsgpack-cxx-dev
(scripts/install-deps.sh installs them). The top-level CMake builds the same
module with -DBROOK_BUILD_PYTHON=ON.
"""
import glob
import os

from pybind11.setup_helpers import Pybind11Extension, ParallelCompile, build_ext
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

if not os.path.exists(os.path.join(ROOT, "include", "brook", "producer.h")):
    raise SystemExit(f"setup.py: brook's sources are not at {ROOT}; build from a checkout "
                     "of brook (pip install ./bindings/python from its top directory)")

sources = [os.path.join(HERE, "brook_module.cc")]
for part in ("common", "journal", "node"):
    sources += sorted(glob.glob(os.path.join(ROOT, part, "*.cc")))

ParallelCompile("NPY_NUM_BUILD_JOBS", default=0).install()  # all cores

setup(
    name="brook",
    version="0.1.0",
    description="Brokerless, durable publish/subscribe (LMDB journal, ZeroMQ transport)",
    ext_modules=[
        Pybind11Extension(
            "brook._brook",
            sources,
            include_dirs=[ROOT, os.path.join(ROOT, "include")],
            define_macros=[("BROOK_STATIC", "1")],
            libraries=["lmdb", "zmq"],
            cxx_std=17,
        )
    ],
    packages=["brook"],
    package_dir={"brook": "brook"},
    package_data={"brook": ["__init__.pyi", "py.typed"]},
    cmdclass={"build_ext": build_ext},
    zip_safe=False,
    python_requires=">=3.9",
)
