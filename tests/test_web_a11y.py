"""Accessibility rules every page keeps (WCAG 2.1 AA where a test can tell): the palette's
contrast ratios, landmarks, headings in order, a label on every form field, unique ids, a
language on every page, an accessible name on the picture, and no JavaScript."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import html as lxml_html
from test_web import BIRMINGHAM_MEETING, HUNTER, PAGES
from test_web_fixtures import add_upcoming, demo_sqlite, live_site, registry_with_deadline

from tracker.models import VoteValue
from tracker.settings import load_settings
from tracker.tokens import Tokens
from tracker.web_render import CONTRAST, PALETTE, contrast_ratio, relative_luminance


@pytest.mark.parametrize(("foreground", "background", "minimum"), CONTRAST)
def test_palette_contrast(foreground: str, background: str, minimum: float) -> None:
    ratio = contrast_ratio(PALETTE[foreground], PALETTE[background])
    assert ratio >= minimum, f"{foreground} on {background}: {ratio:.2f} < {minimum}"


def test_contrast_formula_matches_wcag_examples() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert relative_luminance("#ffffff") == pytest.approx(1.0)


def test_every_colour_the_stylesheet_uses_is_in_the_palette() -> None:
    import re

    from tracker.web import stylesheet_text

    css = stylesheet_text()
    used = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", css)}
    assert used <= {c.lower() for c in PALETTE.values()}


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[list[tuple[str, str]]]:
    with live_site(demo_sqlite(tmp_path / "db"), registry=registry_with_deadline(tmp_path)) as (
        base,
        engine,
    ):
        c = add_upcoming(engine)
        c.vote("9001", "1", {"1": VoteValue.YES, "2": VoteValue.NO, "3": VoteValue.ABSENT})
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get("/subscribe/")
            client.post("/subscribe/", data={"email": "x@example.org"})  # the expired-form page
        tokens = Tokens.from_settings(load_settings())
        extra = [
            "/subscribe/",
            "/subscribe/sent/",
            f"/confirm/{tokens.confirm(1, 'a@example.org')}",
            "/preferences/1.bad.token",
            "/j/nowhere/",
            "/j/seattle/people/1/",
            f"/j/birmingham-al/meetings/{BIRMINGHAM_MEETING}/",
            f"/j/birmingham-al/people/{HUNTER}/",
        ]
        found = []
        for path in PAGES + extra:
            for prefix in ("", "/es"):
                response = httpx.get(base + prefix + path, timeout=30)
                assert response.status_code in (200, 400, 404), path
                found.append((prefix + path, response.text))
        yield found


def _level(tag: str) -> int:
    return int(tag[1])


def test_landmarks_headings_and_labels(pages: list[tuple[str, str]]) -> None:
    for path, text in pages:
        doc = lxml_html.fromstring(text)
        assert doc.get("lang") in ("en", "es"), path
        assert (doc.findtext(".//title") or "").strip(), path
        assert len(doc.xpath("//header")) >= 1, path
        assert len(doc.xpath("//main")) == 1, path
        assert len(doc.xpath("//footer")) == 1, path
        for nav in doc.xpath("//nav"):
            assert nav.get("aria-label"), path  # two navs: each needs a name
        skip = doc.xpath("//a[@class='skip']/@href")
        assert skip == ["#main"], path
        assert doc.xpath("//main[@id='main']"), path
        levels = [
            _level(h.tag)
            for h in doc.xpath("//main//*[self::h1 or self::h2 or self::h3 or self::h4]")
        ]
        assert levels[:1] == [1], path
        assert levels.count(1) == 1, path
        for before, after in itertools.pairwise(levels):
            assert after <= before + 1, f"{path}: h{before} then h{after}"
        ids = doc.xpath("//@id")
        assert len(ids) == len(set(ids)), f"{path}: duplicate ids"
        for field in doc.xpath("//input | //select | //textarea"):
            if field.get("type") in ("hidden", "submit", "button"):
                continue
            named = field.get("id") and doc.xpath(f"//label[@for='{field.get('id')}']")
            wrapped = field.xpath("ancestor::label")
            assert named or wrapped or field.get("aria-label"), f"{path}: unlabelled field"
        for group in doc.xpath("//fieldset"):
            assert group.xpath("./legend"), path
        for link in doc.xpath("//a"):
            assert link.text_content().strip() or link.get("aria-label"), f"{path}: empty link"
        for image in doc.xpath("//img"):
            assert image.get("alt") is not None, path
        for svg in doc.xpath("//*[local-name()='svg']"):
            assert svg.get("role") == "img", path
            assert svg.get("aria-labelledby"), path
            for ref in svg.get("aria-labelledby").split():
                assert doc.xpath(f"//*[@id='{ref}']"), path
        assert not doc.xpath("//script"), path
        assert "onclick" not in text.lower(), path
        for table in doc.xpath("//table"):
            assert table.xpath("./caption"), path
            assert table.xpath(".//th"), path
