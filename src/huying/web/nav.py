"""The console's navigation, as a registry: each area of work registers its entry, naming the
roles it is for. Directives (令行禁止) and joint meetings (联席会议) add theirs here, beside
their pages (``huying.web.pages.register``), without touching the console's layout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from huying.domain.principal import Principal, Role

EVERYONE = frozenset(Role) - {Role.SYSTEM}


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str  # 中文
    english: str
    roles: frozenset[Role]
    order: int
    # The link for a principal (a department's queue is its own); default: ``/console/<key>``.
    link: Callable[[Principal], str] | None = field(default=None, compare=False)

    def href(self, principal: Principal) -> str:
        return self.link(principal) if self.link else f"/console/{self.key}"


_ENTRIES: dict[str, NavEntry] = {}


def register(entry: NavEntry) -> None:
    """Adds (or replaces, by key) an entry of the navigation."""
    _ENTRIES[entry.key] = entry


def entries_for(principal: Principal) -> list[NavEntry]:
    return sorted((e for e in _ENTRIES.values() if principal.role in e.roles), key=lambda e: e.order)


def home_of(principal: Principal) -> str:
    """Where a principal lands after signing in: its first entry."""
    entries = entries_for(principal)
    return entries[0].href(principal) if entries else "/console/login"


for _entry in (
    NavEntry(
        "raise", "上报", "Raise a call", frozenset({Role.GRID_WORKER, Role.COMMUNITY, Role.SUPERVISOR}), 10
    ),
    NavEntry("mine", "我的上报", "My calls", frozenset({Role.GRID_WORKER}), 20),
    NavEntry("work", "工作台", "Worklist", frozenset({Role.COMMUNITY, Role.STREET}), 5),
    NavEntry(
        "queue",
        "工单队列",
        "Work orders",
        frozenset({Role.DEPARTMENT}),
        5,
        link=lambda p: f"/console/queue/{p.unit}",
    ),
    NavEntry(
        "overview",
        "督办总览",
        "Overview",
        frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN, Role.STREET, Role.COMMUNITY}),
        8,
    ),
    NavEntry("audit", "审计", "Audit", frozenset({Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN}), 40),
    NavEntry("admin", "管理", "Admin", frozenset({Role.ADMIN}), 50),
):
    register(_entry)
