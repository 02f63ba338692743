"""The `rag` subcommands of the interface layer, one module each.

Each module has `NAME`, `HELP`, `register(parser)` (its own arguments) and
`run(args) -> int`; `ui.cli` lists them (with `eval.command`) and dispatches.
Heavy modules are imported inside `run`, so `rag --help` stays instant.
"""
