"""Registry of generator architectures: each registered by name with a small config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

GeneratorBuilder = Callable[[bool, int], nn.Module]


@dataclass(frozen=True)
class GeneratorSpec:
    """What the registry knows about one architecture.

    ``build(pretrained, input_size)`` returns a generator mapping normalised L ``(N,1,H,W)`` to
    normalised ab ``(N,2,H,W)`` in [-1, 1].
    """

    name: str
    description: str
    build: GeneratorBuilder
    input_size: int = 256


_GENERATORS: dict[str, GeneratorSpec] = {}


def register_generator(name: str, description: str, input_size: int = 256) -> Callable[[GeneratorBuilder], GeneratorBuilder]:
    """Decorator registering ``build(pretrained, input_size)`` under ``name``."""

    def decorate(build: GeneratorBuilder) -> GeneratorBuilder:
        if name in _GENERATORS:
            raise ValueError(f"generator {name!r} is already registered")
        _GENERATORS[name] = GeneratorSpec(name, description, build, input_size)
        return build

    return decorate


def list_generators() -> list[str]:
    """Names of every registered generator, sorted."""
    return sorted(_GENERATORS)


def generator_spec(name: str) -> GeneratorSpec:
    """The spec registered under ``name``; ``ValueError`` listing valid names otherwise."""
    try:
        return _GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown generator {name!r}; choose one of: {', '.join(list_generators())}") from None


def create_generator(name: str, pretrained: bool = False, input_size: int | None = None) -> nn.Module:
    """Build the generator ``name``; ``pretrained`` loads ImageNet encoder weights where available."""
    spec = generator_spec(name)
    return spec.build(pretrained, input_size or spec.input_size)
