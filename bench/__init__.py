"""`make bench`: the live path under load (a benchmark, not a test).

bench.run starts the app under Daphne (and a bare `websockets` broadcast
server as the ceiling), bench.client is the load generator, bench.seed fills a
fresh bench database, bench.settings keeps the bench's Redis traffic apart.
"""
