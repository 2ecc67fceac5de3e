"""Plugins: built-ins register like third parties; broken plugins warn; the EMBER_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ember
from ember import plugins

HERE = Path(__file__).parent


@pytest.fixture
def fresh_plugins(monkeypatch):
    """A plugin manager that forgets everything before and after the test."""
    plugins.reset()
    yield monkeypatch
    plugins.reset()


def test_numpy_backend_comes_from_the_builtin_plugin(fresh_plugins):
    entry = plugins.get("backends", "numpy")
    assert entry.plugin == "ember"
    info = {p.name: p for p in plugins.manager().plugins()}["ember"]
    assert info.distribution == "ember-core"
    assert "numpy" in info.registered["backends"]


def test_third_party_backend_and_layer_register_through_the_same_hooks(fresh_plugins):
    from tests.core import plugin_fixtures

    plugins.register(plugin_fixtures, name="plugin_fixtures")
    x = ember.ones(3, device="testdev:1")
    assert str(x.device) == "testdev:1" and x.device.backend.name == "testdev"
    assert plugins.get("layers", "TestDouble").obj is plugin_fixtures.TestDouble
    from ember.device import backends

    rows = {r["name"]: r for r in backends()}
    assert rows["testdev"]["available"] and rows["testdev"]["devices"][1].startswith("test device 1")
    assert not rows["never"]["available"]


def test_unknown_registry_kind_and_name(fresh_plugins):
    with pytest.raises(ValueError, match="unknown registry"):
        plugins.registry("widgets")
    with pytest.raises(KeyError, match="no backend named 'nope'.*numpy"):
        plugins.get("backends", "nope")


def test_broken_plugin_warns_and_strict_mode_raises(fresh_plugins):
    from tests.core import broken_plugin

    with pytest.warns(plugins.PluginWarning, match="broken_plugin.*deliberately broken"):
        plugins.register(broken_plugin, name="broken_plugin")
        plugins.registry("backends")
    assert ember.ones(1).tolist() == [1.0]  # the host is still up
    plugins.reset()
    fresh_plugins.setenv("EMBER_STRICT_PLUGINS", "1")
    with pytest.raises(plugins.PluginError, match="deliberately broken"):
        plugins.register(broken_plugin, name="broken_plugin")
        plugins.registry("backends")


def _run(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_ember_plugins_variable_registers_modules():
    result = _run("""
        import ember
        print(ember.ones(2, device="testdev").device)
    """, EMBER_PLUGINS="tests.core.plugin_fixtures")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "testdev:0"


def test_missing_plugin_module_warns():
    result = _run("""
        import warnings, ember
        warnings.simplefilter("always")
        print(ember.ones(1).tolist())
    """, EMBER_PLUGINS="no_such_module_xyz")
    assert result.returncode == 0, result.stderr
    assert "no_such_module_xyz" in result.stderr and "failed to import" in result.stderr


def _make_distribution(tmp_path: Path, dist: str, module: str, source: str) -> Path:
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    info = tmp_path / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[ember]\n{module} = {module}\n")
    return tmp_path


def test_entry_point_plugin_is_loaded_and_a_broken_one_names_its_distribution(tmp_path):
    _make_distribution(tmp_path, "ember-good-plugin", "good_plugin", """
        import ember
        from ember.numpy_backend import NumpyBackend

        @ember.hookimpl
        def ember_register_backends(register):
            register("good", NumpyBackend, device_types=("gooddev",))
    """)
    _make_distribution(tmp_path, "ember-bad-plugin", "bad_plugin", "raise ImportError('missing dependency xyz')\n")
    code = """
        import warnings, ember
        warnings.simplefilter("always")
        from ember import plugins
        print(ember.ones(1, device="gooddev").device)
        infos = {p.name: p for p in plugins.manager().plugins()}
        print(infos["good_plugin"].distribution, infos["good_plugin"].version, infos["good_plugin"].registered)
        print(infos["bad_plugin"].error)
    """
    result = _run(code, PYTHONPATH=f"{tmp_path}{os.pathsep}{HERE.parent.parent}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "gooddev:0"
    assert lines[1] == "ember-good-plugin 1.2.3 {'backends': ['good']}"
    assert "missing dependency xyz" in lines[2]
    assert "ember-bad-plugin" in result.stderr

    strict = _run(code, PYTHONPATH=f"{tmp_path}{os.pathsep}{HERE.parent.parent}", EMBER_STRICT_PLUGINS="1")
    assert strict.returncode != 0 and "ember-bad-plugin" in strict.stderr

    off = _run("""
        import ember
        from ember import plugins
        print(sorted(p.name for p in plugins.manager().plugins()))
    """, PYTHONPATH=f"{tmp_path}{os.pathsep}{HERE.parent.parent}", EMBER_DISABLE_PLUGIN_AUTOLOAD="1")
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "['ember']"


def test_every_hookspec_is_documented():
    from ember import hookspecs

    for kind in plugins.KINDS:
        spec = getattr(hookspecs, f"ember_register_{kind}")
        assert spec.__doc__ and "register" in spec.__doc__
