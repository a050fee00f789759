import pytest


@pytest.fixture(autouse=True)
def ids_apart(db: None) -> None:
    """Every check's rows get IDs that no other table uses (see factories.ID_STARTS)."""
    from .factories import start_ids_apart  # the kata's models load once Django is set up

    start_ids_apart()
