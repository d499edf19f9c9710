from sqlalchemy.ext.asyncio import AsyncSession

from doorkeeper.db import SQLAlchemyUserDatabase
from tests.models import User


async def test_create_and_get_by_email(session: AsyncSession) -> None:
    user_db = SQLAlchemyUserDatabase(session, User)
    user = await user_db.create({"email": "Lancelot@camelot.bt", "hashed_password": "x"})
    found = await user_db.get_by_email("LANCELOT@CAMELOT.BT")
    assert found is not None
    assert found.id == user.id
    assert found.email == "Lancelot@camelot.bt"
