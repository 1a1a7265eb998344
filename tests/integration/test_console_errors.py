"""A console page refuses a bad query string as a page a person can read: the API's status, the
field and the reason, in Chinese beside English — while the API keeps answering problem+json for
the same parameter (both backends)."""

from __future__ import annotations

from httpx import Client

from conftest import Tokens
from integration.test_console_sessions import sign_in


def test_a_bad_query_string_on_a_console_page_is_an_html_page_naming_the_field(
    client: Client, tokens: Tokens
) -> None:
    sign_in(client, tokens.token("supervisor", "LW"))
    for url, field in (
        ("/console/assessment?period=abc", "period"),
        ("/console/audit/export/scores?from=99999-01-01", "from"),
        ("/console/duplicates?item=C01-01&grid=LW-LN-01-G01&lat=1e309", "lat"),
    ):
        answer = client.get(url)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("text/html"), url
        assert "请求有误" in answer.text and f"{field}:" in answer.text, (url, answer.text)
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    api = client.get(
        "/api/v1/scores/assessment?kind=street&period=abc", headers=tokens.headers("supervisor", "LW")
    )
    assert api.status_code == 422 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["errors"][0]["field"] == "period"


def test_a_console_address_that_is_no_page_is_an_html_page_too(client: Client, tokens: Tokens) -> None:
    sign_in(client, tokens.token("street", "LW-LN"))
    for method, url, status in (("GET", "/console/nope", 404), ("POST", "/console/overview", 405)):
        answer = client.request(method, url)
        assert answer.status_code == status, (url, answer.text)
        assert answer.headers["content-type"].startswith("text/html"), url
        assert "返回首页" in answer.text
    api = client.get("/api/v1/nope", headers=tokens.headers("street", "LW-LN"))
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
