"""Build the Birmingham, AL demo archive from public facts.

Birmingham's City Council posts its agendas and minutes as PDF files on its WordPress site
(birminghamalcitycouncil.org, meetings listed under /meeting_type/council/). This script
writes a WARC archive in the shape of that site for two Tuesday meetings of the council
elected in 2021, so that `ice-tracker demo` can crawl it exactly as it would crawl the site.

What is a public fact here, and what is not:
- The council in 2021-22 (President Wardine Alexander; Valerie Abbott, Carol Clarke, J.T.
  Moore, Darrell O'Quinn, Crystal Smitherman, LaTonya Tate, Hunter Williams, Clinton Woods),
  and its Public Safety Committee (LaTonya Tate, chair; Crystal Smitherman; Hunter Williams).
- The ordinance submitted by the Mayor in November 2021 to extend the Birmingham Police
  Department's memorandum of understanding with ICE Homeland Security Investigations, under
  which BPD officers are designated as Customs Officers and the Department is eligible for
  shares of seized assets; the council voted unanimously to refer it to the Public Safety
  Committee (reported by CBS 42 and BirminghamWatch, November 2021).
- Meetings on Tuesdays at 9:30 a.m. in the Council Chambers, 3rd floor of City Hall, 710 North
  20th Street.
Not facts: the ordinary items around it, the item numbers, the page layout and the wording
of the minutes are representative, modelled on the council's published agendas; the HTML
pages are in the shape of the site, not copies of it. The archive's warcinfo record says so.

    python scripts/build_birmingham_archive.py [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pdfwriter import make_pdf, paginate

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tracker" / "data" / "archives" / "birmingham-2021-11.warc.gz"
SITE = "https://www.birminghamalcitycouncil.org"
WARC_DATE = "2021-11-10T15:00:00Z"
COUNCIL = [
    "Valerie Abbott",
    "Wardine Alexander",
    "Carol Clarke",
    "J.T. Moore",
    "Darrell O’Quinn",
    "Crystal Smitherman",
    "LaTonya Tate",
    "Hunter Williams",
    "Clinton Woods",
]
AYES = "Abbott, Alexander, Clarke, Moore, O’Quinn, Smitherman, Tate, Williams, Woods"
HEADER = (
    "BIRMINGHAM CITY COUNCIL\nCouncil Chambers, Third Floor, City Hall, "
    "710 North 20th Street, Birmingham, Alabama 35203"
)

HSI_ORDINANCE = (
    "An Ordinance authorizing the Mayor to execute a Memorandum of Understanding between the "
    "City of Birmingham Police Department and U.S. Immigration and Customs Enforcement (ICE), "
    "Homeland Security Investigations (HSI), under which certain Birmingham Police Department "
    "officers are designated as Customs Officers authorized to enforce the full range of "
    "federal offenses, excluding administrative violations of immigration law, and under "
    "which the Department is eligible to receive shares of assets seized in joint "
    "investigations, for a term of up to three (3) years. (Submitted by the Mayor)"
)

DESCRIPTION = (
    "Demo archive in the shape of the Birmingham, AL City Council web site, built from public "
    "facts: the 2021-22 council and its Public Safety Committee, and the November 2021 "
    "ordinance extending the police partnership with ICE Homeland Security Investigations, "
    "unanimously referred to the Public Safety Committee. Other items, numbering, layout and "
    "minutes wording are representative, not copies of the council's documents."
)

MEETINGS = [
    {
        "date": "10.26.2021",
        "long": "Tuesday, October 26, 2021",
        "slug": "birmingham-city-council-meeting-10-26-2021",
        "uploads": "2021/10",
        "file": "10.26.2021",
        "items": [
            (
                "CONSENT ITEM 1.",
                "A Resolution approving the appointment of one (1) member to "
                "the Birmingham Parking Authority for a term expiring October 31, 2025.",
                "adopt",
            ),
            (
                "CONSENT ITEM 2.",
                "A Resolution authorizing the Mayor to execute an agreement for "
                "the resurfacing of neighborhood streets in Council District 5.",
                "adopt",
            ),
            (
                "ITEM 3.",
                "A Resolution declaring certain properties a public nuisance and "
                "ordering the abatement of overgrown weeds thereon.",
                "adopt",
            ),
            (
                "ITEM 4.",
                "An Ordinance amending the General Fund Budget for fiscal year 2022 to "
                "appropriate funds for library summer reading programs.",
                "adopt",
            ),
        ],
    },
    {
        "date": "11.02.2021",
        "long": "Tuesday, November 2, 2021",
        "slug": "birmingham-city-council-meeting-11-02-2021",
        "uploads": "2021/11",
        "file": "11.02.2021",
        "items": [
            (
                "CONSENT ITEM 1.",
                "A Resolution authorizing the Mayor to execute an agreement "
                "with the Birmingham Botanical Society for programs at the Birmingham Botanical "
                "Gardens.",
                "adopt",
            ),
            (
                "CONSENT ITEM 2.",
                "A Resolution appointing one (1) member to the Birmingham "
                "Planning Commission for a term expiring October 6, 2027.",
                "adopt",
            ),
            (
                "ITEM 3.",
                "A Resolution authorizing the purchase of snow and ice control "
                "materials for the Department of Public Works.",
                "adopt",
            ),
            ("ITEM 4.", HSI_ORDINANCE, "refer"),
            (
                "ITEM 5.",
                "A Resolution approving the installation of speed humps on residential "
                "streets in Council District 2.",
                "adopt",
            ),
        ],
    },
]


def agenda_text(meeting: dict) -> str:  # type: ignore[type-arg]
    lines = [
        HEADER,
        "REGULAR MEETING AGENDA",
        f"{meeting['long']}, 9:30 a.m.",
        "",
        "INVOCATION",
        "PLEDGE OF ALLEGIANCE",
        "ROLL CALL",
        "APPROVAL OF MINUTES",
        "",
        "CONSENT AGENDA",
        "",
    ]
    regular = False
    for marker, title, _ in meeting["items"]:
        if not marker.startswith("CONSENT") and not regular:
            lines += ["REGULAR AGENDA", ""]
            regular = True
        lines += [f"{marker} {title}", ""]
    lines += ["COMMUNICATIONS FROM THE MAYOR", "ADJOURNMENT"]
    return "\n".join(lines)


def minutes_text(meeting: dict) -> str:  # type: ignore[type-arg]
    lines = [
        HEADER,
        "MINUTES OF THE REGULAR MEETING",
        meeting["long"],
        "",
        "The Council of the City of Birmingham met in regular session in the Council "
        "Chambers at 9:30 a.m., Council President Wardine Alexander presiding.",
        f"ROLL CALL: Present: {AYES}. Absent: None.",
        "",
    ]
    for marker, title, outcome in meeting["items"]:
        lines.append(f"{marker} {title}")
        if outcome == "refer":
            lines.append(
                "On motion duly made and seconded, the ordinance was referred to the "
                "Public Safety Committee. The motion to refer carried unanimously by "
                f"the following vote: Ayes: {AYES}. Nays: None."
            )
        else:
            lines.append(
                f"The foregoing was adopted by the following vote: Ayes: {AYES}. Nays: None."
            )
        lines.append("")
    lines += [
        "There being no further business, the meeting was adjourned at 11:42 a.m.",
        "",
        "Clerk of the Council",
    ]
    return "\n".join(lines)


def page(title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">'
        f'<title>{title} – Birmingham City Council</title></head><body class="meetings">'
        f'<header><a href="{SITE}/">Birmingham City Council</a></header>'
        f'<main id="main">{body}</main></body></html>'
    ).encode()


def listing() -> bytes:
    posts = []
    for meeting in reversed(MEETINGS):
        url = f"{SITE}/meetings/{meeting['slug']}/"
        posts.append(
            f'<article class="meeting type-meeting"><h2 class="entry-title">'
            f'<a href="{url}">Birmingham City Council Meeting {meeting["date"]}</a></h2>'
            "<p>The Birmingham City Council meet every Tuesday (excluding holidays) at 9:30 a.m. "
            "on the 3rd floor of Birmingham City Hall located at 710 North 20th St. in the "
            f'council chambers. <a href="{url}">Read more</a></p></article>'
        )
    return page("Council", "<h1>Council</h1>" + "".join(posts))


def meeting_page(meeting: dict) -> bytes:  # type: ignore[type-arg]
    base = f"{SITE}/wp-content/uploads/{meeting['uploads']}/{meeting['file']}"
    return page(
        f"Birmingham City Council Meeting {meeting['date']}",
        f'<h1 class="entry-title">Birmingham City Council Meeting {meeting["date"]}</h1>'
        f"<p>{meeting['long']} at 9:30 a.m., Council Chambers, 3rd floor, Birmingham City "
        "Hall, 710 North 20th St.</p>"
        f'<ul><li><a href="{base}-Council-Agenda.pdf">Agenda</a></li>'
        f'<li><a href="{base}-Council-Minutes.pdf">Minutes</a></li></ul>',
    )


def responses() -> list[tuple[str, str, bytes]]:
    out = [(f"{SITE}/meeting_type/council/", "text/html; charset=UTF-8", listing())]
    for meeting in MEETINGS:
        out.append(
            (
                f"{SITE}/meetings/{meeting['slug']}/",
                "text/html; charset=UTF-8",
                meeting_page(meeting),
            )
        )
        base = f"{SITE}/wp-content/uploads/{meeting['uploads']}/{meeting['file']}"
        out.append(
            (
                f"{base}-Council-Agenda.pdf",
                "application/pdf",
                make_pdf(paginate(agenda_text(meeting))),
            )
        )
        out.append(
            (
                f"{base}-Council-Minutes.pdf",
                "application/pdf",
                make_pdf(paginate(minutes_text(meeting))),
            )
        )
    return out


def build(out: Path) -> int:
    records = responses()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(
                out.name,
                {
                    "software": "ice-council-tracker scripts/build_birmingham_archive.py",
                    "format": "WARC File Format 1.1",
                    "description": DESCRIPTION,
                },
            )
        )
        for url, kind, body in records:
            headers = StatusAndHeaders(
                "200 OK",
                [("Content-Type", kind), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": WARC_DATE},
                )
            )
    return len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(f"wrote {build(args.out)} responses to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
