"""Batched inference: L in, ab out, on the GPU when there is one.

:class:`Colorizer` owns the generator and its device. It sees every frame at the render size
(default 256x256) and returns ab there; callers upsample ab onto their own full-resolution L
(see :mod:`vidcolor.merge`), so no detail of the source is ever lost.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .color import denormalize_ab, lab_to_rgb, normalize_l, rgb_to_lab
from .arguments import check_type, finite_number, whole_number
from .errors import ArgumentError, InputError, WeightsError
from .models import check_finite_weights, default_weights_path, load_generator


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cpu``, ``cuda`` and ``cuda:N`` (or a ``torch.device``)
    are taken as given, and a CUDA device this machine lacks is an :class:`ArgumentError`."""
    check_type("device", name, (str, torch.device))
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ArgumentError(f"unknown device {str(name)!r}; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ArgumentError(f"device {str(name)!r} was asked for, but no CUDA GPU is available; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ArgumentError(f"device {str(name)!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                            "from cuda:0")
    return device


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(N,C,H,W)`` (antialiased when shrinking); a no-op at the same size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrinking = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


# On the CPU, oneDNN runs the U-Net faster in channels_last than in NCHW, and faster again per frame
# when a call holds one or two 256x256 frames rather than eight (bigger calls spill the activations
# out of the caches): together ~2.3x at render size 256 (benchmarks/cpu_layout.py measures both).
CPU_PIXELS_PER_CALL = 2 * 256 * 256
# a photo's peak over the loaded model, benchmarks/memory.py --photo: 71 at 24 MP, rounded up for other formats
PHOTO_BYTES_PER_PIXEL = 80
# colorize_rgb's peak over the model and the array it is given: 35-47 measured (uint8, uint16, float), rounded up
ARRAY_BYTES_PER_PIXEL = 50
BAND_PIXELS = 1 << 21  # rows of a photo converted to and from Lab at a time (2 MP: ~100 MB of temporaries)


_MODEL_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_MODEL_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.Lock:
    """The lock that lets one thread at a time call ``model``: fastai's DynamicUnet keeps each call's encoder
    activations on the module (hooks), so two threads calling it at once would colour with each other's."""
    with _MODEL_LOCKS_GUARD:
        return _MODEL_LOCKS.setdefault(model, threading.Lock())


def use_all_cores() -> None:
    """Let torch use every core this process may run on, unless ``OMP_NUM_THREADS`` sets the count."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if torch.get_num_threads() < cores:
        torch.set_num_threads(cores)


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The reduced precision the model runs in on CUDA ``device``: bf16 where the GPU computes in it
    (compute capability 8.0 up, Ampere on, and ROCm), else fp16. Older GPUs (T4, V100) only emulate
    bf16 (``torch.cuda.is_bf16_supported()`` is True there) and cuDNN has no bf16 convolutions on them."""
    if torch.version.hip:
        return torch.bfloat16
    return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float16


class Colorizer:
    """A generator ready for inference on one device.

    On CUDA the model runs in channels_last with bf16 autocast (fp16 on GPUs before Ampere, see
    :func:`autocast_dtype`);
    on CPU it runs in float32, channels_last, a few frames per call (see ``CPU_PIXELS_PER_CALL``).
    The predicted ab is multiplied by ``calibration`` (the model's own colour scale) times
    ``saturation`` (the user's factor, 1 = as calibrated).

    A CPU Colorizer raises torch's thread count (``torch.set_num_threads``, process-wide) to the cores
    this process may use, unless ``OMP_NUM_THREADS`` is set: set it to share the cores with other work.
    Any number of threads may use one Colorizer (or several wrapping one model): the model runs one call at a time.
    """

    def __init__(self, model: nn.Module, device: str | torch.device = "auto", render_size: int = 256,
                 saturation: float = 1.0, *, calibration: float = 1.0, metadata: dict[str, Any] | None = None) -> None:
        check_type("model", model, nn.Module)
        render_size = whole_number("render_size", render_size, minimum=32)
        if render_size % 32:
            raise ArgumentError(f"render_size must be a multiple of 32, got {render_size}")
        self.device = resolve_device(device)
        self.render_size = render_size
        self.saturation = finite_number("saturation", saturation, minimum=0)
        self.calibration = finite_number("calibration", calibration, minimum=0)
        check_type("metadata", metadata, (dict, type(None)))
        check_finite_weights(model.state_dict())
        self.metadata = metadata or {}
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self._model_lock = model_lock(self.model)
        if self.device.type == "cuda":
            self._autocast_dtype = autocast_dtype(self.device)
        else:
            use_all_cores()

    @classmethod
    def from_weights(
        cls, weights: str | os.PathLike | None = None, *, calibrated: bool = True, saturation: float = 1.0, **options
    ) -> "Colorizer":
        """Load ``weights`` (or the bundled default model) and wrap it; ``options`` go to ``__init__``.

        ``saturation`` multiplies the colour strength calibrated for the model (``inference.saturation``
        in its metadata, see ``training/calibrate.py``); ``calibrated=False`` ignores the calibration.
        """
        check_type("weights", weights, (str, os.PathLike, type(None)))
        check_type("calibrated", calibrated, bool)
        path = Path(weights) if weights is not None else default_weights_path()
        model, metadata = load_generator(path)
        inference = metadata.get("inference", {})
        scale = 1.0
        if calibrated:  # a malformed inference block is reported below as a colour scale that is not a number
            scale = inference.get("saturation", 1.0) if isinstance(inference, dict) else inference
        try:
            calibration = finite_number("inference.saturation", scale, minimum=0)
        except (TypeError, ArgumentError) as error:
            raise WeightsError(f"{path}: its colour scale (inference.saturation = {scale!r}) is not a number from "
                               "0 up; recalibrate it (python -m training.calibrate; from Python, "
                               "Colorizer.from_weights(..., calibrated=False) ignores it)") from error
        return cls(model, saturation=saturation, calibration=calibration, metadata=metadata, **options)

    @torch.inference_mode()
    def predict_ab(self, lightness: torch.Tensor) -> torch.Tensor:
        """Predict ab (Lab units, saturation applied) at the render size for L ``(N,1,H,W)`` in [0, 100]."""
        size = (self.render_size, self.render_size)
        l_small = resize(lightness.to(self.device, torch.float32), size)
        l_norm = normalize_l(l_small).contiguous(memory_format=torch.channels_last)
        with self._model_lock:
            ab_norm = self._run_model(l_norm)
        return denormalize_ab(ab_norm.float()) * (self.calibration * self.saturation)

    def _run_model(self, l_norm: torch.Tensor) -> torch.Tensor:
        """Normalised ab for normalised L: one autocast call on CUDA, calls of a few frames on the CPU."""
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=self._autocast_dtype):
                return self.model(l_norm)
        frames_per_call = max(1, CPU_PIXELS_PER_CALL // (self.render_size * self.render_size))
        return torch.cat([self.model(chunk) for chunk in l_norm.split(frames_per_call)])

    @torch.inference_mode()
    def predict_full_size(self, rgb: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For one ``(H,W,3)`` image (float in [0, 1], or uint8/uint16; an array, or a torch tensor on any device):
        its own Lab L ``(1,1,H,W)`` and the predicted ab upsampled to it ``(1,2,H,W)``, on the model's device.
        ``ValueError`` for another shape or type."""
        rgb = _checked_rgb(rgb)
        height, width = rgb.shape[:2]
        lightness = torch.empty((1, 1, height, width), device=self.device)
        for band in row_bands(height, width):  # float copies of one band at a time, not of a whole 100 MP scan
            image = torch.from_numpy(_unit_rgb(rgb[band])).permute(2, 0, 1)[None].to(self.device)
            lightness[..., band, :] = rgb_to_lab(image)[:, :1]
        return lightness, resize(self.predict_ab(lightness), (height, width))

    @torch.inference_mode()
    def colorize_rgb(self, rgb: np.ndarray | torch.Tensor) -> np.ndarray:
        """Colourise one ``(H,W,3)`` image (float in [0, 1], or uint8/uint16; an array or a torch tensor) into
        float RGB in [0, 1]; its own Lab L is kept at full resolution. On the CPU, an :class:`InputError` for an
        image that needs more memory than is free (about :data:`ARRAY_BYTES_PER_PIXEL` a pixel)."""
        rgb = _checked_rgb(rgb)
        if self.device.type == "cpu":
            check_free_memory("the array", rgb.shape[1], rgb.shape[0], ARRAY_BYTES_PER_PIXEL)
        lightness, ab = self.predict_full_size(rgb)
        height, width = lightness.shape[-2:]
        colour = np.empty((height, width, 3), np.float32)
        for band in row_bands(height, width):
            lab = torch.cat([lightness[..., band, :], ab[..., band, :]], dim=1)
            colour[band] = lab_to_rgb(lab)[0].permute(1, 2, 0).cpu().numpy()
        return colour


def check_photo_memory(colorizer: Colorizer, path: Path, width: int, height: int) -> None:
    """:class:`InputError` when colouring a ``width`` x ``height`` photo on the CPU needs more memory than the
    system has free: a huge scan would otherwise be killed by the system half-way, without a word. About
    :data:`PHOTO_BYTES_PER_PIXEL` a pixel."""
    if colorizer.device.type == "cpu":
        check_free_memory(path, width, height, PHOTO_BYTES_PER_PIXEL)


def check_free_memory(name: str | os.PathLike, width: int, height: int, bytes_per_pixel: int,
                      work: str = "colouring") -> None:
    """:class:`InputError` naming ``name`` when ``work`` on a ``width`` x ``height`` picture, at ``bytes_per_pixel``,
    needs more memory than the system has free (RAM and swap, where the system says)."""
    free = free_memory_bytes()
    needed = bytes_per_pixel * width * height
    if free is None or needed <= free:
        return
    raise InputError(f"{os.fspath(name)} is {width}x{height} ({width * height / 1e6:.0f} MP): {work} it needs about "
                     f"{needed / 2**30:.1f} GB of memory and {free / 2**30:.1f} GB is free; close other programs "
                     "or use a smaller copy of it")


def free_memory_bytes() -> int | None:
    """Memory a process may still take: Linux's MemAvailable plus free swap; None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            fields = dict(line.split(":", 1) for line in info if ":" in line)
        return (int(fields["MemAvailable"].split()[0]) + int(fields.get("SwapFree", "0 kB").split()[0])) * 1024
    except (OSError, KeyError, ValueError):
        return None


def row_bands(height: int, width: int) -> list[slice]:
    """Rows of a ``height`` x ``width`` picture in bands of about :data:`BAND_PIXELS` pixels: the per-pixel
    colour maths of a photo runs band by band, so its float temporaries stay small (the result is the same)."""
    rows = max(1, BAND_PIXELS // max(width, 1))
    return [slice(top, min(top + rows, height)) for top in range(0, height, rows)]


def _checked_rgb(rgb: Any) -> np.ndarray:
    """``rgb`` as a numpy array (a torch tensor copied to the CPU, bfloat16 as float32), after checking it is one
    ``(H,W,3)`` image of floats, or of uint8/uint16 in either byte order."""
    if isinstance(rgb, torch.Tensor):
        rgb = rgb.detach().cpu()
        rgb = (rgb.float() if rgb.dtype == torch.bfloat16 else rgb).numpy()
    array = np.asarray(rgb)
    if array.dtype == object:
        found = "an array of Python objects" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise TypeError(f"expected an RGB image array of shape (H, W, 3), got {found}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected one RGB image of shape (H, W, 3), got shape {array.shape}")
    if not array.size:
        raise ValueError(f"expected an image of at least 1x1 pixels, got shape {array.shape}")
    if not (array.dtype.kind == "u" and array.dtype.itemsize <= 2) and array.dtype.kind != "f":
        raise ValueError(f"expected float values in [0, 1] or uint8/uint16, got {array.dtype}")
    return array


def _unit_rgb(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (checked by :func:`_checked_rgb`) as contiguous, writable float32 in [0, 1]: floats as they are
    (copied when read-only, which torch warns of), uint8 / 255, uint16 / 65535."""
    values = np.ascontiguousarray(rgb, dtype=np.float32)
    if rgb.dtype.kind == "u":
        return values / np.float32(2 ** (8 * rgb.dtype.itemsize) - 1)
    if not values.flags.writeable:
        values = values.copy()
    if not np.isfinite(values).all():
        found = "NaN" if np.isnan(values).any() else "infinite"
        raise ValueError(f"expected float values in [0, 1], got {found} values")
    if values.min() < -1e-3 or values.max() > 1 + 1e-3:
        raise ValueError("expected float values in [0, 1] (divide 8-bit values by 255), got "
                         f"{values.min():g} to {values.max():g}")
    return values
