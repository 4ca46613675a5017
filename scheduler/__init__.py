"""Operations: configuration, the `npswatch` command line and (later) the APScheduler service."""
