"""The contrast arithmetic the accessibility tests rely on, against WCAG's own figures."""

from __future__ import annotations

import pytest

from tests import contrast

pytestmark = pytest.mark.unit


def test_black_on_white_is_21_to_1_and_a_colour_on_itself_1_to_1() -> None:
    assert contrast.ratio("#000", "#ffffff") == pytest.approx(21.0)
    assert contrast.ratio("#0b5cad", "#0b5cad") == pytest.approx(1.0)


def test_the_ratio_is_the_same_whichever_colour_is_the_text() -> None:
    assert contrast.ratio("#767676", "#fff") == contrast.ratio("#fff", "#767676")


@pytest.mark.parametrize(
    ("text", "background", "expected"),
    [
        ("#767676", "#ffffff", 4.54),  # the lightest grey that passes 4.5:1 on white
        ("#777777", "#ffffff", 4.48),  # and the next, which fails
        ("#c2d6eb", "#0b5cad", 4.48),  # the chat bubble's time, as found by axe
        ("#f2b632", "#ffffff", 1.82),  # the site's old focus ring, as found
        ("#7fb0e6", "#ffffff", 2.27),  # the console's old focus ring, as found
    ],
)
def test_known_pairs_give_the_ratios_axe_and_wcag_report(
    text: str, background: str, expected: float
) -> None:
    assert contrast.ratio(text, background) == pytest.approx(expected, abs=0.01)


def test_computed_styles_parse_and_translucent_colours_are_refused() -> None:
    assert contrast.parse("rgb(11, 92, 173)") == (11, 92, 173)
    assert contrast.parse("rgba(11, 92, 173, 1)") == (11, 92, 173)
    with pytest.raises(ValueError, match="translucent"):
        contrast.parse("rgba(0, 0, 0, 0.5)")
    with pytest.raises(ValueError, match="not a colour"):
        contrast.parse("transparent")
