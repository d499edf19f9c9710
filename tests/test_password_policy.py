"""The default password policy (SECURITY 6-8)."""

import dataclasses
from importlib.resources import files
from pathlib import Path

import pytest

from doorkeeper import password_policy
from doorkeeper.password_policy import (
    COMMON_PASSWORDS_RESOURCE,
    DEFAULT_PASSWORD_POLICY,
    PasswordPolicy,
    is_common_password,
    load_common_passwords,
)

EMPTY = "Password should not be empty or only whitespace."
COMMON = "Password is too common."
EMAIL = "Password should not be your e-mail address."

# Not in the common list; every prefix used below is not either.
UNCOMMON = "Zq7!kWm2pR9#vT4xLb8$"


def uncommon(length: int) -> str:
    """A password of exactly `length` code points that is not in the common list."""
    return (UNCOMMON * (length // len(UNCOMMON) + 1))[:length]


def fullwidth(ascii_text: str) -> str:
    """The full-width forms (U+FF01-U+FF5E) of printable ASCII characters."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


def too_short(n: int) -> str:
    return f"Password should be at least {n} characters."


def too_long(n: int) -> str:
    return f"Password should not be longer than {n} characters."


# --- defaults and configuration ---------------------------------------------------


def test_defaults() -> None:
    policy = PasswordPolicy()
    assert policy.min_length == 8
    assert policy.max_length == 1024
    assert policy.reject_common is True
    assert policy.reject_email is True
    assert PasswordPolicy() == DEFAULT_PASSWORD_POLICY


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PASSWORD_POLICY.min_length = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("min_length", "max_length", "message"),
    [
        (0, 1024, "min_length must be at least 1"),
        (-5, 1024, "min_length must be at least 1"),
        (8, 63, "max_length must be at least 64"),
        (8, 0, "max_length must be at least 64"),
        (65, 64, "min_length must not be greater than max_length"),
    ],
)
def test_invalid_configuration(min_length: int, max_length: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PasswordPolicy(min_length=min_length, max_length=max_length)


def test_boundary_configuration_accepted() -> None:
    policy = PasswordPolicy(min_length=1, max_length=64)
    assert policy.check("ж") is None
    assert PasswordPolicy(min_length=64, max_length=64).check(uncommon(64)) is None


# --- empty and whitespace ---------------------------------------------------------


@pytest.mark.parametrize("password", ["", " ", "        ", "\t\n\r ", "\u3000" * 10, "\u00a0" * 9])
def test_empty_or_whitespace_refused(password: str) -> None:
    assert DEFAULT_PASSWORD_POLICY.check(password) == EMPTY
    assert PasswordPolicy(min_length=1, reject_common=False).check(password) == EMPTY


def test_whitespace_counts_and_is_kept() -> None:
    # Eight code points including a leading and a trailing space: nothing is stripped.
    assert DEFAULT_PASSWORD_POLICY.check(" " + uncommon(6) + " ") is None
    assert DEFAULT_PASSWORD_POLICY.check(" " + uncommon(5) + " ") == too_short(8)


# --- length -----------------------------------------------------------------------


def test_minimum_length_boundary() -> None:
    assert DEFAULT_PASSWORD_POLICY.check(uncommon(7)) == too_short(8)
    assert DEFAULT_PASSWORD_POLICY.check(uncommon(8)) is None


def test_configured_minimum_length_in_reason() -> None:
    policy = PasswordPolicy(min_length=15)
    assert policy.check(uncommon(14)) == too_short(15)
    assert policy.check(uncommon(15)) is None


def test_maximum_length_boundary() -> None:
    assert DEFAULT_PASSWORD_POLICY.check(uncommon(1024)) is None
    assert DEFAULT_PASSWORD_POLICY.check(uncommon(1025)) == too_long(1024)


def test_configured_maximum_length() -> None:
    policy = PasswordPolicy(max_length=64)
    assert policy.check(uncommon(64)) is None
    assert policy.check(uncommon(65)) == too_long(64)


def test_long_password_not_truncated_into_acceptance() -> None:
    # A password over the maximum is refused, not cut to the maximum and accepted.
    assert PasswordPolicy(max_length=64).check(uncommon(64) + "x") == too_long(64)


# --- Unicode ----------------------------------------------------------------------


def test_no_composition_rules() -> None:
    assert DEFAULT_PASSWORD_POLICY.check("abcdxyzwqrst") is None  # only lowercase letters
    assert DEFAULT_PASSWORD_POLICY.check("9371846205") is None  # only digits


@pytest.mark.parametrize(
    "password",
    [
        "пароль-длинный",
        "密碼很長的一句話啊",
        "🔑🔒🗝️🚪🔑🔒🗝️🚪",
        "ĉu-vi-parolas?",
        "كلمة المرور الطويلة",
    ],
)
def test_any_unicode_accepted(password: str) -> None:
    assert DEFAULT_PASSWORD_POLICY.check(password) is None


def test_length_in_code_points_not_bytes() -> None:
    # Eight emoji: 32 bytes in UTF-8, but 8 code points.
    assert DEFAULT_PASSWORD_POLICY.check("🔑" * 8) is None
    assert DEFAULT_PASSWORD_POLICY.check("🔑" * 7) == too_short(8)
    # 1024 Cyrillic letters are 2048 bytes and still within the maximum.
    assert DEFAULT_PASSWORD_POLICY.check("ж" * 1024) is None
    assert DEFAULT_PASSWORD_POLICY.check("ж" * 1025) == too_long(1024)


def test_length_counted_after_nfkc() -> None:
    # Three ligatures are three code points raw but nine after NFKC ("ffiffiffi").
    assert DEFAULT_PASSWORD_POLICY.check("\ufb03" * 3) is None
    # "e" + combining acute, four times: eight code points raw, four after NFKC.
    assert DEFAULT_PASSWORD_POLICY.check("e\u0301" * 4) == too_short(8)
    # Full-width letters map one to one.
    assert DEFAULT_PASSWORD_POLICY.check(fullwidth("x7kq2zp")) == too_short(8)
    assert DEFAULT_PASSWORD_POLICY.check(fullwidth("x7kq2zpw")) is None


def test_full_width_common_password_refused() -> None:
    assert DEFAULT_PASSWORD_POLICY.check(fullwidth("password")) == COMMON
    assert DEFAULT_PASSWORD_POLICY.check(fullwidth("PASSWORD123")) == COMMON


# --- common passwords -------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["password", "PASSWORD123", "Password123", "qwerty", "QwErTy", "iloveyou", "12345678"],
)
def test_common_password_refused_case_insensitively(password: str) -> None:
    assert is_common_password(password) is True
    assert PasswordPolicy(min_length=1).check(password) == COMMON


def test_common_password_with_surrounding_spaces_refused() -> None:
    assert DEFAULT_PASSWORD_POLICY.check("  password123  ") == COMMON


def test_common_non_ascii_password_refused() -> None:
    assert PasswordPolicy(min_length=1).check("ПАРОЛЬ") == COMMON


def test_common_check_can_be_disabled() -> None:
    policy = PasswordPolicy(reject_common=False)
    assert policy.check("password") is None
    assert policy.check("PASSWORD123") is None


def test_length_is_checked_before_the_list() -> None:
    assert DEFAULT_PASSWORD_POLICY.check("qwerty") == too_short(8)


def test_list_is_cut_at_ten_thousand() -> None:
    # Line 10,000 of Django's list is refused; line 10,002 is beyond the shipped list.
    assert DEFAULT_PASSWORD_POLICY.check("desmond1") == COMMON
    assert DEFAULT_PASSWORD_POLICY.check("loveless1") is None
    assert is_common_password(UNCOMMON) is False


def test_list_has_exactly_ten_thousand_entries_from_package_data() -> None:
    resource = files("doorkeeper") / COMMON_PASSWORDS_RESOURCE
    assert resource.is_file()
    beside_module = Path(password_policy.__file__).parent / "data" / "common-passwords.txt"
    text = resource.read_text(encoding="utf-8")
    assert text == beside_module.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) == 10_000
    assert lines[:4] == ["123456", "123456789", "qwerty", "password"]
    assert all(line == line.lower() and line.strip() == line and line for line in lines)
    common = load_common_passwords()
    assert isinstance(common, frozenset)
    assert len(common) == 10_000
    assert common == frozenset(lines)


def test_list_is_loaded_once() -> None:
    assert load_common_passwords() is load_common_passwords()


def test_licence_notice_shipped() -> None:
    notice = (files("doorkeeper") / "data" / "COMMON-PASSWORDS-NOTICE.txt").read_text("utf-8")
    assert "Royce Williams" in notice
    assert "Django Software Foundation" in notice
    assert "Redistribution and use in source and binary forms" in notice


# --- e-mail -----------------------------------------------------------------------

ADDRESS = "Alice.Smith@Example.com"


@pytest.mark.parametrize(
    "password",
    ["Alice.Smith@Example.com", "alice.smith@example.com", "ALICE.SMITH@EXAMPLE.COM"],
)
def test_email_refused(password: str) -> None:
    assert DEFAULT_PASSWORD_POLICY.check(password, ADDRESS) == EMAIL


@pytest.mark.parametrize("password", ["alice.smith", "ALICE.SMITH", " Alice.Smith "])
def test_local_part_refused(password: str) -> None:
    assert DEFAULT_PASSWORD_POLICY.check(password, ADDRESS) == EMAIL


def test_full_width_email_refused() -> None:
    assert DEFAULT_PASSWORD_POLICY.check(fullwidth("alice.smith"), ADDRESS) == EMAIL


def test_email_variants_accepted() -> None:
    assert DEFAULT_PASSWORD_POLICY.check("alice.smith@example.org", ADDRESS) is None
    assert DEFAULT_PASSWORD_POLICY.check("alice.smith!", ADDRESS) is None
    assert DEFAULT_PASSWORD_POLICY.check("example.com", ADDRESS) is None
    assert DEFAULT_PASSWORD_POLICY.check(uncommon(12), ADDRESS) is None


def test_local_part_length_threshold() -> None:
    policy = PasswordPolicy(min_length=1, reject_common=False)
    assert policy.check("ZQX", "zqx@example.com") == EMAIL
    assert policy.check("zq", "zq@example.com") is None
    assert policy.check("zq@example.com", "zq@example.com") == EMAIL


def test_email_without_at_sign() -> None:
    policy = PasswordPolicy(min_length=1, reject_common=False)
    assert policy.check("zqxwvut", "zqxwvut") == EMAIL
    assert policy.check("zqx", "zqxwvut") is None


def test_no_email_given() -> None:
    assert DEFAULT_PASSWORD_POLICY.check("alice.smith@example.com") is None
    assert DEFAULT_PASSWORD_POLICY.check("alice.smith@example.com", None) is None


def test_email_check_can_be_disabled() -> None:
    policy = PasswordPolicy(reject_email=False)
    assert policy.check(ADDRESS, ADDRESS) is None
    assert policy.check("alice.smith", ADDRESS) is None


def test_email_that_is_also_common_gets_email_reason() -> None:
    # "sunshine" is in the common list; as the local part, the e-mail reason wins.
    assert DEFAULT_PASSWORD_POLICY.check("sunshine", "sunshine@example.com") == EMAIL
