"""One person per councilor: keys, display forms and resolution against a roster."""

from __future__ import annotations

import pytest
from conftest import property_settings
from hypothesis import given
from hypothesis import strategies as st

from tracker.names import (
    PARTICLES,
    TITLE_TOKENS,
    RosterMember,
    display_name,
    normalize_name,
    resolve_name,
)


def roster(*names: str) -> list[RosterMember]:
    return [RosterMember(str(i), name) for i, name in enumerate(names, 1)]


SEATTLE = roster(
    "Sally Bagshaw",
    "M. Lorena González",
    "Bruce Harrell",
    "Lisa Herbold",
    "Debora Juarez",
    "Teresa Mosqueda",
    "Mike O'Brien",
    "Kshama Sawant",
    "Abel Pacheco",
)
BIRMINGHAM = roster(
    "Wardine Alexander",
    "Valerie Abbott",
    "Carol Clarke",
    "J.T. Moore",
    "Darrell O'Quinn",
    "Crystal Smitherman",
    "LaTonya Tate",
    "Hunter Williams",
    "Clinton Woods",
)


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("M. Lorena González ", "exact"),
        ("Lorena Gonzalez", "initials"),
        ("Councilmember González", "last_name"),
        ("COUNCILMEMBER M. LORENA GONZALEZ", "exact"),
        ("Gonzalez, Lorena", "initials"),
        ("L. González", "initials"),
    ],
)
def test_gonzalez_is_one_person_on_the_seattle_roster(written: str, reason: str) -> None:
    res = resolve_name(written, SEATTLE)
    assert res.member is not None
    assert res.member.name == "M. Lorena González"
    assert res.reason == reason
    assert res.candidates == (res.member,)


@pytest.mark.parametrize(
    "written", ["Council President Wardine Alexander", "WARDINE ALEXANDER ", "Alexander"]
)
def test_alexander_resolves_on_the_birmingham_roster(written: str) -> None:
    res = resolve_name(written, BIRMINGHAM)
    assert res.member is not None
    assert res.member.name == "Wardine Alexander"


def test_two_smiths_make_smith_ambiguous() -> None:
    members = roster("Sean Smith", "Crystal Smith", "Hunter Williams")
    res = resolve_name("Smith", members)
    assert res.member is None
    assert res.reason == "ambiguous"
    assert {m.name for m in res.candidates} == {"Sean Smith", "Crystal Smith"}
    # A first name or initial settles it; a different first name matches nobody.
    sean = resolve_name("Councilmember Sean Smith", members)
    assert sean.member is not None
    assert sean.member.name == "Sean Smith"
    initial = resolve_name("C. Smith", members)
    assert initial.member is not None
    assert initial.member.name == "Crystal Smith"
    assert resolve_name("John Smith", members).reason == "unknown"


def test_a_surname_alone_needs_to_be_unique_and_whole() -> None:
    assert resolve_name("Williams", BIRMINGHAM).reason == "last_name"
    assert resolve_name("Smitherman", BIRMINGHAM).member == BIRMINGHAM[5]
    assert resolve_name("Smith", BIRMINGHAM).reason == "unknown"  # not a prefix match
    assert resolve_name("O'Quinn", BIRMINGHAM).member == BIRMINGHAM[4]
    assert resolve_name("Oquinn", BIRMINGHAM).member == BIRMINGHAM[4]


def test_aliases_and_unknown_names() -> None:
    members = [RosterMember("p7", "Raymond A. Lopez", aliases=("Ray Lopez",)), *BIRMINGHAM]
    res = resolve_name("Alderman Ray Lopez", members)
    assert res.member is not None
    assert res.member.key == "p7"
    assert res.reason == "alias"
    assert resolve_name("Jane Doe", members).reason == "unknown"
    assert resolve_name("", members).reason == "unknown"
    assert resolve_name("Mayor", members).reason == "unknown"
    assert resolve_name("Alexander", []).reason == "unknown"


@pytest.mark.parametrize(
    "title",
    [
        "Councilor",
        "Councilmember",
        "Council Member",
        "Council President",
        "President",
        "Alderman",
        "Alderperson",
        "Alder",
        "Commissioner",
        "Supervisor",
        "Mayor",
        "Mayor Pro Tem",
        "Vice Mayor",
        "Dr.",
        "Mr.",
        "Mrs.",
        "Ms.",
        "Hon.",
    ],
)
def test_titles_are_not_part_of_the_name(title: str) -> None:
    assert normalize_name(f"{title} Hunter Williams") == "hunter williams"
    assert display_name(f"  {title}   Hunter  Williams ") == "Hunter Williams"
    assert resolve_name(f"{title} Williams", BIRMINGHAM).member == BIRMINGHAM[7]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("M. Lorena González ", "m lorena gonzalez"),
        ("Alexander, Wardine", "wardine alexander"),
        ("Brookins, Jr., Howard", "howard brookins"),
        ("Scott, Jr. Michael", "michael scott"),
        ("Walter Burnett Jr.", "walter burnett"),
        ("Martin Luther King III", "martin luther king"),
        ("Wardine Alexander, Council President", "wardine alexander"),
        ("Sigcho-Lopez, Byron", "byron sigcho lopez"),
        ("Mike O’Brien", "mike obrien"),
        ("J.T. Moore", "j t moore"),
        ("Ramón   VALADEZ", "ramon valadez"),
    ],
)
def test_normalize_name(name: str, key: str) -> None:
    assert normalize_name(name) == key


def test_the_is_a_title_only_before_one() -> None:
    assert normalize_name("The Honorable Jane Doe") == "jane doe"
    assert display_name("The Hon. Jane Doe") == "Jane Doe"
    assert normalize_name("Thé Nguyen") == "the nguyen"
    assert display_name("The Nguyen") == "The Nguyen"


def test_display_name_keeps_diacritics_and_order() -> None:
    assert display_name(" Councilmember  M. Lorena   González ") == "M. Lorena González"
    assert display_name("Alexander, Wardine") == "Alexander, Wardine"
    assert display_name("Wardine Alexander, Council President") == "Wardine Alexander"
    assert display_name("Mayor") == "Mayor"


@property_settings(300)
@given(st.text(max_size=60), st.lists(st.text(max_size=30), max_size=6))
def test_resolve_name_never_raises(name: str, names: list[str]) -> None:
    members = roster(*names)
    res = resolve_name(name, members)
    assert res.reason in ("exact", "alias", "initials", "last_name", "ambiguous", "unknown")
    assert (res.member is None) == (res.reason in ("ambiguous", "unknown"))
    assert all(c in members for c in res.candidates)
    display_name(name)


@property_settings(300)
@given(st.text(max_size=60))
def test_normalize_name_is_a_stable_key(name: str) -> None:
    key = normalize_name(name)
    assert normalize_name(key) == key
    assert key == " ".join(key.split())


_NOT_NAMES = TITLE_TOKENS | PARTICLES | {"jr", "sr", "iii", "esq", "phd"}
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéñü", min_size=3, max_size=9).filter(
    lambda w: normalize_name(w) not in _NOT_NAMES | {""}
)


@property_settings(200)
# unique by the folded last name: "Nan" and "Nañ" are one name to the resolver, on purpose
@given(
    st.lists(
        st.tuples(_word, _word), min_size=1, max_size=8, unique_by=lambda t: normalize_name(t[1])
    )
)
def test_every_member_resolves_to_themself(pairs: list[tuple[str, str]]) -> None:
    members = roster(*(f"{first.title()} {last.title()}" for first, last in pairs))
    for member, (_, last) in zip(members, pairs, strict=True):
        assert resolve_name(member.name.upper(), members).member == member
        assert resolve_name(f"Councilmember {last}", members).member == member
