"""The servers P1 measures huying against, each a small FastAPI app served by uvicorn exactly as
``huying serve`` serves huying (same worker count, log level, no access log).

- ``bare``: the same ``CallCreate`` model, no storage — P1's baseline;
- ``es_app``: the obvious event-sourced app — the library's plain ``Application``, one
  aggregate and one event per POST (for context);
- ``crud``: the obvious FastAPI + SQLAlchemy CRUD insert, one ORM session per request (for
  context).

Where they store comes from ``BENCH_DB_URL`` (a SQLAlchemy URL, SQLite or PostgreSQL).
"""
