"""The `npswatch` command line (the root command and its registrations: `npswatch.cli.app`).

One module per command group; each parses arguments, calls the application layer and renders the result.
"""
