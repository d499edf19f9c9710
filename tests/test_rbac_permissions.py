"""Permission strings and role names: syntax, and wildcard matching (pure functions)."""

import pytest

from doorkeeper.rbac import (
    Grants,
    has_permissions,
    missing_permissions,
    permission_covers,
    validate_permission,
    validate_role_name,
)
from doorkeeper.rbac.permissions import as_names, is_role_name


@pytest.mark.parametrize(
    ("granted", "required", "covered"),
    [
        ("articles:write", "articles:write", True),
        ("articles:write", "articles:read", False),
        ("articles:*", "articles:write", True),
        ("articles:*", "articles:write:own", True),  # a final * covers the rest
        ("articles:*", "articles", False),  # ... but at least one segment
        ("articles:*", "comments:write", False),
        ("*", "anything", True),
        ("*", "any:thing:at:all", True),
        ("*:read", "articles:read", True),
        ("*:read", "articles:write", False),
        ("*:read", "articles:read:own", False),  # an inner * is one segment
        ("articles:*:own", "articles:write:own", True),
        ("articles:*:own", "articles:write:all", False),
        ("articles:*:own", "articles:write", False),
        ("articles:write:own", "articles:write", False),  # more specific: not covering
        ("articles", "articles:write", False),
        ("articles:write", "articles:*", False),  # a required * is literal
        ("articles:*", "articles:*", True),
        ("Articles:write", "articles:write", False),  # letter case counts
    ],
)
def test_wildcards(granted: str, required: str, covered: bool) -> None:
    assert permission_covers(granted, required) is covered
    assert has_permissions([granted], [required]) is covered


def test_every_required_permission_must_be_covered() -> None:
    granted = ["articles:*", "comments:read"]
    assert has_permissions(granted, [])
    assert has_permissions(granted, ["articles:write", "comments:read"])
    assert missing_permissions(granted, ["comments:write", "articles:x", "users:admin"]) == [
        "comments:write",
        "users:admin",
    ]
    grants = Grants(roles=frozenset({"editor"}), permissions=frozenset(granted))
    assert grants.has_roles(["editor"]) and grants.has_roles([])
    assert not grants.has_roles(["editor", "admin"])
    assert grants.has_permissions(["articles:publish"])
    assert not Grants().has_permissions(["articles:read"])


@pytest.mark.parametrize(
    "permission",
    ["a", "articles:write", "*", "a:*:c", "billing.invoices:read-all", "x" * 128, "!#$%&'()+"],
)
def test_well_formed_permissions(permission: str) -> None:
    assert validate_permission(permission) == permission


@pytest.mark.parametrize(
    ("permission", "reason"),
    [
        ("", "printable ASCII"),
        ("x" * 129, "printable ASCII"),
        ("has space", "printable ASCII"),
        ("a,b", "printable ASCII"),
        ("é", "printable ASCII"),
        ("tab\t", "printable ASCII"),
        ("a::b", "empty segment"),
        (":a", "empty segment"),
        ("a:", "empty segment"),
        ("art*", "whole segment"),
        ("a:**", "whole segment"),
        (None, "printable ASCII"),
    ],
)
def test_malformed_permissions(permission: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_permission(permission)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("editor", True),
        ("Team.Lead-2", True),
        ("org:admin", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("-editor", False),
        ("two words", False),
        ("a,b", False),
        ("a/b", False),
        ("é", False),
        (None, False),
    ],
)
def test_role_names(name: str, valid: bool) -> None:
    assert is_role_name(name) is valid
    if valid:
        assert validate_role_name(name) == name
    else:
        with pytest.raises(ValueError, match="not a role name"):
            validate_role_name(name)


def test_names_from_a_string_or_a_sequence() -> None:
    assert as_names(None) == ()
    assert as_names("editor") == ("editor",)
    assert as_names(["a", "b"]) == ("a", "b")
