"""Parsing user ids: mixins for the user manager."""

import uuid
from typing import Any

from doorkeeper import exceptions

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class UUIDIDMixin:
    """Ids are UUIDs."""

    def parse_id(self, value: Any) -> uuid.UUID:
        if isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(value)
        except (ValueError, TypeError, AttributeError) as error:
            raise exceptions.InvalidID() from error


class IntegerIDMixin:
    """Ids are integers (a 64-bit signed range, as database integer keys are)."""

    def parse_id(self, value: Any) -> int:
        if isinstance(value, bool | float):
            raise exceptions.InvalidID()
        try:
            parsed = int(value)
        except (ValueError, TypeError) as error:
            raise exceptions.InvalidID() from error
        if not _INT64_MIN <= parsed <= _INT64_MAX:
            raise exceptions.InvalidID()
        return parsed
