"""`python -m scheduler` is the `npswatch` command; the service starts its jobs this way."""
from .cli import app

app(prog_name="npswatch")
