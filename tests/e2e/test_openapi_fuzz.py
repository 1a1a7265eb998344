"""schemathesis over `/openapi.json`, against the real `huying serve` over TCP: whatever the
document allows (and, in negative mode, what it does not), the server never answers 5xx, and every
answer fits the document — its status is declared, its content type is the declared one, and
its body validates against the declared schema (problem+json for every error).

Generated ids rarely name anything, so about half of them are swapped for real ones (calls and
work orders seeded first): the fuzzer then reaches the commands' rules, not only the 404s.
Generated values seldom sit exactly on an edge, so about one in three of the numbers, dates,
times, periods, ETags and keys the document declares is swapped for one at or beyond the edge of
its kind (``edges.py``): year 0001 and 9999, 2**63, 5000 digits, ``²``. Long-polls and
read-your-writes waits are shortened to zero: they are tested elsewhere, and here they would only
make the run slow.
"""

from __future__ import annotations

import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backends import Backend
from deployment_templates import Templates

from .edges import Slot, slots
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
MAX_POSITION = 2**63 - 1
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
            auditing = any(part in path for part in ("/audit", "/events", "/exports"))
            return self.tokens["auditor" if auditing else "supervisor"]
        if path.startswith("/api/v1/catalog"):  # the admin edits the reference data
            return self.tokens["admin"]
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
def world(
    backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "logs").mkdir()
    server = Server(backend.settings(root / "var"), root / "logs")
    templates.of(backend).deploy(server.settings)  # as `huying migrate` leaves it (test_cli runs that)
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
    return {"call_id": calls, "order_id": orders, "code": [DEPARTMENT], "item_code": ["C01-01", "C11-01"]}


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
    document = api.raw_schema
    for operation in operations:
        edges = st.just(slots(document, operation.path, operation.method))

        @given(case=operation.as_strategy(generation_mode=mode), targets=edges, data=st.data())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases on every run: a CI failure reproduces
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: over HTTP it takes minutes
        )
        def fits(case: Any, targets: list[Slot], data: st.DataObject) -> None:
            _at_the_edges(case, targets, data)
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


def _at_the_edges(case: Any, targets: list[Slot], data: st.DataObject) -> None:
    """Two cases in three get one value at or beyond the edge of its kind, in one slot; the
    optional query parameters beside it are dropped, so that no other refusal hides it."""
    if not targets or data.draw(st.integers(0, 2)) == 0:
        return
    slot = data.draw(st.sampled_from(targets))
    *outer, name = slot.name
    if slot.location == "query":
        case.query = {k: v for k, v in case.query.items() if k in slot.beside}
    holder = {"query": case.query, "header": case.headers}.get(slot.location, case.body)
    for key in outer:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if isinstance(holder, dict) or slot.location == "header":
        holder[name] = data.draw(st.sampled_from(slot.values))


def _realistic(case: Any, world: World) -> None:
    for name, real in world.ids.items():
        value = (case.path_parameters or {}).get(name)
        if isinstance(value, str) and zlib.crc32(value.encode()) % 2 == 0:
            case.path_parameters[name] = real[zlib.crc32(value.encode()) // 2 % len(real)]
    query = case.query or {}
    for waiting in ("wait", "min_position"):
        if _honoured(waiting, query.get(waiting)):
            query[waiting] = 0


def _honoured(name: str, value: object) -> bool:
    """A wait the server would honour (a number it would wait for); other values stay, to be
    refused."""
    text = str(value)
    if name == "min_position":  # a position: ASCII digits, 64 bits
        return text.isascii() and text.isdigit() and int(text.lstrip("0")[:20] or 0) <= MAX_POSITION
    try:
        return value is not None and float(text) >= 0
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


SHAPED = {"from", "to", "period", "as_of", "checkpoint", "if-match", "idempotency-key"}


def test_the_document_declares_the_shape_and_range_of_each_bounded_value(world: World) -> None:
    """What the generated values and the edges are chosen by: every integer parameter declares
    both ends, and every date, time, period, checkpoint, ETag and key its format or pattern."""
    with world.server.client() as http:
        doc = http.get("/openapi.json").json()
    undeclared = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
                for option in (o.get("items", o) for o in options):
                    unbounded = option.get("type") == "integer" and not {"minimum", "maximum"} <= set(option)
                    shapeless = parameter["name"] in SHAPED and not {"format", "pattern", "anyOf"} & set(
                        option
                    )
                    if unbounded or shapeless:
                        undeclared.append((method, path, parameter["name"], option))
    assert undeclared == []


# Header bytes 0x80–0xFF reach the app as latin-1: ² ³ ¹ are digits to str.isdigit(), not to
# int(). The test client re-encodes such values as UTF-8, so only a real socket sends them as is.
HOSTILE_HEADERS: dict[str, list[bytes]] = {
    "If-Match": [b'"\xb2"', b'W/"\xb3"', b'"1\xb9"', b'"' + b"9" * 5000 + b'"', b'"2147483648"'],
    "Idempotency-Key": [b"\xb2", b"cl\xe9", b"a\tb", b"x" * 201],
}


@pytest.mark.parametrize("name", HOSTILE_HEADERS)
def test_a_header_no_version_or_key_could_be_is_a_422_naming_it(world: World, name: str) -> None:
    call = world.ids["call_id"][2]
    with world.server.client() as http:
        before = http.get(f"/api/v1/calls/{call}", headers=world.tokens["community"]).json()["version"]
        for value in HOSTILE_HEADERS[name]:
            headers = [(k.encode(), v.encode()) for k, v in world.tokens["community"].items()]
            headers.append((name.encode(), value))
            answer = http.post(f"/api/v1/calls/{call}/acknowledge", headers=headers, json={})
            assert answer.status_code == 422, (value[:20], answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in answer.json()["errors"]] == [name], answer.text
        assert (
            http.get(f"/api/v1/calls/{call}", headers=world.tokens["community"]).json()["version"] == before
        )


ABSURD_LENGTHS = [
    b"99999999999999999999999",
    b"-1",
    b"abc",
    b"1e3",
    b"\xb2",
    b"18446744073709551616",
    b"5, 6",
]


@pytest.mark.parametrize("length", ABSURD_LENGTHS, ids=[repr(n)[2:-1] for n in ABSURD_LENGTHS])
def test_an_absurd_content_length_is_refused_at_once(world: World, length: bytes) -> None:
    """Over a raw socket, since an HTTP client writes its own Content-Length: uvicorn's parser
    answers 400 to what is no length, the gate 413 to a length past the limit; never a 5xx."""
    host, port = world.server.base_url.removeprefix("http://").split(":")
    token = world.tokens["grid"]["Authorization"].encode()
    request = b"".join(
        [
            b"POST /api/v1/calls HTTP/1.1\r\nHost: huying\r\nConnection: close\r\n",
            b"Authorization: " + token + b"\r\nContent-Type: application/json\r\n",
            b"Content-Length: " + length + b"\r\n\r\n{}",
        ]
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] in (b"400", b"413"), status_line


def test_the_server_survived_the_fuzzing(world: World) -> None:
    """After everything the fuzzer sent, the same server still answers, and its log holds no
    traceback (an unexpected error answered as a problem would still leave one)."""
    with world.server.client() as http:
        assert http.get("/readyz").status_code == 200
    log = (world.server.log_dir / f"serve-{world.server.starts}.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
