"""The scheduler service: `npswatch run` (service), the job runner (jobs) and its logging (logs)."""
