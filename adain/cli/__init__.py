"""The command line (`adain …`, `python -m adain …`) and what only it uses: the sub-commands'
parsers and runners, the web demo (`serve`, `serve_jobs`), `bench`, and the built-in example
images.  `main` builds the parser without importing torch, so `--help` answers at once."""


def console_main() -> None:
    """The `adain` console script (pyproject.toml: adain.cli.main:console_main); also reachable
    here for installs whose script still names `adain.cli:console_main`."""
    from adain.cli.main import console_main as run

    run()
