"""`python -m npswatch` is the `npswatch` command; the service starts its jobs this way."""
from npswatch.cli import main

main()
