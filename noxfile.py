"""Ember's test matrix: ``nox`` runs lint, the numpy tests, conformance and isolation.

    nox -l                              # list the sessions
    nox                                 # the default ones: lint, tests(numpy), conformance, isolation
    nox -s "tests(backend='numpy')"     # tests/ on the NumPy backend (extra args go to pytest: -- -k conv)
    nox -s "tests(backend='cuda')"      # conformance + the package's tests; skips without CuPy or a GPU
    nox -s "tests(backend='mps')"       # conformance + the package's tests; skips when mlx won't import
    nox -s "tests(backend='native')"    # conformance + the package's tests; skips without a C compiler
    nox -s lint                         # ruff check
    nox -s conformance                  # pytest --pyargs ember.testing --ember-backend numpy
    nox -s isolation                    # a venv holding only ember-core: import, train, no cupy/mlx
    nox -s bench                        # pytest-benchmark against PyTorch CPU (slow; not a default)

Virtual environments live in .nox/ and are reused between runs (``-R`` skips reinstalling).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CORE = ROOT / "packages" / "core"
# The pure-Python packages that tests/ and benchmarks/ cover, with the extras their tests use.
# The GPU backends are installed only by their own tests(backend=...) session.
PACKAGES = ("core", "models[viz]", "cli[plot]")

nox.options.sessions = ["lint", "tests(backend='numpy')", "conformance", "isolation"]
nox.options.reuse_venv = "yes"

# Probes run inside a session's venv: print "OK" or the reason the backend can't be tested.
PROBES = {
    "cuda": (
        "try:\n"
        "    import cupy\n"
        "    n = cupy.cuda.runtime.getDeviceCount()\n"
        "    print('OK' if n > 0 else 'no CUDA device is visible')\n"
        "except Exception as e:\n"
        "    print(f'cupy is not usable: {type(e).__name__}: {e}')\n"
    ),
    "native": (
        "try:\n"
        "    import ember_native._kernels\n"
        "    print('OK')\n"
        "except Exception as e:\n"
        "    print(f'ember_native is not built (it needs a C compiler and Python headers): {e}')\n"
    ),
    "mps": (
        "try:\n"
        "    import mlx.core as mx\n"
        "    mx.eval(mx.ones(2) + 1)\n"
        "    print('OK')\n"
        "except Exception as e:\n"
        "    print(f'mlx is not importable: {type(e).__name__}: {e}')\n"
    ),
}


def install(session: nox.Session, *requirements: str, packages=("core",)) -> None:
    """Requirement files (-r) or PyPI packages, then the monorepo's packages in editable mode.

    A package folder without code yet (no src/) is skipped.
    """
    session.install("setuptools", "wheel")
    for req in requirements:
        if req.endswith(".txt"):
            session.install("-r", str(ROOT / req))
        else:
            session.install(req)
    editable = []
    for package in packages:
        folder, _, extra = package.partition("[")
        if (ROOT / "packages" / folder / "src").is_dir():
            editable += ["-e", str(ROOT / "packages" / folder) + (f"[{extra}" if extra else "")]
    session.install("--no-build-isolation", *editable)


def package_tests(backend: str) -> list[str]:
    """The test folder of a backend package, if it has one (tests/backend_NAME)."""
    return [str(p) for p in (ROOT / "tests" / f"backend_{backend}",) if p.is_dir()]


@nox.session
@nox.parametrize("backend", ["numpy", "cuda", "mps", "native"])
def tests(session: nox.Session, backend: str) -> None:
    """The test suite on one backend (numpy always runs; cuda, mps and native skip when unavailable)."""
    if backend == "numpy":
        install(session, "requirements-test.txt", packages=PACKAGES)
        session.run("pytest", *session.posargs)
        return

    package = ROOT / "packages" / f"backend-{backend}"
    if not (package / "src").is_dir():
        session.skip(f"ember-backend-{backend} has not landed yet: {package}/src does not exist")
    if backend == "cuda" and shutil.which("nvidia-smi") is None:
        session.skip("no NVIDIA GPU here (nvidia-smi is not on PATH); the cuda backend needs one")
    install(session, "pytest", "hypothesis", "scikit-learn", packages=("core", "models"))
    # The backend's heavy dependency (cupy, mlx) comes with its package; a failed install
    # means the platform has no wheel for it, which the probe below reports. Off macOS, MLX
    # runs on its CPU device, which the [cpu] extra (mlx[cpu]) provides.
    extra = {"mps": "" if sys.platform == "darwin" else "[cpu]", "cuda": "[cuda12]", "native": ""}[backend]
    session.install("--no-build-isolation", "-e", f"{package}{extra}", success_codes=[0, 1])
    verdict = (session.run("python", "-c", PROBES[backend], silent=True) or "").strip().splitlines()
    if not verdict or verdict[-1] != "OK":
        session.skip(f"the {backend} backend can't run here: {verdict[-1] if verdict else 'probe printed nothing'}")
    session.run("pytest", "--pyargs", "ember.testing", "--ember-backend", backend, *session.posargs,
                success_codes=[0, 5])
    if package_tests(backend):
        session.run("pytest", *package_tests(backend), *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check over the whole repository (settings in ruff.toml)."""
    session.install("ruff")
    session.run("ruff", "check", str(ROOT), *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """The backend conformance suite on the NumPy backend, as a third-party backend would run it."""
    install(session, "pytest", "hypothesis")
    session.run("pytest", "--pyargs", "ember.testing", "--ember-backend", "numpy", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against PyTorch CPU eager (pytest-benchmark), then the ratio table.

    NumPy's BLAS uses its own threads; torch is set to the same core count. If this machine
    sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, run `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nox -s bench`
    to time the BLAS kernel that a current NumPy would pick on its own.
    """
    install(session, "requirements-test.txt", packages=PACKAGES)
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    session.log(f"OPENBLAS variables in effect: {blas or 'none'}")
    session.run("pytest", str(ROOT / "benchmarks"), "--benchmark-only", "--benchmark-group-by=group",
                "--benchmark-columns=min,median,mean,stddev,rounds", *session.posargs)
    session.run("python", str(ROOT / "benchmarks" / "compare.py"))


@nox.session(reuse_venv=False)
def isolation(session: nox.Session) -> None:
    """A fresh venv with ONLY ember-core (and its own dependencies): import, train, no cupy/mlx."""
    # A regular (non-editable, build-isolated) install, so nothing else lands in the venv.
    session.install(str(CORE))
    session.run("python", "-m", "pip", "list", "--format=freeze")
    with tempfile.TemporaryDirectory() as tmp:  # away from the checkout, so only the install is importable
        session.chdir(tmp)
        session.run("python", str(ROOT / "tests" / "test_isolation.py"))
