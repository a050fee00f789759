"""The kata editor's colours read at WCAG AA (4.5:1) in both of the site's palettes.

The colours live in one place, docs/assets/stylesheets/dojo.css, as custom properties: one block for
Material's light `default` scheme, one for its dark `slate` scheme. The highlight style in
dojo-editor.mjs names those properties and no colour of its own.
"""

import colorsys
import importlib.util
import re
from pathlib import Path

import pytest

from dojo import paths

STYLESHEET = paths.REPO / "docs" / "assets" / "stylesheets" / "dojo.css"
EDITOR = paths.REPO / "docs" / "assets" / "javascripts" / "dojo-editor.mjs"
PALETTES = {"default": ".dojo-try", "slate": '[data-md-color-scheme="slate"] .dojo-try'}
BACKGROUNDS = ("bg", "active-line")  # what text is drawn on; every other property is a text colour
AA = 4.5

RGB = tuple[float, float, float]


def hex_colour(text: str) -> RGB:
    digits = text.removeprefix("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    assert re.fullmatch(r"[0-9a-fA-F]{6}", digits), f"not a #rrggbb colour: {text}"
    return (int(digits[0:2], 16) / 255, int(digits[2:4], 16) / 255, int(digits[4:6], 16) / 255)


def luminance(colour: RGB) -> float:
    """WCAG 2's relative luminance of an sRGB colour."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one: RGB, other: RGB) -> float:
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def palette(scheme: str) -> dict[str, str]:
    """The `--dojo-code-*` properties that dojo.css sets for a Material colour scheme."""
    selector = re.escape(PALETTES[scheme])
    css = STYLESHEET.read_text(encoding="utf-8")
    blocks = re.findall(rf"^{selector}\s*\{{([^}}]*)\}}", css, re.MULTILINE)
    assert len(blocks) == 1, f"dojo.css must set the {scheme} palette once, in `{PALETTES[scheme]} {{…}}`"
    return dict(re.findall(r"--dojo-code-([a-z-]+):\s*([^;]+);", blocks[0]))


def material_code_background(scheme: str) -> RGB:
    """The theme's --md-code-bg-color for a scheme, read from the installed mkdocs-material."""
    spec = importlib.util.find_spec("material")
    assert spec is not None, "mkdocs-material is not installed"
    assert spec.origin is not None
    stylesheets = Path(spec.origin).parent / "templates" / "assets" / "stylesheets"
    main = "".join(path.read_text(encoding="utf-8") for path in stylesheets.glob("main.*.min.css"))
    palettes = "".join(path.read_text(encoding="utf-8") for path in stylesheets.glob("palette.*.min.css"))
    if scheme == "default":
        found = re.search(r"--md-code-bg-color:\s*(#[0-9a-fA-F]{3,6})", main)
        assert found, "mkdocs-material's light code background was not found"
        return hex_colour(found.group(1))
    hue = re.search(r"--md-hue:\s*([\d.]+)deg", main)
    found = re.search(r"--md-code-bg-color:\s*hsla\(var\(--md-hue\),\s*([\d.]+)%,\s*([\d.]+)%,\s*1\)", palettes)
    assert hue, "mkdocs-material's hue was not found"
    assert found, "mkdocs-material's slate code background was not found"
    saturation, lightness = float(found.group(1)) / 100, float(found.group(2)) / 100
    return colorsys.hls_to_rgb(float(hue.group(1)) / 360, lightness, saturation)


def named_by_editor() -> set[str]:
    return set(re.findall(r"""token\("([a-z-]+)"\)""", EDITOR.read_text(encoding="utf-8")))


def test_the_contrast_ratio_is_wcag_s() -> None:
    assert contrast(hex_colour("#000"), hex_colour("#fff")) == pytest.approx(21)
    assert contrast(hex_colour("#777777"), hex_colour("#ffffff")) == pytest.approx(4.48, abs=0.01)
    assert contrast(hex_colour("#123456"), hex_colour("#123456")) == 1


@pytest.mark.parametrize("scheme", PALETTES)
def test_every_editor_colour_reads_at_4_5_to_1_on_its_background(scheme: str) -> None:
    colours = palette(scheme)
    texts = {name: value for name, value in colours.items() if name not in BACKGROUNDS}
    assert named_by_editor() <= set(texts), "the highlight style names a colour this palette does not set"
    assert {"fg", "gutter"} <= set(texts)
    too_faint = [
        f"{name} {value} on {background} {colours[background]}: {ratio:.2f}:1"
        for name, value in texts.items()
        for background in BACKGROUNDS
        if (ratio := contrast(hex_colour(value), hex_colour(colours[background]))) < AA
    ]
    assert too_faint == []


@pytest.mark.parametrize("scheme", PALETTES)
def test_the_editor_background_is_the_theme_s_code_background(scheme: str) -> None:
    ours = hex_colour(palette(scheme)["bg"])
    theirs = material_code_background(scheme)
    assert all(abs(a - b) <= 1 / 255 for a, b in zip(ours, theirs, strict=True)), (scheme, ours, theirs)


def test_both_palettes_set_the_same_colours() -> None:
    assert set(palette("default")) == set(palette("slate"))


def test_the_editor_draws_with_the_palette_and_no_colour_of_its_own() -> None:
    editor = EDITOR.read_text(encoding="utf-8")
    assert "defaultHighlightStyle" not in editor
    assert re.findall(r"#[0-9a-fA-F]{3,6}\b|rgba?\(|hsla?\(", editor) == []
    assert named_by_editor() >= {"keyword", "string", "comment", "number"}
    css = STYLESHEET.read_text(encoding="utf-8")
    pane = re.search(r"^\.dojo-try__pane \{([^}]*)\}", css, re.MULTILINE)
    assert pane, "dojo.css has no `.dojo-try__pane {…}`"
    assert "background: var(--dojo-code-bg)" in pane.group(1)
    assert "color: var(--dojo-code-fg)" in pane.group(1)
