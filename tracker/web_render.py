"""Rendering the public pages: Jinja2 with autoescape always on, in English or Spanish.

The strings go through the same Babel catalog and jinja2.ext.i18n setup as the e-mails
(templates/locale; :func:`tracker.digest.translations`), and the labels for categories,
directions, votes and results are the e-mails' own, so a page and a digest never name a thing
two ways. Dates are shown in each meeting's local time with Babel.

Links: templates name every page by its site path ("/j/seattle/") and :class:`Page` turns it
into an address: ``/es/j/seattle/`` on a Spanish page of the server, or a path relative to the
current file (``../../j/seattle/index.html``) in a static build, so the built folder works from
any host or straight from the disk. Forms that need the server (subscribe, search) point at
``public_base_url`` in a static build.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tracker.digest import (
    CATEGORY_LABELS,
    DIRECTION_LABELS,
    FREQUENCY_LABELS,
    N_,
    RESULT_LABELS,
    STANCE_LABELS,
    TEMPLATES_DIR,
    VOTE_LABELS,
    Renderer,
    translations,
)
from tracker.search import MARK_END, MARK_START

LANGUAGES = ("en", "es")
# Pages reached from e-mail links, shown in the subscriber's language unless asked otherwise.
TOKEN_PAGES = ("/confirm/", "/preferences/", "/unsubscribe/")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}

STATUS_LABELS = {
    "scheduled": N_("scheduled"),
    "rescheduled": N_("rescheduled"),
    "cancelled": N_("cancelled"),
    "held": N_("held"),
}
EFFECT_LABELS = {
    "expanded": N_("expanded cooperation"),
    "limited": N_("limited cooperation"),
}
DOCUMENT_LABELS = {
    "agenda": N_("agenda"),
    "minutes": N_("minutes"),
    "attachment": N_("attachment"),
    "packet": N_("agenda packet"),
    "video": N_("video"),
    "text": N_("text"),
}
BODY_KIND_LABELS = {
    "council": N_("council"),
    "committee": N_("committee"),
    "commission": N_("commission"),
    "other": N_("other body"),
}

# The site's colours. Every pair a page puts text (or a vote cell) on is listed in CONTRAST
# with the WCAG level it has to meet; tests/test_web_a11y.py computes the ratios.
PALETTE = {
    "text": "#1a1a1a",
    "muted": "#4a4a4a",
    "background": "#ffffff",
    "panel": "#f4f4f4",
    "link": "#0b4f9c",
    "accent": "#8a1c1c",
    "accent_text": "#ffffff",
    "highlight": "#fff4d6",
    "mark": "#ffe066",
    "border": "#6b6b6b",
    "expanded": "#9a3412",
    "limited": "#1e40af",
    "neutral_vote": "#d9d9d9",
    "absent": "#ffffff",
    "cell_text_dark": "#1a1a1a",
    "cell_text_light": "#ffffff",
    "focus": "#b45309",
}
# (foreground, background, minimum ratio): 4.5 for text (WCAG 1.4.3), 3 for shapes (1.4.11).
CONTRAST = (
    ("text", "background", 4.5),
    ("muted", "background", 4.5),
    ("text", "panel", 4.5),
    ("muted", "panel", 4.5),
    ("link", "background", 4.5),
    ("link", "panel", 4.5),
    ("link", "highlight", 4.5),
    ("text", "highlight", 4.5),
    ("muted", "highlight", 4.5),
    ("text", "mark", 4.5),
    ("accent_text", "accent", 4.5),
    ("accent", "background", 4.5),
    ("cell_text_light", "expanded", 4.5),
    ("cell_text_light", "limited", 4.5),
    ("cell_text_dark", "neutral_vote", 4.5),
    ("cell_text_dark", "absent", 4.5),
    ("expanded", "background", 3.0),
    ("limited", "background", 3.0),
    ("border", "background", 3.0),
    ("border", "neutral_vote", 3.0),
    ("focus", "background", 3.0),
)

# What each vote cell of the picture shows besides its colour (WCAG 1.4.1: never colour alone).
VOTE_SYMBOLS = {
    "yes": "✓",
    "no": "✗",
    "abstain": "–",
    "recused": "R",
    "absent": "A",
    "excused": "E",
    "present": "P",
    "not_voting": "·",
}


@dataclass(frozen=True)
class Page:
    """Where a page is (its site path and language) and how its links are written."""

    lang: str
    path: str
    static: bool = False
    base_url: str = ""
    query: str = ""

    @staticmethod
    def prefix(lang: str) -> str:
        return "/es" if lang == "es" else ""

    def href(self, target: str, *, lang: str | None = None, localized: bool = True) -> str:
        """The address of ``target`` (a site path, maybe with #fragment) from this page."""
        target, hashmark, fragment = target.partition("#")
        full = (self.prefix(lang or self.lang) if localized else "") + target
        if self.static:
            here = _file(self.prefix(self.lang) + self.path)
            full = posixpath.relpath(_file(full), posixpath.dirname(here) or "/")
        return full + hashmark + fragment

    def server(self, target: str, *, lang: str | None = None) -> str:
        """An address on the running server: forms that a static copy cannot answer."""
        full = self.prefix(lang or self.lang) + target
        if not self.static:
            return full
        return self.base_url.rstrip("/") + full

    def asset(self, name: str) -> str:
        return self.href("/static/" + name, localized=False)

    def switch(self, lang: str) -> str:
        """This page in another language."""
        link = self.href(self.path, lang=lang)
        if self.static:
            return link
        query = [p for p in self.query.split("&") if p and not p.startswith("lang=")]
        if lang == "en" and self.path.startswith(TOKEN_PAGES):
            query.append("lang=en")  # else the page follows the subscriber's own language
        return link + ("?" + "&".join(query) if query else "")

    def absolute(self, target: str) -> str:
        return self.base_url.rstrip("/") + self.prefix(self.lang) + target

    def at(self, path: str) -> Page:
        return replace(self, path=path, query="")


def _file(path: str) -> str:
    return path + "index.html" if path.endswith("/") else path


def highlight(snippet: str) -> Markup:
    """A search snippet with its matched words in <mark>; everything else escaped."""
    first, *marked = snippet.split(MARK_START)
    out = escape(first)
    for part in marked:
        word, _, rest = part.partition(MARK_END)
        out += Markup("<mark>{}</mark>{}").format(word, rest)
    return out


def safe_url(value: object) -> str | None:
    """Only http(s) and mailto links reach a page: a crawled ``javascript:`` URL is dropped."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    lowered = text.lower()
    if (lowered.startswith(("http://", "https://")) and " " not in text) or lowered.startswith(
        "mailto:"
    ):
        return text
    return None


class WebRenderer:
    """One language's page environment (the i18n extension is bound per environment)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.t = translations(lang)
        self.mail = Renderer(lang, base_url="")
        self.locale = self.mail.locale
        env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(default_for_string=True, default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_translations(self.t, newstyle=True)  # type: ignore[attr-defined]
        env.filters.update(
            when=self.mail.when,
            day=self.day,
            time=self.time,
            url=safe_url,
            category=lambda v: self.label(CATEGORY_LABELS, v),
            direction=lambda v: self.label(DIRECTION_LABELS, v),
            vote=lambda v: self.label(VOTE_LABELS, v),
            result=lambda v: self.label(RESULT_LABELS, v),
            stance=lambda v: self.label(STANCE_LABELS, v),
            status=lambda v: self.label(STATUS_LABELS, v),
            effect=lambda v: self.label(EFFECT_LABELS, v),
            doc_kind=lambda v: self.label(DOCUMENT_LABELS, v),
            body_kind=lambda v: self.label(BODY_KIND_LABELS, v),
            frequency=lambda v: self.label(FREQUENCY_LABELS, v),
            number=self.mail.number,
            highlight=highlight,
            symbol=lambda v: VOTE_SYMBOLS.get(str(v), "·") if v else "·",
            short_hash=lambda v: (v or "")[:12],
        )
        env.globals.update(
            palette=PALETTE,
            languages=LANGUAGES,
            language_names=LANGUAGE_NAMES,
            categories=CATEGORY_LABELS,
            vote_labels=VOTE_LABELS,
            vote_symbols=VOTE_SYMBOLS,
        )
        self.env = env

    def label(self, table: dict[str, str], value: object) -> str:
        if value is None:
            return ""
        text = table.get(str(value))
        return self.t.gettext(text) if text else str(value)

    def gettext(self, message: str, **values: Any) -> str:
        return self.mail.gettext(message, **values)

    def day(self, value: datetime | date | None, timezone: str | None = None) -> str:
        """ "Nov 2, 2021" / "2 nov 2021" in the place's timezone."""
        if value is None:
            return self.t.gettext("date to be announced")
        if isinstance(value, datetime):
            value = (value.astimezone(ZoneInfo(timezone)) if timezone else value).date()
        return _medium_date(value, self.locale)

    def time(self, value: datetime | None, timezone: str | None = None) -> str:
        if value is None:
            return ""
        local = value.astimezone(ZoneInfo(timezone)) if timezone else value
        return f"{format_time(local, 'short', locale=self.locale)} {local.strftime('%Z')}".strip()

    def render(self, name: str, page: Page, **context: Any) -> str:
        return self.env.get_template(name).render(page=page, lang=self.lang, **context)


@lru_cache(maxsize=8192)
def _medium_date(value: date, locale: str) -> str:
    # Babel takes about 0.1 ms a date; a member's page shows hundreds of them.
    return format_date(value, "medium", locale=locale)


@cache
def renderer(lang: str) -> WebRenderer:
    return WebRenderer(lang if lang in LANGUAGES else "en")


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of a #rrggbb colour."""
    channels = []
    for n in (1, 3, 5):
        c = int(color[n : n + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
