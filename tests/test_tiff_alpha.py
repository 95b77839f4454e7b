"""TIFF outputs store their alpha as unassociated (straight), as the colourised pixels are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from vidcolor.io.images import read_image, write_image


def test_half_transparent_colours_come_back_unchanged_from_a_tiff(tmp_path: Path) -> None:
    """Alpha marked premultiplied makes editors divide the colours by it: half-transparent pixels turn twice as bright."""
    rgb = np.empty((4, 6, 3), np.float32)
    rgb[...] = (0.4, 0.2, 0.1)
    alpha = np.full((4, 6), 0.5, np.float32)
    path = tmp_path / "out.tif"
    write_image(path, rgb, alpha, bit_depth=8)
    with tifffile.TiffFile(path) as tiff:
        assert tuple(tiff.pages[0].extrasamples) == (tifffile.EXTRASAMPLE.UNASSALPHA,)
    back = read_image(path)
    assert back.alpha is not None
    np.testing.assert_allclose(back.alpha, 0.5, atol=1 / 255)
    np.testing.assert_allclose(back.rgb, rgb, atol=1 / 255)
