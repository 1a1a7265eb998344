"""A reporter's contact details: normalised on the way in, masked for everyone who need not see them."""

from __future__ import annotations

import pytest

from huying.domain.contact import (
    Contact,
    InvalidContact,
    ascii_digits_only,
    mask_name,
    mask_phone,
    normalise_phone,
    shown_to,
)
from huying.domain.principal import SYSTEM, Principal, Role

COMMUNITY = "LW-LN-01"

# --- normalising -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+86 138 1234 5678",
        "+8613812345678",
        "86 13812345678",
        "86-13812345678",
        "138 1234 5678",
        " 13812345678 ",
        "138-1234-5678",
        "+86 138-1234-5678",
    ],
)
def test_a_mainland_mobile_is_normalised_to_its_eleven_digits(raw: str) -> None:
    assert normalise_phone(raw) == "13812345678"


@pytest.mark.parametrize("first_two", ["13", "14", "15", "16", "17", "18", "19"])
def test_every_mobile_prefix_from_13_to_19_is_accepted(first_two: str) -> None:
    assert normalise_phone(f"{first_two}912345678") == f"{first_two}912345678"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("020-81234567", "020-81234567"),
        ("(020) 8123 4567", "020-81234567"),
        ("020 8123 4567", "020-81234567"),
        ("02081234567", "020-81234567"),
        ("010-6123456", "010-6123456"),
        ("0757-86123456", "0757-86123456"),
        ("075786123456", "0757-86123456"),
        ("0750-3123456", "0750-3123456"),
    ],
)
def test_a_landline_is_normalised_to_area_code_dash_number(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("020-81234567-123", "020-81234567-123"),
        ("0757-86123456-8001", "0757-86123456-8001"),
    ],
)
def test_a_landline_keeps_its_extension(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "12345",
        "110",
        "12345678901",  # 12… is not a mobile prefix
        "1381234567",  # ten digits
        "138123456789",  # twelve digits
        "23812345678",  # neither mobile nor landline
        "+1 415 555 0100",
        "020-123456",  # six-digit local number
        "020-812345678",  # nine-digit local number
        "81234567",  # no area code
        "020-81234567-",
        "020-81234567-1234567",  # extension too long
        "1381234567x",
        "13812345678; DROP TABLE calls",
        "138１２３４5678",  # fullwidth digits in the middle
        "1٣812345678",  # an Arabic-Indic digit
        "020-８１２３４５６７",  # a landline in fullwidth digits
        "13812345678\x00",
    ],
)
def test_junk_is_not_a_phone_number(raw: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_phone(raw)


@pytest.mark.parametrize("text", ["张三１", "١٣٨", "१३८", "²"])
def test_digits_other_than_ascii_are_refused(text: str) -> None:
    with pytest.raises(InvalidContact, match="ASCII"):
        ascii_digits_only(text)


@pytest.mark.parametrize("text", ["张三", "欧阳娜娜", "张三丰 13812345678", "王二(三号楼)"])
def test_ascii_digits_and_chinese_numerals_pass(text: str) -> None:
    assert ascii_digits_only(text) == text


def test_an_invalid_contact_is_a_value_error() -> None:
    assert issubclass(InvalidContact, ValueError)


def test_the_same_landline_written_two_ways_normalises_to_the_same_number() -> None:
    assert normalise_phone("02081234567") == normalise_phone("020-81234567")


# --- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("李小龙", "李**"), ("欧阳娜娜", "欧***"), ("王", "王*")],
)
def test_a_name_keeps_only_its_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_a_mobile_keeps_its_first_three_and_last_four_digits() -> None:
    assert mask_phone("13812345678") == "138****5678"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("020-81234567", "020-8123****"),
        ("0757-86123456", "0757-8612****"),
        ("010-6123456", "010-612****"),
        ("020-81234567-123", "020-8123****"),
    ],
)
def test_a_landline_keeps_its_area_code_and_hides_the_end_of_its_number(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


# --- who sees what ---------------------------------------------------------------------------

CONTACT = Contact(name="张三", phone="13812345678")
MASKED = Contact(name="张*", phone="138****5678")


@pytest.mark.parametrize(
    "principal",
    [Principal(Role.COMMUNITY, COMMUNITY), Principal(Role.SUPERVISOR, "LW")],
    ids=["origin community", "supervisor"],
)
def test_the_origin_community_and_supervisors_see_the_contact_in_full(principal: Principal) -> None:
    assert shown_to(principal, COMMUNITY, CONTACT) == CONTACT


@pytest.mark.parametrize(
    "principal",
    [
        Principal(Role.GRID_WORKER, "LW-LN-01-G01"),
        Principal(Role.GRID_WORKER, "LW-LN-02-G01"),
        Principal(Role.COMMUNITY, "LW-LN-02"),
        Principal(Role.STREET, "LW-LN"),
        Principal(Role.STREET, "LW-DB"),
        Principal(Role.DEPARTMENT, "CG"),
        Principal(Role.AUDITOR, "LW"),
        Principal(Role.ADMIN, "LW"),
        SYSTEM,
        # A unit code that happens to equal the community's, under another role, is not it.
        Principal(Role.GRID_WORKER, COMMUNITY),
        Principal(Role.STREET, COMMUNITY),
    ],
    ids=lambda p: f"{p.role.value} {p.unit}",
)
def test_everyone_else_sees_the_contact_masked(principal: Principal) -> None:
    assert shown_to(principal, COMMUNITY, CONTACT) == MASKED


def test_a_landline_contact_is_masked_too() -> None:
    contact = Contact(name="欧阳娜娜", phone="020-81234567")
    shown = shown_to(Principal(Role.STREET, "LW-LN"), COMMUNITY, contact)
    assert shown == Contact(name="欧***", phone="020-8123****")


def test_missing_details_stay_missing_when_masked() -> None:
    anonymous = Contact(name=None, phone=None)
    assert shown_to(Principal(Role.DEPARTMENT, "CG"), COMMUNITY, anonymous) == anonymous
    partial = Contact(name="张三", phone=None)
    assert shown_to(Principal(Role.DEPARTMENT, "CG"), COMMUNITY, partial) == Contact(name="张*", phone=None)


@pytest.mark.parametrize(
    ("phone", "hidden"),
    [("13812345678", "1234"), ("020-81234567", "4567"), ("0757-86123456-8001", "3456")],
)
def test_masking_never_reveals_the_hidden_digits(phone: str, hidden: str) -> None:
    shown = shown_to(Principal(Role.AUDITOR, "LW"), COMMUNITY, Contact(name=None, phone=phone))
    assert shown.phone is not None and hidden not in shown.phone
