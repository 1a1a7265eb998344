"""Revocation takes effect immediately (design/targets.md), though the server remembers live
tokens: `huying token revoke`, another process, is heard by the running server at once."""

from __future__ import annotations

from .server import Server


def test_a_token_revoked_from_the_shell_is_refused_at_the_servers_next_request(server: Server) -> None:
    server.start()
    headers = server.token("street", "LW-LN")
    with server.client() as http:
        for _ in range(3):  # looked up once, then remembered
            assert http.get("/api/v1/catalog", headers=headers).status_code == 200
        listed = [line.split("\t") for line in server.cli("token", "list").splitlines()]
        (token_id,) = [row[0] for row in listed if row[1:3] == ["street", "LW-LN"]]
        server.cli("token", "revoke", token_id)
        refused = http.get("/api/v1/catalog", headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
