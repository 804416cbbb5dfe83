"""The picture on a member's page: members x ICE votes as an inline SVG.

Built here rather than in a template because a busy member's picture has hundreds of cells and
a template loop over them costs more than the whole page's queries. Every piece of text is
escaped; each cell has a symbol as well as its colour (WCAG 1.4.1), a <title> tooltip, and the
picture is labelled by its <title> and <desc>. The template puts the legend and the same grid
as a table right after it (the text alternative).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from tracker.web_data import Grid, GridCell
from tracker.web_render import EFFECT_LABELS, PALETTE, VOTE_LABELS, VOTE_SYMBOLS, WebRenderer

LEFT, TOP, SIZE, GAP = 190, 34, 26, 3
ABSENT = ("absent", "excused")


def cell_style(cell: GridCell) -> tuple[str, str, str]:
    """Fill, symbol colour and dash pattern of a cell: what the vote did, then how."""
    if cell.effect == "expanded":
        return PALETTE["expanded"], PALETTE["cell_text_light"], ""
    if cell.effect == "limited":
        return PALETTE["limited"], PALETTE["cell_text_light"], ""
    if cell.value in ABSENT:
        return PALETTE["absent"], PALETTE["cell_text_dark"], "3 2"
    if cell.value in ("yes", "no"):
        return PALETTE["neutral_vote"], PALETTE["cell_text_dark"], ""
    return PALETTE["absent"], PALETTE["cell_text_dark"], ""


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def grid_svg(grid: Grid, r: WebRenderer, name: str) -> Markup:
    cols, rows = len(grid.columns), len(grid.rows)
    width = LEFT + cols * (SIZE + GAP) + 10
    height = TOP + rows * (SIZE + GAP) + 6
    text, muted = PALETTE["text"], PALETTE["muted"]
    title = r.gettext("How the members voted on the ICE items %(name)s voted on", name=name)
    desc = (
        r.mail.ngettext("%(num)d vote", "%(num)d votes", cols)
        + ", "
        + r.t.ngettext("%(num)d member", "%(num)d members", rows) % {"num": rows}
        + ". "
        + r.gettext(
            "Orange: the vote expanded cooperation with immigration enforcement. Blue: it "
            "limited it. Grey: a procedural vote or an item without a direction. Dashed: "
            "absent. The table after the picture lists every cell."
        )
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="grid-title grid-desc" '
        f'focusable="false">',
        f'<title id="grid-title">{escape(title)}</title>',
        f'<desc id="grid-desc">{escape(desc)}</desc>',
    ]
    procedural = r.gettext("procedural")
    for n, column in enumerate(grid.columns):
        x = LEFT + n * (SIZE + GAP) + SIZE / 2
        tip = f"{r.day(column.start, column.timezone)}: {_short(column.title, 120)}"
        if column.procedural:
            tip += f" ({procedural})"
        out.append(
            f'<text x="{x}" y="{TOP - 10}" text-anchor="middle" font-size="11" fill="{text}">'
            f"{escape(column.label[:5])}<title>{escape(tip)}</title></text>"
        )
    for m, row in enumerate(grid.rows):
        y = TOP + m * (SIZE + GAP)
        bold = ' font-weight="700"' if row.highlight else ""
        out.append(
            f'<text x="{LEFT - 8}" y="{y + SIZE / 2 + 4}" text-anchor="end" font-size="13" '
            f'fill="{text}"{bold}>{escape(_short(row.name, 26))}</text>'
        )
        stroke = 2.5 if row.highlight else 1
        for n, cell in enumerate(row.cells):
            x = LEFT + n * (SIZE + GAP)
            if cell.value is None:
                out.append(
                    f'<text x="{x + SIZE / 2}" y="{y + SIZE / 2 + 4}" text-anchor="middle" '
                    f'font-size="13" fill="{muted}">·</text>'
                )
                continue
            fill, ink, dash = cell_style(cell)
            tip = f"{row.name}: {r.label(VOTE_LABELS, cell.value)}"
            if cell.effect:
                tip += f" ({r.label(EFFECT_LABELS, cell.effect)})"
            dashes = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<rect x="{x}" y="{y}" width="{SIZE}" height="{SIZE}" rx="3" fill="{fill}" '
                f'stroke="{PALETTE["border"]}" stroke-width="{stroke}"{dashes}>'
                f"<title>{escape(tip)}</title></rect>"
                f'<text x="{x + SIZE / 2}" y="{y + SIZE / 2 + 5}" text-anchor="middle" '
                f'font-size="14" font-weight="700" fill="{ink}" aria-hidden="true">'
                f"{escape(VOTE_SYMBOLS.get(cell.value, '·'))}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every piece of text above is escaped
