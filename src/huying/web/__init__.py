"""呼应综合指挥平台 — the web console, served by huying itself: server-rendered pages over the
application's own commands and the API's own read queries, signed in with a token. Mounted by
``huying.web.console.install``.

This package's own import stays light: the console's tables (``huying.web.tables``) are part of
every process's schema (migrations, ``huying project``), which need none of its pages."""
