"""Ember's model zoo: GPT-2, ViT, BERT, CLIP, ResNet and a Llama-style transformer."""

from .registry import create, from_pretrained, get_spec, list_models, make_config  # noqa: F401

__version__ = "0.1.0"
