"""Rendering a stored DICOM frame to a PNG for the image page.

The image page shows pixels rendered here, on the server, rather than shipping a DICOM viewer to the browser:
the doctors of the medical-insurance network open the links in whatever browser their workstation has, and
decoding JPEG, JPEG-LS, JPEG 2000 and RLE is left to maintained packages (pydicom's pixel handlers with the
pylibjpeg plugins and Pillow) instead of JavaScript codecs we would have to ship and keep up to date.

The pipeline is the one PS3.4 N.2 describes for display: decode one frame, apply the Modality LUT (Rescale
Slope/Intercept: CT pixels become Hounsfield units), then a window (a preset, the file's own Window
Center/Width, or the frame's range) or the centre and width the viewer asks for (dragging on the page),
MONOCHROME1 inverted; colour images are shown as they are (YBR is converted to RGB by the decoder, PALETTE
COLOR through its lookup table). The window actually applied is returned beside the picture, for the page
to show; an asked-for window outside `WINDOW_BOUNDS` is refused (`WindowRefused`), never clipped silently.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array


class Preset(StrEnum):
    """Window presets for CT, in Hounsfield units. `auto` is the file's own window, else the frame's range."""

    auto = "auto"
    soft_tissue = "soft-tissue"
    lung = "lung"
    bone = "bone"
    brain = "brain"


@dataclass(frozen=True)
class Window:
    center: float
    width: float


# Common radiology values (centre, width); the names are what the page shows.
CT_PRESETS: dict[Preset, tuple[str, Window | None]] = {
    Preset.auto: ("默认", None),
    Preset.soft_tissue: ("软组织", Window(40, 400)),
    Preset.lung: ("肺窗", Window(-600, 1500)),
    Preset.bone: ("骨窗", Window(400, 1800)),
    Preset.brain: ("脑窗", Window(40, 80)),
}


# What a window asked for by the viewer may be, in the units after the Modality LUT. Wide enough for any
# stored value of up to 32 bits once rescaled; the width at least 1 (PS3.3 C.11.2.1.2.1).
WINDOW_BOUNDS = {"center": (-(2.0**31), 2.0**32), "width": (1.0, 2.0**33)}


class RenderError(Exception):
    """A frame that cannot be shown: no pixel data, a frame number out of range, or a codec that failed."""


class WindowRefused(ValueError):
    """A window centre or width that is not a number, or is outside `WINDOW_BOUNDS`; `reason` in Chinese."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def asked_window(center: str | None, width: str | None) -> Window | None:
    """The window the viewer asks for (query parameters `wc`, `ww`), or None when it asks for none."""
    if center is None and width is None:
        return None
    values: dict[str, float] = {}
    for name, text in (("center", center), ("width", width)):
        low, high = WINDOW_BOUNDS[name]
        label = "窗位" if name == "center" else "窗宽"
        if text is None:
            raise WindowRefused(f"缺少{label}：窗位与窗宽须同时给出")
        try:
            value = float(text)
        except ValueError:
            raise WindowRefused(f"{label}不是数字") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise WindowRefused(f"{label}超出范围（{low:g} 至 {high:g}）")
        values[name] = value
    return Window(values["center"], values["width"])


@dataclass(frozen=True)
class Rendered:
    png: bytes
    window: Window | None  # the window applied; None for colour images, shown as they are


def render_png(path: Path | BinaryIO, frame: int = 0, preset: Preset = Preset.auto) -> bytes:
    """One frame of the Part 10 file at `path` (or open, seekable) as a PNG (8-bit grey or RGB)."""
    return render(path, frame, preset).png


def render(path: Path | BinaryIO, frame: int = 0, preset: Preset = Preset.auto, window: Window | None = None) -> Rendered:
    """One frame of the Part 10 file at `path` (or open, seekable) as a PNG, in `window` if given, else in
    `preset`'s, and the window applied."""
    header = Dataset()
    try:
        pixels = pixel_array(path, index=frame, ds_out=header)
    except (ValueError, IndexError, AttributeError, NotImplementedError, RuntimeError, KeyError) as error:
        raise RenderError(f"{type(error).__name__}: {error}") from error
    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2"))
    applied: Window | None = None
    if photometric == "PALETTE COLOR":
        coloured = apply_color_lut(pixels, header)
        image = _to_uint8(coloured, 16 if coloured.dtype == np.uint16 else 8)
    elif pixels.ndim == 3:  # samples per pixel 3: RGB (YBR already converted by the decoder)
        image = _to_uint8(pixels, int(header.get("BitsStored", 8)))
    else:
        values = apply_modality_lut(pixels, header).astype(np.float64)
        applied = window or CT_PRESETS.get(preset, ("", None))[1] or _own_window(header) or _range(values)
        image = _window(values, applied)
        if photometric == "MONOCHROME1":
            image = 255 - image
    buffer = io.BytesIO()
    # compress_level 1: a fifth of the default's time for a few percent more bytes, on a local network.
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", compress_level=1)
    return Rendered(buffer.getvalue(), applied)


def _range(values: np.ndarray) -> Window:
    """The window that spans the frame's values, as PS3.3's linear function reads it (inverse of `_window`)."""
    low, high = float(values.min()), float(values.max())
    return Window(center=(low + high) / 2 + 0.5, width=max(1.0, high - low + 1))


def _window(values: np.ndarray, window: Window) -> np.ndarray:
    # PS3.3 C.11.2.1.2.1, linear: centre - 0.5 and width - 1
    low = window.center - 0.5 - (window.width - 1) / 2
    high = window.center - 0.5 + (window.width - 1) / 2
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return (np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _own_window(header: Dataset) -> Window | None:
    center, width = header.get("WindowCenter"), header.get("WindowWidth")
    if center is None or width is None:
        return None
    center = center[0] if isinstance(center, MultiValue) else center
    width = width[0] if isinstance(width, MultiValue) else width
    try:
        return Window(float(center), float(width)) if float(width) >= 1 else None
    except (TypeError, ValueError):
        return None


def _to_uint8(pixels: np.ndarray, bits: int) -> np.ndarray:
    """Colour samples of more than 8 bits scaled to 8, by the largest value `bits` can hold."""
    if pixels.dtype == np.uint8:
        return pixels
    top = float(2**bits - 1)
    return (np.clip(pixels.astype(np.float64) / top, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
