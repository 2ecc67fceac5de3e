"""`ember` itself, `ember devices`, `ember plugins`: exit codes, stdout/stderr, help."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import venv

import pytest

from .conftest import clean_env, run_ember


def test_no_command_prints_help_and_exits_2(ember):
    r = ember()
    assert r.returncode == 2
    assert r.stdout == ""
    assert "usage: ember" in r.stderr


def test_unknown_command_is_a_usage_error(ember):
    r = ember("frobnicate")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("command", ["plugins", "devices", "config"])
def test_help_has_examples(ember, command):
    r = ember(command, "--help")
    assert r.returncode == 0
    assert "examples:" in r.stdout and f"ember {command}" in r.stdout


def test_devices_lists_numpy_and_missing_backends(ember):
    r = ember("devices")
    assert r.returncode == 0, r.stderr
    assert "numpy  [cpu]  available" in r.stdout
    data = json.loads(ember("devices", "--json").stdout)
    names = {b["name"]: b for b in data["backends"]}
    assert names["numpy"]["available"] and names["numpy"]["devices"]
    assert data["default_device"] == "cpu"
    for name, package in (("cuda", "ember-backend-cuda"), ("mps", "ember-backend-mps")):
        if names[name]["plugin"] is None:  # not installed: say what to install
            assert package in names[name]["reason"]


def test_plugins_lists_core_models_and_cli(ember):
    r = ember("plugins", "--json")
    assert r.returncode == 0, r.stderr
    rows = {p["name"]: p for p in json.loads(r.stdout)}
    assert rows["ember"]["distribution"] == "ember-core"
    assert "numpy" in rows["ember"]["registered"]["backends"]
    assert "AdamW" in rows["ember"]["registered"]["optimizers"]
    # ember-cli's own commands come through the commands hook like any plugin's
    assert rows["cli"]["distribution"] == "ember-cli"
    assert {"plugins", "devices", "config"} <= set(rows["cli"]["registered"]["commands"])
    assert "gpt2" in rows["models"]["registered"]["models"]


def test_broken_plugin_is_listed_with_its_error(ember, tmp_path):
    (tmp_path / "bad_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    env = clean_env(EMBER_PLUGINS="bad_plugin", PYTHONPATH=tmp_path)
    r = ember("plugins", env=env)
    assert r.returncode == 0
    assert "bad_plugin" in r.stdout and "BROKEN" in r.stdout and "boom at import" in r.stdout


def test_plugin_command_through_the_commands_hook(ember, tmp_path):
    (tmp_path / "hello_plugin.py").write_text(textwrap.dedent("""
        import ember

        def _run(args):
            print(f"hello {args.name}")
            return 3

        def _configure(subparsers):
            p = subparsers.add_parser("hello", help="say hello")
            p.add_argument("name")
            p.set_defaults(func=_run)

        @ember.hookimpl
        def ember_register_commands(register):
            register("hello", _configure)
    """))
    env = clean_env(EMBER_PLUGINS="hello_plugin", PYTHONPATH=tmp_path)
    r = ember("hello", "world", env=env)
    assert (r.returncode, r.stdout) == (3, "hello world\n")


@pytest.mark.slow
def test_plugins_shows_a_plugin_installed_in_a_temporary_environment(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "src" / "ember_testplug").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "ember-testplug"
        version = "1.2.3"

        [project.entry-points.ember]
        testplug = "ember_testplug"

        [tool.setuptools.packages.find]
        where = ["src"]
    """))
    (pkg / "src" / "ember_testplug" / "__init__.py").write_text(textwrap.dedent("""
        import ember
        from ember import nn

        class Twice(nn.Module):
            def forward(self, x):
                return 2 * x

        @ember.hookimpl
        def ember_register_layers(register):
            register("Twice", Twice)

        @ember.hookimpl
        def ember_register_optimizers(register):
            from ember.optim import SGD
            register("TestSGD", SGD)
    """))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # pip of the outer interpreter installs into the venv's site-packages (no network, no build isolation)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", site, str(pkg)], check=True, capture_output=True, env=clean_env())
    r = subprocess.run([str(python), "-m", "ember_cli", "plugins"], capture_output=True, text=True,
                       env=clean_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "testplug  (ember-testplug 1.2.3)" in r.stdout
    assert "layers (1): Twice" in r.stdout and "optimizers (1): TestSGD" in r.stdout
    # and it is not visible outside that environment
    assert "testplug" not in run_ember("plugins").stdout
