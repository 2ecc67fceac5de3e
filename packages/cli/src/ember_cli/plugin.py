"""ember-cli's plugin: its subcommands register through the commands hook like any third party's."""

from __future__ import annotations

import ember


@ember.hookimpl
def ember_register_commands(register):
    from .commands import bench, config_cmd, devices, evaluate, generate, plugins_cmd, train

    register("plugins", plugins_cmd.configure)
    register("devices", devices.configure)
    register("config", config_cmd.configure)
    register("train", train.configure)
    register("generate", generate.configure)
    register("eval", evaluate.configure)
    register("bench", bench.configure)
