"""The functional core: pure functions from a post's text to normalised facts.

No I/O at call time, no database: data files are loaded once, at first use.
"""
