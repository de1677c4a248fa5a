"""Rendering for the image page: every modality and transfer syntax mie accepts decodes to a PNG that shows something."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from mie.service.render import (
    CT_PRESETS,
    WINDOW_BOUNDS,
    Preset,
    RenderError,
    Window,
    WindowRefused,
    asked_window,
    render,
    render_png,
)

# name -> (transfer syntax it is in, PNG mode expected)
FILES = {
    "CT_small.dcm": ("1.2.840.10008.1.2.1", "L"),
    "MR_small.dcm": ("1.2.840.10008.1.2.1", "L"),
    "SC_rgb_jpeg_dcmtk.dcm": ("1.2.840.10008.1.2.4.50", "RGB"),  # JPEG baseline, YBR
    "JPGExtended.dcm": ("1.2.840.10008.1.2.4.51", "L"),  # JPEG extended, 12 bits
    "SC_rgb_jpeg_gdcm.dcm": ("1.2.840.10008.1.2.4.70", "RGB"),  # JPEG lossless
    "MR_small_jpeg_ls_lossless.dcm": ("1.2.840.10008.1.2.4.80", "L"),  # JPEG-LS
    "MR_small_jp2klossless.dcm": ("1.2.840.10008.1.2.4.90", "L"),  # JPEG 2000 lossless
    "JPEG2000.dcm": ("1.2.840.10008.1.2.4.91", "L"),  # JPEG 2000
    "693_J2KI.dcm": ("1.2.840.10008.1.2.4.91", "L"),  # a CT in JPEG 2000
    "SC_rgb_rle.dcm": ("1.2.840.10008.1.2.5", "RGB"),  # RLE
    "MR_small_RLE.dcm": ("1.2.840.10008.1.2.5", "L"),
    "SC_rgb_rle_16bit.dcm": ("1.2.840.10008.1.2.5", "RGB"),
    "examples_palette.dcm": ("1.2.840.10008.1.2.1", "RGB"),  # PALETTE COLOR
}


def pydicom_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, f"pydicom's test file {name} is missing"
    return Path(path)


def decoded(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def assert_not_blank(image: Image.Image) -> None:
    pixels = np.asarray(image)
    assert pixels.std() > 5, "the rendered image is (nearly) one flat colour"


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_accepted_syntax_renders_to_a_png_that_is_not_blank(name: str) -> None:
    syntax, mode = FILES[name]
    path = pydicom_file(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == syntax
    image = decoded(render_png(path))
    assert image.mode == mode
    assert image.size == (ds.Columns, ds.Rows)
    assert_not_blank(image)


def test_the_ct_presets_window_hounsfield_units(tmp_path: Path) -> None:
    """CT_small's pixels are stored with Rescale Intercept -1024: the window applies to HU, not stored values."""
    path = pydicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    images = {preset: np.asarray(decoded(render_png(path, preset=preset)), dtype=np.int32) for preset in CT_PRESETS}
    assert len({image.tobytes() for image in images.values()}) == len(CT_PRESETS), "each preset gives another picture"
    bone = images[Preset.bone]
    # Air (below -1000 HU) is black in every window, and the brain window saturates everything above 80 HU.
    assert (bone[hu < -1000] == 0).all()
    assert (images[Preset.brain][hu > 81] == 255).all()
    assert (images[Preset.brain][hu < -1] == 0).all()
    for preset in CT_PRESETS:
        assert_not_blank(Image.fromarray(images[preset].astype(np.uint8)))


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    normal = np.asarray(decoded(render_png(pydicom_file("MR_small.dcm"))), dtype=np.int32)
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted_path = tmp_path / "mono1.dcm"
    ds.save_as(inverted_path)
    inverted = np.asarray(decoded(render_png(inverted_path)), dtype=np.int32)
    assert (normal + inverted == 255).all()


def test_each_frame_of_a_multiframe_instance_and_no_frame_beyond() -> None:
    path = pydicom_file("SC_rgb_rle_2frame.dcm")
    first, second = decoded(render_png(path, frame=0)), decoded(render_png(path, frame=1))
    assert np.asarray(first).tobytes() != np.asarray(second).tobytes()
    with pytest.raises(RenderError):
        render_png(path, frame=2)


def test_a_file_without_pixels_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError):
        render_png(pydicom_file("rtplan.dcm"))


def test_an_asked_window_is_applied_and_returned() -> None:
    """The viewer's window (dragged on the page) is applied as PS3.3's linear function; the window applied is
    returned whatever chose it: asked, preset, the file's own, or the frame's range."""
    ct, mr = pydicom_file("CT_small.dcm"), pydicom_file("MR_small.dcm")
    asked = render(ct, window=Window(40, 400))
    assert asked.window == Window(40, 400)
    assert asked.png == render_png(ct, preset=Preset.soft_tissue)  # the same window as the preset's
    assert render(ct, preset=Preset.lung, window=Window(40, 400)).png == asked.png  # asked wins over a preset
    assert render(ct, preset=Preset.lung).window == CT_PRESETS[Preset.lung][1]
    own = pydicom.dcmread(mr, stop_before_pixels=True)
    assert render(mr).window == Window(float(own.WindowCenter), float(own.WindowWidth))
    # CT_small has no window of its own: the frame's range, which reproduces the frame's full contrast
    ds = pydicom.dcmread(ct)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    spanned = render(ct)
    assert spanned.window == Window((hu.min() + hu.max()) / 2 + 0.5, hu.max() - hu.min() + 1)
    pixels = np.asarray(decoded(spanned.png))
    assert pixels[hu == hu.min()].max() == 0 and pixels[hu == hu.max()].min() == 255
    narrow = np.asarray(decoded(render(ct, window=Window(0, 1)).png))
    assert set(np.unique(narrow)) <= {0, 255}  # width 1: a threshold
    assert render(pydicom_file("SC_rgb_rle.dcm")).window is None  # colour is shown as it is, no window


@pytest.mark.parametrize(
    ("center", "width", "reason"),
    [
        ("40", None, "缺少窗宽"),
        (None, "400", "缺少窗位"),
        ("forty", "400", "窗位不是数字"),
        ("40", "", "窗宽不是数字"),
        ("nan", "400", "窗位超出范围"),
        ("40", "inf", "窗宽超出范围"),
        ("40", "0.5", "窗宽超出范围"),
        ("-1e10", "400", "窗位超出范围"),
        ("40", "1e12", "窗宽超出范围"),
    ],
)
def test_an_asked_window_out_of_bounds_is_refused(center: str | None, width: str | None, reason: str) -> None:
    with pytest.raises(WindowRefused) as refused:
        asked_window(center, width)
    assert reason in refused.value.reason


def test_asked_windows_within_bounds() -> None:
    assert asked_window(None, None) is None
    assert asked_window("-600", "1500") == Window(-600, 1500)
    assert asked_window("40.5", "1") == Window(40.5, 1)
    low, high = WINDOW_BOUNDS["center"]
    assert asked_window(str(low), str(WINDOW_BOUNDS["width"][1])) == Window(low, WINDOW_BOUNDS["width"][1])
    assert asked_window(str(high), "1").center == high
