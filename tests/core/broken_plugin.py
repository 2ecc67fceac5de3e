"""A plugin whose hook raises: ember must warn and go on."""

import ember


@ember.hookimpl
def ember_register_backends(register):
    raise RuntimeError("deliberately broken")
