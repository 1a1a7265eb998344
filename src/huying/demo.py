"""The demo district (Liwan): one token per demo role and unit, created once."""

from __future__ import annotations

from pathlib import Path

from huying.bootstrap import Services
from huying.domain.org import Org, UnitKind
from huying.domain.principal import Principal, Role

UNIT_KIND_OF_ROLE: dict[Role, UnitKind] = {
    Role.GRID_WORKER: UnitKind.GRID,
    Role.COMMUNITY: UnitKind.COMMUNITY,
    Role.STREET: UnitKind.STREET,
    Role.DEPARTMENT: UnitKind.DEPARTMENT,
    Role.MEMBER: UnitKind.MEMBER,
    Role.SUPERVISOR: UnitKind.DISTRICT,
    Role.AUDITOR: UnitKind.DISTRICT,
    Role.ADMIN: UnitKind.DISTRICT,
}


def principal_for_token(org: Org, role: str, unit: str) -> Principal:
    """A principal a token may carry: the unit must exist and be of the role's kind."""
    try:
        parsed = Role(role)
    except ValueError:
        raise ValueError(f"unknown role {role!r}") from None
    if parsed not in UNIT_KIND_OF_ROLE:
        raise ValueError(f"role {role} has no token")
    kind = UNIT_KIND_OF_ROLE[parsed]
    if not org.is_kind(unit, kind):
        raise ValueError(f"a {role} token acts for a {kind}; {unit!r} is not one in org {org.version}")
    return Principal(parsed, unit)


def demo_principals(org: Org) -> list[Principal]:
    """Every role at the first units of two streets, so jurisdiction can be tried both ways."""
    district = org.district.code
    streets = org.of_kind(UnitKind.STREET)
    found: list[Principal] = []
    for street in streets:
        community = org.children(street.code)[0]
        grid = org.children(community.code)[0]
        found += [
            Principal(Role.GRID_WORKER, grid.code),
            Principal(Role.COMMUNITY, community.code),
            Principal(Role.STREET, street.code),
        ]
    found += [Principal(Role.DEPARTMENT, d.code) for d in org.of_kind(UnitKind.DEPARTMENT)]
    found += [Principal(r, district) for r in (Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)]
    return found


def seed_demo(services: Services, data_dir: Path) -> tuple[Path, bool]:
    """Writes var/demo-tokens.txt once; later runs keep it while its tokens still work."""
    path = data_dir / "demo-tokens.txt"
    if path.exists() and _still_valid(services, path):
        return path, False
    org = services.app.org
    lines = [
        "# huying demo tokens (HUYING_DEMO=1). role\tunit\tunit name\ttoken",
    ]
    for principal in demo_principals(org):
        _, token = services.tokens.create(principal, label="demo")
        unit = org.unit(principal.unit)
        lines.append(f"{principal.role}\t{principal.unit}\t{unit.name if unit else ''}\t{token}")
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path, True


def _still_valid(services: Services, path: Path) -> bool:
    tokens = [
        line.split("\t")[-1] for line in path.read_text().splitlines() if line and not line.startswith("#")
    ]
    return bool(tokens) and all(services.tokens.principal_for(t) is not None for t in tokens)
