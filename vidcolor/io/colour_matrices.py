"""The Y'CbCr matrices by FFmpeg's colour-space code (AVCOL_SPC_*, H.273 MatrixCoefficients), without torch:
which codes a stream may state (the decoder) and their coefficients (the chroma merge); and the codes of the
sample ranges (AVCOL_RANGE_*)."""

from __future__ import annotations

RGB = 0  # AVCOL_SPC_RGB: the stream holds R'G'B', not Y'CbCr
BT709 = 1
SMPTE170M = 6  # BT.601 (525 lines); BT.470BG (5) has the same coefficients
YCGCO = 8  # Y = (R + 2G + B) / 4, Cg = G - Y, Co = (R - B) / 2

# sample ranges by FFmpeg's colour-range code (AVCOL_RANGE_*)
MPEG_RANGE = 1  # limited range: 16-235 at 8 bits
JPEG_RANGE = 2  # full range

# (Kr, Kb) of each code with a Y'CbCr matrix of its own: BT.709, FCC, BT.470BG, SMPTE 170M, SMPTE 240M,
# BT.2020 (non-constant and constant luminance; the latter, which swscale does not convert, made as non-constant)
COEFFICIENTS: dict[int, tuple[float, float]] = {
    BT709: (0.2126, 0.0722),
    4: (0.30, 0.11),
    5: (0.299, 0.114),
    SMPTE170M: (0.299, 0.114),
    7: (0.212, 0.087),
    9: (0.2627, 0.0593),
    10: (0.2627, 0.0593),
}
KNOWN = frozenset(COEFFICIENTS) | {YCGCO}  # the codes a stream's matrix is taken from as they are
HD_LINES = 720  # players assume BT.709 from this frame height, BT.601 below


def assumed_matrix(height: int) -> int:
    """The code of the matrix players assume for an untagged frame ``height`` lines high."""
    return BT709 if height >= HD_LINES else SMPTE170M


def stated_matrix(colorspace: int, height: int) -> int:
    """The stream's Y'CbCr matrix code, or for an unspecified or unknown one the code of the matrix players
    assume for the height (BT.709 from 720 lines, BT.601 below): the output is tagged with it, so that every
    player and converter (swscale, which takes BT.601 for any untagged size) shows the colour it was made for."""
    return colorspace if colorspace in KNOWN else assumed_matrix(height)
