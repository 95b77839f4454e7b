"""vidcolor: bring colour back to black-and-white video and photos.

Library use::

    from vidcolor import Colorizer, colorize_video, colorize_image

    colorizer = Colorizer.from_weights()          # the bundled model, on the GPU when there is one
    colorize_video("old.mp4", "colour.mp4", colorizer)
    colorize_image("old.jpg", "colour.png", colorizer)
"""

import cv2  # noqa: F401 - before PyAV: PyAV's own libxcb, loaded first, hangs OpenCV's Qt window (PyAV #978)

from .batch import colorize_tree
from .errors import ArgumentError, InputError, OutputError, VidcolorError, VidcolorWarning, WeightsError
from .io.encode import EncodeSettings
from .pipeline import ImageResult, VideoResult, colorize_image, colorize_video
from .resume import colorize_video_resumable
from .temporal import TemporalOptions
from .worker import Colorizer

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "Colorizer",
    "EncodeSettings",
    "ImageResult",
    "InputError",
    "OutputError",
    "TemporalOptions",
    "VidcolorError",
    "VidcolorWarning",
    "VideoResult",
    "WeightsError",
    "colorize_image",
    "colorize_tree",
    "colorize_video",
    "colorize_video_resumable",
]
