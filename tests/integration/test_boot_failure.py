"""A service that cannot boot says why in words an operator can act on, not as a message repr."""

from __future__ import annotations

import pytest

from delivery.actors.system import ActorRuntime, ActorSystemUnavailable
from tests.conftest import make_settings


@pytest.mark.sqlite_only  # the broken file is SQLite's
def test_a_data_file_that_is_not_a_database_is_named_as_the_reason(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "delivery.sqlite3").write_text("not a database")
    runtime = ActorRuntime(make_settings(tmp_path / "data"))
    with pytest.raises(ActorSystemUnavailable) as failed:
        runtime.start()
    assert "file is not a database" in str(failed.value), failed.value
    assert "PoisonMessage" not in str(failed.value)
    assert not runtime.running
