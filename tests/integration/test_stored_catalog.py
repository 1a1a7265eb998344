"""Events are forever, for the admin's catalog edits too: the log in ``stored_catalog`` (every
event class of ``CatalogEdits``, and calls raised before and after the edits) folds into today's
aggregate and catalog as the story left them, and every answer about them is the one huying
gave: the catalog, its edits, its items and both calls."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from aggregates import event_topics
from huying.bootstrap import Services
from huying.domain.catalog_edits import CatalogEdits, edits_id

from .stored_by_main import (
    Observed,
    answers_as_they_were,
    feed_verify_and_rows_as_they_were,
    observed,
    replay_and_export_agree,
    replayed,
    stored_topics,
)
from .stored_catalog import FIXTURE, observe


@pytest.fixture(scope="module")
def today(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Observed, Services]]:
    with replayed(FIXTURE, tmp_path_factory, observe) as found:
        yield found


def test_the_fixture_holds_every_event_class_of_the_catalog_edits() -> None:
    wanted = event_topics(CatalogEdits)
    assert len(wanted) == 5 and wanted <= stored_topics(FIXTURE), sorted(wanted - stored_topics(FIXTURE))


def test_the_stored_edits_fold_into_todays_catalog(today: tuple[Observed, Services]) -> None:
    services = today[1]
    edits: CatalogEdits = services.app.repository.get(edits_id("LW"))
    assert (edits.base_version, edits.edit_count, edits.retired) == ("2026.1", 4, set())
    catalog = services.app.catalog
    assert catalog.version == "2026.1+4" and catalog.in_effect("C01-02") is not None
    added, changed = catalog.item("C01-04"), catalog.item("C01-01")
    assert added is not None and changed is not None
    assert (added.assisting_departments, changed.priority.value) == (("ZJ",), "urgent")
    versions = [services.calls.current(UUID(i)).catalog_version for i in today[0]["calls"]]  # type: ignore[union-attr]
    assert sorted(versions) == ["2026.1", "2026.1+2"]


def test_every_answer_about_them_reads_as_it_did(today: tuple[Observed, Services]) -> None:
    answers_as_they_were(today[0], observed(FIXTURE), ("calls", "catalog"))


def test_the_feed_verify_and_rebuilt_read_models_are_as_they_were(today: tuple[Observed, Services]) -> None:
    feed_verify_and_rows_as_they_were(today[0], observed(FIXTURE), today[1])


def test_audit_replay_and_the_export_cover_them(
    today: tuple[Observed, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    types = ",".join(
        f"CatalogEdits.{n}" for n in ("Begun", "ItemAdded", "ItemChanged", "ItemRetired", "ItemRestored")
    )
    replay_and_export_agree(*today, monkeypatch, types, batch_size=5)
