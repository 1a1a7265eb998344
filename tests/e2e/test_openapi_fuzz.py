"""schemathesis over `/openapi.json`, against the real `huying serve` over TCP: whatever the
document allows (and, in negative mode, what it does not), the server never answers 5xx, and every
answer fits the document — its status is declared, its content type is the declared one, and
its body validates against the declared schema (problem+json for every error).

Generated ids rarely name anything, so about half of them are swapped for real ones (calls and
work orders seeded first): the fuzzer then reaches the commands' rules, not only the 404s.
Long-polls and read-your-writes waits are shortened to zero: they are tested elsewhere, and
here they would only make the run slow.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backends import Backend

from .server import Server

pytestmark = pytest.mark.slow

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
STREET = "LW-LN"
DEPARTMENT = "CG"
DISTRICT = "LW"
MONDAY_MORNING = "2026-11-23T09:00:00+08:00"
RAISE: dict[str, Any] = {
    "item_code": "C01-01",
    "grid_code": GRID,
    "title": "人行道地砖松动",
    "description": "多块地砖松动，雨天溅水。",
    "channel": "grid_worker",
    "reporter": {"name": "张三丰", "phone": "13812345678"},
}
EXAMPLES = 40  # per operation and mode
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class World:
    server: Server
    tokens: dict[str, dict[str, str]]
    ids: dict[str, list[str]]  # path parameter → real values to swap in

    def headers_for(self, method: str, path: str) -> dict[str, str]:
        """The party who would send this request: the holder acts on calls, the department on its
        orders, the grid worker raises and uploads, the supervisor reads and supervises."""
        if method == "GET":
            return self.tokens["auditor" if "/audit" in path or "/events" in path else "supervisor"]
        if path.startswith("/api/v1/work-orders/"):
            return self.tokens["street" if "/extension/" in path else "department"]
        if path in ("/api/v1/calls", "/api/v1/attachments"):
            return self.tokens["grid"]
        if path.endswith(("/dispatch",)):
            return self.tokens["street"]
        if path.endswith(("/supervise", "/reporter")):
            return self.tokens["supervisor"]
        return self.tokens["community"]


@pytest.fixture(scope="module")
def world(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "logs").mkdir()
    server = Server(backend.settings(root / "var"), root / "logs")
    server.cli("migrate")
    tokens = {
        "grid": server.token("grid_worker", GRID),
        "community": server.token("community", COMMUNITY),
        "street": server.token("street", STREET),
        "department": server.token("department", DEPARTMENT),
        "supervisor": server.token("supervisor", DISTRICT),
        "auditor": server.token("auditor", DISTRICT),
        "admin": server.token("admin", DISTRICT),
    }
    server.start()
    try:
        yield World(server, tokens, _seed(server, tokens))
    finally:
        server.cleanup()


def _seed(server: Server, tokens: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """A few calls in different states, one of them with a work order at the department."""
    with server.client() as http:
        assert http.post("/api/v1/_clock", headers=tokens["admin"], json={"now": MONDAY_MORNING}).is_success
        calls = []
        for n in range(3):
            raised = http.post("/api/v1/calls", headers=tokens["grid"], json={**RAISE, "title": f"#{n}"})
            assert raised.status_code == 201, raised.text
            calls.append(raised.json()["id"])
        first, second, _ = calls
        for path, who, body in [
            (f"/api/v1/calls/{first}/acknowledge", "community", {}),
            (f"/api/v1/calls/{second}/escalate", "community", {"reason": "需要街道协调"}),
            (f"/api/v1/calls/{second}/acknowledge", "street", {}),
            (
                f"/api/v1/calls/{second}/dispatch",
                "street",
                {"lead_department": DEPARTMENT, "instructions": "请现场核查"},
            ),
        ]:
            answer = http.post(path, headers=tokens[who], json=body)
            assert answer.status_code == 200, f"{path}: {answer.text}"
        orders = [o["id"] for o in answer.json()["work_orders"]]
    return {"call_id": calls, "order_id": orders, "code": [DEPARTMENT]}


@pytest.fixture(scope="module")
def api(world: World) -> Any:
    return schemathesis.openapi.from_url(f"{world.server.base_url}/openapi.json")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_answer_fits_the_document_and_none_is_a_server_error(
    api: Any, world: World, mode: GenerationMode
) -> None:
    """Every operation in turn (each its own Hypothesis run); all failures are reported together."""
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 38, "the document lists every endpoint"
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases on every run: a CI failure reproduces
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: over HTTP it takes minutes
        )
        def fits(case: Any) -> None:
            _realistic(case, world)
            case.call_and_validate(
                headers=world.headers_for(case.method.upper(), case.formatted_path), checks=CHECKS, timeout=30
            )

        try:
            fits()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, f"{operation.path}: no valid input to generate"
            # nothing to get wrong: the operation takes no parameters and no body
        except (Exception, BaseExceptionGroup) as failure:  # collected, reported with its operation
            failures[f"{operation.method.upper()} {operation.path}"] = str(failure)[:3000]
    assert not failures, "\n\n".join(f"{op}:\n{why}" for op, why in failures.items())


def _realistic(case: Any, world: World) -> None:
    for name, real in world.ids.items():
        value = (case.path_parameters or {}).get(name)
        if isinstance(value, str) and zlib.crc32(value.encode()) % 2 == 0:
            case.path_parameters[name] = real[zlib.crc32(value.encode()) // 2 % len(real)]
    query = case.query or {}
    for waiting in ("wait", "min_position"):
        if _number(query.get(waiting)):
            query[waiting] = 0


def _number(value: object) -> bool:
    """Anything the server would read as a number (a wait it would honour); other values stay,
    to be refused."""
    try:
        return value is not None and float(str(value)) >= 0
    except ValueError:
        return False


def test_the_document_declares_problem_json_and_the_bearer_scheme(world: World) -> None:
    """What the fuzzer relies on, stated once: errors are documented as problem+json, and the
    API as bearer-authenticated (which is what gives /docs its Authorize button)."""
    with world.server.client() as http:
        doc = http.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "huying token create --role … --unit …",
    }
    raise_call = doc["paths"]["/api/v1/calls"]["post"]
    assert raise_call["security"] == [{"bearer": []}]
    for status in ("401", "403", "409", "412", "413", "422"):
        content = raise_call["responses"][status]["content"]
        assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "security" not in doc["paths"]["/healthz"]["get"]


def test_the_server_survived_the_fuzzing(world: World) -> None:
    """After everything the fuzzer sent, the same server still answers, and its log holds no
    traceback (an unexpected error answered as a problem would still leave one)."""
    with world.server.client() as http:
        assert http.get("/readyz").status_code == 200
    log = (world.server.log_dir / f"serve-{world.server.starts}.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
