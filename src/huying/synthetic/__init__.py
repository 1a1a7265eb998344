"""A realistic synthetic district history, written through huying's own commands
(``huying seed --synthetic N``): for benchmarks at a city's scale and for tests of them."""
