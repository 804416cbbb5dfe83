"""Members' histories: procedural votes, direction applied, statements, matters, divided votes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import ROOT, query, run_tracker
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.db import open_database
from tracker.models import (
    AgendaItem,
    Body,
    Change,
    ChangeKind,
    Document,
    Jurisdiction,
    Matter,
    Meeting,
    Membership,
    Person,
    Statement,
    StatementEdit,
    Vote,
    VoteEvent,
)
from tracker.stances import (
    HistoryVote,
    StatementError,
    StatementInput,
    StatementView,
    add_statement,
    confirm_statement,
    cooperation_effect,
    divided_votes,
    edit_statement,
    is_procedural,
    load_demo_statements,
    matter_history,
    person_history,
    position_changes,
    statements,
)

BIRMINGHAM = ROOT / "tracker" / "data" / "archives" / "birmingham-2021-11.warc.gz"
CBS42 = (
    "https://www.cbs42.com/news/local/a-slap-in-the-face-woodfin-administration-advocates-"
    "extension-of-ice-partnership-with-birmingham-police/"
)
COUNCIL = [
    "Carol Clarke",
    "Clinton Woods",
    "Crystal Smitherman",
    "Darrell O'Quinn",
    "Hunter Williams",
    "J.T. Moore",
    "LaTonya Tate",
    "Valerie Abbott",
    "Wardine Alexander",
]
STATED = {
    "Hunter Williams": "support",
    "Carol Clarke": "concerned",
    "Darrell O'Quinn": "concerned",
    "Valerie Abbott": "concerned",
    "LaTonya Tate": "concerned",
    "Wardine Alexander": "concerned",
}


# --- direction applied and procedural votes (table-driven) --------------------------------


@pytest.mark.parametrize(
    ("direction", "value", "procedural", "expected"),
    [
        ("expands", "yes", False, "expanded"),
        ("limits", "no", False, "expanded"),
        ("expands", "no", False, "limited"),
        ("limits", "yes", False, "limited"),
        ("expands", "abstain", False, None),
        ("limits", "absent", False, None),
        ("expands", "excused", False, None),
        ("limits", "recused", False, None),
        ("expands", "present", False, None),
        ("expands", None, False, None),
        ("expands", "yes", True, None),  # a referral is not a vote on the merits
        ("limits", "no", True, None),
        ("neutral", "yes", False, None),
        (None, "yes", False, None),
    ],
)
def test_direction_applied(
    direction: str | None, value: str | None, procedural: bool, expected: str | None
) -> None:
    assert cooperation_effect(direction, value, procedural) == expected


@pytest.mark.parametrize(
    ("motion", "action", "expected"),
    [
        (None, "Referred to the Public Safety Committee", True),
        ("Motion to refer to the Public Safety and Human Services Committee", None, True),
        (None, "Re-referred", True),
        (None, "Deferred", True),
        ("Motion to postpone to a date certain", None, True),
        (None, "Held over", True),
        ("Motion to table", None, True),
        (None, "Laid on the table", True),
        (None, "Continued to 12/07/2021", True),
        (None, "Continued", True),
        (None, "Withdrawn by sponsor", True),
        (None, "Introduced and referred", True),
        (None, "Introduced", True),
        (None, "Passed on first reading", True),
        ("Motion to reconsider", None, True),
        (None, "Received and filed", True),
        (None, "Adopted", False),
        (None, "Passed", False),
        ("Motion to approve the 287(g) agreement", "Approved", False),
        ("Motion to withdraw from the 287(g) agreement", "Adopted", False),
        ("Motion to continue the detention contract for one year", "Passed", False),
        (None, "Introduced and adopted", False),
        (None, "Passed on third reading", False),
        (None, "Failed", False),
        (None, None, False),
    ],
)
def test_procedural_rule(motion: str | None, action: str | None, expected: bool) -> None:
    assert is_procedural(motion, action) is expected


# --- a small council, built row by row ----------------------------------------------------


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T18:00:00").replace(tzinfo=UTC)


def build_council(url: str) -> Engine:
    """Two bodies, three members, one ICE matter that goes from committee to council.

    Committee (2024-03-04): refer... no, a 2-1 vote to recommend the 287(g) agreement.
    Council (2024-03-18): adopted 2-0 with one absent, after Rivera's statement against.
    A second ICE item (limits) on the council the same day, divided 1-1.
    """
    engine = open_database(url)
    with Session(engine) as s:
        place = Jurisdiction(
            slug="testville",
            name="Testville",
            state="ZZ",
            kind="city",
            timezone="America/Chicago",
            platform="test",
        )
        s.add(place)
        s.flush()
        jid = place.id
        assert jid is not None
        council = Body(jurisdiction_id=jid, platform_id="c", name="City Council")
        committee = Body(
            jurisdiction_id=jid, platform_id="ps", name="Public Safety", kind="committee"
        )
        s.add_all([council, committee])
        people = [
            Person(jurisdiction_id=jid, platform_id=n, name=n)
            for n in ("Ann Lee", "Bo Diaz", "Cy Rivera")
        ]
        s.add_all(people)
        s.flush()
        for person in people:
            for body in (council, committee):
                s.add(
                    Membership(
                        person_id=person.id, body_id=body.id, platform_id=f"{person.id}@{body.id}"
                    )
                )
        matter = Matter(
            jurisdiction_id=jid,
            platform_id="m1",
            file_number="Ord 24-17",
            title="An ordinance approving a 287(g) agreement with ICE",
            relevant=True,
            category="287g",
            direction="expands",
        )
        s.add(matter)
        doc = Document(
            jurisdiction_id=jid,
            url="https://testville.example/minutes-0318.pdf",
            kind="minutes",
            sha256="ab" * 32,
        )
        s.add(doc)
        s.flush()
        m1 = Meeting(
            jurisdiction_id=jid,
            body_id=committee.id,
            platform="test",
            platform_id="1",
            start=_at("2024-03-04"),
            timezone="America/Chicago",
            status="held",
        )
        m2 = Meeting(
            jurisdiction_id=jid,
            body_id=council.id,
            platform="test",
            platform_id="2",
            start=_at("2024-03-18"),
            timezone="America/Chicago",
            status="held",
        )
        s.add_all([m1, m2])
        s.flush()

        def item(
            meeting: Meeting, number: str, title: str, direction: str, action: str, mid: int | None
        ) -> AgendaItem:
            row = AgendaItem(
                meeting_id=meeting.id,
                matter_id=mid,
                platform_id=number,
                sequence=int(number),
                number=number,
                title=title,
                action=action,
                result="passed",
                relevant=True,
                category="287g" if direction == "expands" else "sanctuary_welcoming_ordinance",
                direction=direction,
                source_url=f"https://testville.example/{meeting.platform_id}/{number}",
            )
            s.add(row)
            s.flush()
            return row

        def event(row: AgendaItem, motion: str, votes: dict[str, str], source_url: str) -> None:
            ev = VoteEvent(
                agenda_item_id=row.id,
                platform_id=f"v{row.id}",
                source="minutes",
                motion=motion,
                action=row.action,
                result="passed",
                yes_count=sum(v == "yes" for v in votes.values()),
                no_count=sum(v == "no" for v in votes.values()),
                source_url=source_url,
            )
            s.add(ev)
            s.flush()
            for person in people:
                if person.name in votes:
                    s.add(
                        Vote(
                            vote_event_id=ev.id,
                            person_id=person.id,
                            raw_value=votes[person.name].title(),
                            value=votes[person.name],
                        )
                    )

        committee_item = item(
            m1, "1", matter.title or "", "expands", "Recommended for adoption", matter.id
        )
        event(
            committee_item,
            "Motion to recommend adoption",
            {"Ann Lee": "yes", "Bo Diaz": "yes", "Cy Rivera": "no"},
            "https://testville.example/minutes-0304.pdf",
        )
        council_item = item(m2, "5", matter.title or "", "expands", "Adopted", matter.id)
        event(
            council_item,
            "Motion to adopt",
            {"Ann Lee": "yes", "Bo Diaz": "yes", "Cy Rivera": "absent"},
            doc.url,
        )
        welcoming = item(m2, "6", "A welcoming city ordinance", "limits", "Adopted", None)
        event(welcoming, "Motion to adopt", {"Ann Lee": "no", "Cy Rivera": "yes"}, doc.url)
        referral = item(
            m2, "7", "Resolution on ICE detainers", "limits", "Referred to Public Safety", None
        )
        event(
            referral,
            "Motion to refer",
            {"Ann Lee": "yes", "Bo Diaz": "yes", "Cy Rivera": "yes"},
            doc.url,
        )
        s.commit()
    return engine


def test_person_history_counts_with_direction_applied(database_url: str) -> None:
    engine = build_council(database_url)
    ann = person_history(engine, "Ann Lee")
    # yes on expands (committee), yes on expands (council), no on limits: all "expanded";
    # the referral is procedural and not scored.
    assert ann.counts["expanded"] == 3
    assert ann.counts["limited"] == 0
    assert ann.counts["procedural"] == 1
    assert [v.procedural for v in ann.votes] == [False, False, False, True]
    cy = person_history(engine, "Rivera")
    assert cy.counts["limited"] == 2  # no on expands, yes on limits
    assert cy.counts["absences"] == 1
    assert cy.counts["expanded"] == 0
    council_vote = next(v for v in ann.votes if v.item_number == "5")
    assert council_vote.document_sha256 == "ab" * 32  # the minutes the vote came from
    assert council_vote.source_url == "https://testville.example/minutes-0318.pdf"
    divided = {v.item_number: v.divided for v in ann.votes}
    assert divided == {"1": True, "5": False, "6": True, "7": False}


def test_matter_history_across_bodies(database_url: str) -> None:
    engine = build_council(database_url)
    history = matter_history(engine, "ord 24-17")  # file numbers match without case
    assert [(s.body, s.body_kind) for s in history.steps] == [
        ("Public Safety", "committee"),
        ("City Council", "council"),
    ]
    committee_votes = {v.person: v.value for v in history.steps[0].events[0].votes}
    assert committee_votes == {"Ann Lee": "yes", "Bo Diaz": "yes", "Cy Rivera": "no"}
    assert matter_history(engine, str(history.matter.id)).matter.id == history.matter.id
    with pytest.raises(StatementError):
        matter_history(engine, "CB 1")


def test_divided_votes(database_url: str) -> None:
    engine = build_council(database_url)
    assert [s.item_number for s in divided_votes(engine)] == ["1", "6"]


def _statement(engine: Engine, **kw: object) -> StatementInput:
    values: dict[str, object] = {
        "person": "Councilmember Rivera",
        "stance": "oppose",
        "quote": "This agreement makes our neighbors afraid.",
        "source_url": "https://news.example/story",
        "matter": "Ord 24-17",
        "jurisdiction": "testville",
        "date": date(2024, 3, 10),
    }
    values.update(kw)
    return StatementInput(**values)  # type: ignore[arg-type]


def test_statements_add_once_log_and_edit(database_url: str) -> None:
    engine = build_council(database_url)
    first = add_statement(engine, _statement(engine))
    again = add_statement(
        engine, _statement(engine, quote="  This agreement makes our neighbors afraid. ")
    )
    assert first.added
    assert not again.added
    assert again.statement_id == first.statement_id
    assert first.person == "Cy Rivera"
    assert not first.person_needs_review
    with Session(engine) as s:
        changes = s.exec(select(Change).where(Change.kind == ChangeKind.STATEMENT_ADDED)).all()
        assert [c.statement_id for c in changes] == [first.statement_id]
    assert edit_statement(engine, first.statement_id, {"stance": "concerned"}, by="editor") == [
        "stance"
    ]
    with Session(engine) as s:
        [edit] = s.exec(select(StatementEdit)).all()
        assert (edit.field, edit.old_value, edit.new_value, edit.edited_by) == (
            "stance",
            "oppose",
            "concerned",
            "editor",
        )
    with pytest.raises(StatementError):
        add_statement(engine, _statement(engine, stance="angry"))
    with pytest.raises(StatementError):
        add_statement(engine, _statement(engine, source_url="not a url"))


def test_unconfirmed_suggestions_are_not_shown_until_confirmed(database_url: str) -> None:
    engine = build_council(database_url)
    result = add_statement(engine, _statement(engine, confirmed=False, origin="suggested"))
    assert statements(engine) == []
    assert person_history(engine, "Cy Rivera").statements == []
    with Session(engine) as s:
        assert s.exec(select(Change).where(Change.kind == ChangeKind.STATEMENT_ADDED)).all() == []
    assert confirm_statement(engine, result.statement_id, by="editor")
    assert [v.id for v in statements(engine)] == [result.statement_id]
    with Session(engine) as s:
        assert (
            len(s.exec(select(Change).where(Change.kind == ChangeKind.STATEMENT_ADDED)).all()) == 1
        )
        assert s.get(Statement, result.statement_id).confirmed_by == "editor"  # type: ignore[union-attr]


def test_position_changed(database_url: str) -> None:
    engine = build_council(database_url)
    # Bo Diaz voted yes in committee; later said he opposes the agreement.
    add_statement(
        engine,
        _statement(
            engine, person="Bo Diaz", date=date(2024, 3, 20), quote="I can no longer back it."
        ),
    )
    history = person_history(engine, "Bo Diaz")
    [change] = history.changes
    assert change.subject == "Ord 24-17"
    assert change.before.startswith("support (voted yes")
    assert change.after == "oppose (said, 2024-03-20)"
    assert person_history(engine, "Ann Lee").changes == []


def _vote(item: int, value: str, when: str, procedural: bool = False) -> HistoryVote:
    return HistoryVote(
        vote_event_id=item,
        agenda_item_id=item,
        matter_id=None,
        jurisdiction="x",
        body=None,
        meeting_start=when,
        item_number=None,
        matter_file=None,
        title=f"item {item}",
        category=None,
        direction="expands",
        motion=None,
        action=None,
        result=None,
        value=value,
        raw_value=value,
        procedural=procedural,
        effect=None,
        divided=False,
        source="api",
        source_url=None,
        document_sha256=None,
    )


def _said(item: int, stance: str, when: str) -> StatementView:
    return StatementView(
        id=1,
        person="p",
        jurisdiction="x",
        agenda_item_id=item,
        matter_id=None,
        item_title=f"item {item}",
        matter_file=None,
        meeting_start=None,
        direction="expands",
        stance=stance,
        quote="q",
        paraphrase=False,
        source_url="https://x",
        date=when,
        added_by="t",
        confirmed=True,
    )


@pytest.mark.parametrize(
    ("votes", "said", "changes"),
    [
        ([_vote(1, "yes", "2024-01-02")], [_said(1, "oppose", "2024-01-01")], 1),
        ([_vote(1, "yes", "2024-01-02")], [_said(1, "support", "2024-01-01")], 0),
        ([_vote(1, "yes", "2024-01-02")], [_said(1, "concerned", "2024-01-01")], 0),
        ([_vote(1, "yes", "2024-01-02", procedural=True)], [_said(1, "oppose", "2024-01-01")], 0),
        ([_vote(1, "yes", "2024-01-02")], [_said(2, "oppose", "2024-01-01")], 0),
        ([_vote(1, "yes", "2024-01-02"), _vote(1, "no", "2024-02-02")], [], 1),
        ([_vote(1, "abstain", "2024-01-02")], [_said(1, "oppose", "2024-01-01")], 0),
    ],
)
def test_position_changes_table(
    votes: list[HistoryVote], said: list[StatementView], changes: int
) -> None:
    assert len(position_changes(votes, said)) == changes


# --- Birmingham: the referral, procedural, and the statements from coverage ---------------


def test_birmingham_members_have_the_referral_and_statements(database_url: str) -> None:
    run_tracker(
        "crawl",
        "birmingham-al",
        "--replay",
        BIRMINGHAM,
        "--full",
        "--from",
        "2021-10-01",
        "--to",
        "2021-12-01",
        database_url=database_url,
    )
    engine = open_database(database_url)
    assert load_demo_statements(engine) == 6
    assert load_demo_statements(engine) == 0  # loading twice adds nothing
    for name in COUNCIL:
        history = person_history(engine, name, "birmingham-al")
        [vote] = history.votes
        assert (vote.item_number, vote.value, vote.procedural, vote.effect) == (
            "4",
            "yes",
            True,
            None,
        )
        assert vote.action == "Referred to the Public Safety Committee"
        assert vote.document_sha256 is not None
        assert vote.source_url
        assert history.counts["expanded"] == history.counts["limited"] == 0
        said = [(s.stance, s.source_url) for s in history.statements]
        assert said == ([(STATED[name], CBS42)] if name in STATED else [])
        for s in history.statements:
            assert s.agenda_item_id == vote.agenda_item_id
        assert history.changes == []
    rows = query(database_url, "SELECT count(*) AS n FROM change WHERE kind = 'statement_added'")
    assert rows[0].n == 6


def test_statement_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    run_tracker(
        "crawl", "birmingham-al", "--replay", BIRMINGHAM, "--full", "--from", "2021-10-01",
        "--to", "2021-12-01", database_url=url,
    )  # fmt: skip
    [item] = query(url, "SELECT id FROM agenda_item WHERE relevant")
    args = [
        "statement", "add", "--person", "Councilor Clinton Woods", "--item", str(item.id),
        "--stance", "undecided", "--quote", "I want to read the MOU first.",
        "--source-url", "https://news.example/a", "--by", "reporter",
    ]  # fmt: skip
    out = run_tracker(*args, database_url=url).stdout
    assert "added statement 1 (Clinton Woods, undecided)" in out
    assert "already stored" in run_tracker(*args, database_url=url).stdout
    edited = run_tracker(
        "statement", "edit", "1", "--stance", "concerned", "--by", "editor", database_url=url
    )
    assert "changed stance" in edited.stdout
    log = run_tracker("statement", "log", "1", database_url=url).stdout
    assert "editor: stance 'undecided' -> 'concerned'" in log
    bad = run_tracker(
        "statement", "add", "--person", "Woods", "--stance", "support", "--quote", "x",
        "--source-url", "https://n.example", database_url=url, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.startswith("ice-tracker: error:")
    assert len(bad.stderr.splitlines()) == 1
    data = tmp_path / "s.csv"
    data.write_text(
        "person,stance,quote,source_url,jurisdiction,meeting_date,item_number\n"
        "Crystal Smitherman,support,We need this.,https://n.example/b,birmingham-al,2021-11-02,4\n"
        "Nobody,support,x,https://n.example/c,birmingham-al,2021-11-02,99\n",
        encoding="utf-8",
    )
    imported = run_tracker("statement", "import", data, database_url=url, check=False)
    assert "added 1" in imported.stdout
    assert imported.returncode == 1
    assert "s.csv:3" in imported.stderr
    person = run_tracker("person", "Smitherman", database_url=url).stdout
    assert "procedural, not scored" in person
    assert "We need this." in person
    suggested = run_tracker(
        "statement", "suggest", "--item", str(item.id), "--jurisdiction", "birmingham-al",
        "--source-url", "https://n.example/d", "--text",
        'Councilor Valerie Abbott said she opposes the agreement: "Not in my city."',
        database_url=url,
    )  # fmt: skip
    assert "Valerie Abbott: oppose" in suggested.stdout
    assert "stored unconfirmed" in suggested.stdout
    assert "Not in my city" not in run_tracker("person", "Abbott", database_url=url).stdout
    listed = run_tracker("statement", "list", "--unconfirmed", database_url=url).stdout
    sid = listed.split()[0]
    run_tracker("statement", "confirm", sid, "--by", "editor", database_url=url)
    assert "Not in my city" in run_tracker("person", "Abbott", database_url=url).stdout
    missing = run_tracker("person", "Smith", database_url=url, check=False)
    assert missing.returncode == 1
    assert "no one called 'Smith'" in missing.stderr
