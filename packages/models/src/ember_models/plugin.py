"""ember-models' plugin: registers every model of the zoo through the models hook."""

from __future__ import annotations

import ember


@ember.hookimpl
def ember_register_models(register):
    from . import bert, clip, gpt2, llama, resnet, vit

    for module in (gpt2, llama, vit, resnet, bert, clip):
        module.register(register)
