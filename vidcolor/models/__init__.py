"""Generators (by registry name), the PatchGAN discriminator and the checkpoint format."""

from . import generators as _generators  # noqa: F401  (registers the architectures)
from ._registry import GeneratorSpec, create_generator, generator_spec, list_generators, register_generator
from .checkpoint import check_finite_weights, default_weights_path, load_generator, read_metadata, save_generator, update_metadata
from .discriminator import PatchDiscriminator

__all__ = [
    "GeneratorSpec",
    "PatchDiscriminator",
    "check_finite_weights",
    "create_generator",
    "default_weights_path",
    "generator_spec",
    "list_generators",
    "load_generator",
    "read_metadata",
    "register_generator",
    "save_generator",
    "update_metadata",
]
