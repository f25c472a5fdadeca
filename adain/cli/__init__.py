"""The command line (`adain …`, `python -m adain …`) and what only it uses: the sub-commands'
parsers and runners, the web demo (`serve`, `serve_jobs`), `bench`, and the built-in example
images.  `main` builds the parser without importing torch, so `--help` answers at once."""
