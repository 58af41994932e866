"""Type detection and image re-encoding, on real files written by the tests."""

import struct
from pathlib import Path

import pytest
from PIL import Image

from app.core.errors import ERROR_TABLE
from app.posts.covers import COVER_FIT
from app.uploads.errors import ImageTooLargeError, UnsupportedMediaTypeError
from app.uploads.media import detect, process_image
from app.users.avatars import AVATAR_FIT
from tests.utils.files import GPS_IFD, HTML, png_bomb, png_chunk, secret_exif

MINIMAL_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    b"0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n165\n%%EOF\n"
)
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


def write_image(
    path: Path, size: tuple[int, int], fmt: str, mode: str = "RGB", **kw: object
) -> Path:
    Image.new(mode, size, "red" if mode in ("RGB", "RGBA") else 1).save(path, fmt, **kw)
    return path


# -- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", ".png"),
        ("JPEG", "image/jpeg", ".jpg"),
        ("GIF", "image/gif", ".gif"),
        ("WEBP", "image/webp", ".webp"),
    ],
)
def test_detect_images_from_bytes_not_names(tmp_path: Path, fmt: str, mime: str, ext: str) -> None:
    # The misleading name shows the extension plays no part.
    path = write_image(tmp_path / "upload.pdf", (20, 10), fmt)
    detected = detect(path)
    assert (detected.mime, detected.ext, detected.kind) == (mime, ext, "image")


def test_detect_pdf_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "doc.png"
    path.write_bytes(MINIMAL_PDF)
    detected = detect(path, allow_pdf=True)
    assert (detected.mime, detected.ext, detected.kind) == ("application/pdf", ".pdf", "pdf")
    with pytest.raises(UnsupportedMediaTypeError, match="not PDF"):
        detect(path)


@pytest.mark.parametrize(
    "content",
    [
        MINIMAL_PDF.replace(b"%%EOF", b"%%END"),  # no trailer at all
        MINIMAL_PDF + b"%" * 2000,  # trailer not near the end
        b" " + MINIMAL_PDF,  # header not at offset 0
        b"<html><body>%PDF-1.4</body></html>" + MINIMAL_PDF,
        b"%PDF-x.y\n%%EOF\n",
    ],
)
def test_detect_rejects_bad_pdfs(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    with pytest.raises(UnsupportedMediaTypeError):
        detect(path, allow_pdf=True)


def _png_bytes(tmp_path: Path) -> bytes:
    return write_image(tmp_path / "real.png", (8, 8), "PNG").read_bytes()


@pytest.mark.parametrize(
    "make",
    [
        lambda png: HTML,
        lambda png: SVG,
        lambda png: b"just some text\n",
        lambda png: b"",
        lambda png: b"<script>alert(1)</script>" + png,  # polyglot: HTML first, PNG later
        lambda png: png[:8] + HTML,  # PNG signature, then HTML
        lambda png: png[:40],  # truncated inside the header
        lambda png: b"BM" + png,  # BMP signature: Pillow reads it, we do not allow it
    ],
    ids=["html", "svg", "text", "empty", "html-then-png", "png-sig-then-html", "cut", "bmp"],
)
def test_detect_rejects_everything_else(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "evil.png"
    path.write_bytes(make(_png_bytes(tmp_path)))
    with pytest.raises(UnsupportedMediaTypeError):
        detect(path, allow_pdf=True)
    with pytest.raises(UnsupportedMediaTypeError):
        process_image(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_errors_are_in_the_error_table() -> None:
    assert ERROR_TABLE[UnsupportedMediaTypeError] == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert ERROR_TABLE[ImageTooLargeError] == (413, "IMAGE_TOO_LARGE")


# -- metadata, orientation, size ------------------------------------------------------------


def test_jpeg_loses_exif_gps_comment_and_xmp(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), "green").save(
        src, "JPEG", exif=secret_exif(), comment=b"SECRETCOMMENT", xmp=b"<x:xmpmeta>SECRETXMP"
    )
    with Image.open(src) as original:  # the fixture really carries what we mean to strip
        assert original.getexif().get_ifd(GPS_IFD)
        assert original.info.get("comment") == b"SECRETCOMMENT"

    info = process_image(src, tmp_path / "out.jpg", fit=None)

    raw = (tmp_path / "out.jpg").read_bytes()
    for secret in (b"SECRETCAM", b"SECRETCOMMENT", b"SECRETXMP", b"Exif\x00\x00"):
        assert secret not in raw
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.format == "JPEG"
        assert len(out.getexif()) == 0
        assert not out.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "comment", "xmp", "icc_profile"} & out.info.keys()
    assert (info.mime, info.ext, info.width, info.height) == ("image/jpeg", ".jpg", 64, 48)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_lose_exif_and_text(tmp_path: Path, fmt: str) -> None:
    from PIL.PngImagePlugin import PngInfo

    extra: dict[str, object] = {"exif": secret_exif()}
    if fmt == "PNG":
        text = PngInfo()
        text.add_text("Author", "SECRETAUTHOR")
        extra["pnginfo"] = text
    src = write_image(tmp_path / "in", (30, 20), fmt, **extra)
    assert b"SECRETCAM" in src.read_bytes()

    process_image(src, tmp_path / "out")

    raw = (tmp_path / "out").read_bytes()
    assert b"SECRETCAM" not in raw
    assert b"SECRETAUTHOR" not in raw
    with Image.open(tmp_path / "out") as out:
        assert out.format == fmt
        assert len(out.getexif()) == 0


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Stored landscape, left half red and right half blue; Orientation 6 says "turn 90° clockwise".
    im = Image.new("RGB", (200, 100), "blue")
    im.paste("red", (0, 0, 100, 100))
    src = tmp_path / "rotated.jpg"
    im.save(src, "JPEG", exif=secret_exif(orientation=6), quality=95)

    info = process_image(src, tmp_path / "out.jpg", fit=None)

    assert (info.width, info.height) == (100, 200)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (100, 200)
        top, bottom = out.getpixel((50, 20)), out.getpixel((50, 180))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # red now on top
    assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_avatar_fit_keeps_aspect_ratio_and_format(tmp_path: Path, fmt: str) -> None:
    src = write_image(tmp_path / "big", (2000, 1000), fmt)
    info = process_image(src, tmp_path / "out", fit=AVATAR_FIT)
    assert (info.width, info.height) == (512, 256)
    with Image.open(tmp_path / "out") as out:
        assert out.format == fmt
        assert out.size == (512, 256)


def test_cover_fit_scales_a_large_jpeg(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cover.jpg", (3000, 4000), "JPEG")
    info = process_image(src, tmp_path / "out.jpg", fit=COVER_FIT)
    assert (info.width, info.height) == (1440, 1920)


def test_fit_never_enlarges(tmp_path: Path) -> None:
    src = write_image(tmp_path / "small.png", (100, 50), "PNG")
    info = process_image(src, tmp_path / "out.png", fit=AVATAR_FIT)
    assert (info.width, info.height) == (100, 50)


# -- modes ----------------------------------------------------------------------------------


def test_png_transparency_survives(tmp_path: Path) -> None:
    src = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 40), (255, 0, 0, 0)).save(src)
    process_image(src, tmp_path / "out.png", fit=None)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGBA"
        assert out.getpixel((5, 5))[3] == 0  # type: ignore[index]


def test_palette_gif_with_transparency_survives_a_resize(tmp_path: Path) -> None:
    src = tmp_path / "pal.gif"
    im = Image.new("P", (1024, 1024), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (512, 0, 1024, 1024))
    im.save(src, transparency=0)
    process_image(src, tmp_path / "out.gif", fit=AVATAR_FIT)
    with Image.open(tmp_path / "out.gif") as out:
        assert out.size == (512, 512)
        assert out.convert("RGBA").getpixel((10, 10))[3] == 0  # type: ignore[index]
        assert out.convert("RGBA").getpixel((500, 10))[:3] == (255, 0, 0)  # type: ignore[index]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    src = write_image(tmp_path / "print.jpg", (40, 30), "JPEG", mode="CMYK")
    process_image(src, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "RGB"


def test_animated_gif_keeps_its_first_frame(tmp_path: Path) -> None:
    src = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (30, 30), colour) for colour in ("red", "green", "blue")]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(src) as original:
        assert original.n_frames == 3
    process_image(src, tmp_path / "out.gif")
    with Image.open(tmp_path / "out.gif") as out:
        assert out.n_frames == 1
        assert out.convert("RGB").getpixel((1, 1)) == (255, 0, 0)


# -- refusals -------------------------------------------------------------------------------


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    src = png_bomb(tmp_path / "bomb.png", 20000, 20000)
    assert src.stat().st_size < 200_000  # tiny on disk, 400 million pixels decoded
    with pytest.raises(ImageTooLargeError, match="pixel dimensions"):
        process_image(src, tmp_path / "out.png", fit=AVATAR_FIT)
    assert not (tmp_path / "out.png").exists()


def test_pixel_cap_is_checked_before_decoding(tmp_path: Path) -> None:
    # 8000×8000 is under Pillow's own limit but over ours; the header is all that is read,
    # which the garbage IDAT proves: decoding it would fail with a different error.
    ihdr = struct.pack(">IIBBBBB", 8000, 8000, 8, 2, 0, 0, 0)
    src = tmp_path / "huge.png"
    src.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", b"garbage")
        + png_chunk(b"IEND", b"")
    )
    with pytest.raises(ImageTooLargeError, match="8000×8000"):
        process_image(src, tmp_path / "out.png")


def test_max_pixels_is_a_parameter(tmp_path: Path) -> None:
    src = write_image(tmp_path / "a.png", (100, 100), "PNG")
    with pytest.raises(ImageTooLargeError):
        process_image(src, tmp_path / "out.png", max_pixels=9_999)
    assert process_image(src, tmp_path / "out.png", max_pixels=10_000).width == 100


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_images_are_refused(tmp_path: Path, fmt: str) -> None:
    noise = Image.effect_noise((200, 200), 64).convert("RGB")
    full = tmp_path / "full"
    noise.save(full, fmt)
    cut = tmp_path / "cut"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(UnsupportedMediaTypeError):
        process_image(cut, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_trailing_payload_after_a_valid_image_is_not_stored(tmp_path: Path) -> None:
    src = tmp_path / "tail.png"
    src.write_bytes(_png_bytes(tmp_path) + HTML)
    process_image(src, tmp_path / "out.png")
    assert b"<script>" not in (tmp_path / "out.png").read_bytes()
