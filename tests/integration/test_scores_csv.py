"""The scores CSV opens as it should in Excel on Chinese Windows — UTF-8 with a byte-order mark,
Chinese column headers — and scripts can still ask for the field codes (``headers=en``)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from httpx import Client
from typer.testing import CliRunner

from backends import use_in_env
from huying.cli import cli
from huying.settings import Settings

BOM = b"\xef\xbb\xbf"
CJK = re.compile(r"[\u4e00-\u9fff]")
# docs/metrics.md §4 names these; the export carries them (and more) as its English codes.
CODES = ("unit", "name", "kind", "rank", "composite", "response_rate", "solve_rate", "satisfaction_rate")


def table(body: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode(encoding))))


def export(client: Client, tokens: Any, **params: str) -> bytes:
    response = client.get(
        "/api/v1/exports/scores",
        params={"period": "2026-11", **params},
        headers=tokens.headers("auditor", "LW"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return response.content


def test_the_scores_csv_is_for_excel_by_default(client: Client, tokens: Any) -> None:
    body = export(client, tokens)
    assert body.startswith(BOM), "Excel reads UTF-8 only after a byte-order mark"
    header, *rows = table(body, "utf-8-sig")
    assert all(CJK.search(name) for name in header), header
    assert {"响应率", "解决率", "满意率", "综合得分", "排名", "单位名称"} <= set(header)
    assert len(set(header)) == len(header)
    assert "岭南街道" in {row[header.index("单位名称")] for row in rows}


def test_scripts_ask_for_the_field_codes(client: Client, tokens: Any) -> None:
    excel, codes = export(client, tokens), export(client, tokens, headers="en")
    assert not codes.startswith(BOM)
    header, *rows = table(codes, "utf-8")
    assert set(CODES) <= set(header) and all(re.fullmatch(r"[a-z_]+", name) for name in header)
    chinese, *same_rows = table(excel, "utf-8-sig")
    assert len(chinese) == len(header) and same_rows == rows


def test_an_unknown_header_language_is_refused_naming_the_parameter(client: Client, tokens: Any) -> None:
    response = client.get(
        "/api/v1/exports/scores", params={"headers": "fr"}, headers=tokens.headers("auditor", "LW")
    )
    assert response.status_code == 422
    assert "headers" in response.text


@pytest.mark.parametrize("language", [None, "zh", "en"])
def test_the_command_line_export_writes_the_same_bytes(
    client: Client, tokens: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch, language: str | None
) -> None:
    use_in_env(monkeypatch, settings)
    args = ["export", "--what", "scores", "--period", "2026-11"]
    result = CliRunner().invoke(cli, args + (["--headers", language] if language else []))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == export(client, tokens, **({"headers": language} if language else {}))
