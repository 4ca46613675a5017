"""Telegram collection with Telethon: login, live listener, backfill and gap repair, export import, discovery.

Modules:
- `client`: credentials, the private session file, the client factory (the one network seam), FloodWait
  handling and the entity cache (a username is resolved once);
- `login`: the interactive `npswatch telegram login`;
- `convert`: a Telegram message (Telethon object) -> `RawPost` + channel links; shared with the importer;
- `batch`: the batching writer (bulk writes on size or time, latency recorded);
- `collector`: event handlers, backfill/reconcile from checkpoints, the listener loop;
- `export`: Telegram Desktop JSON exports;
- `graph`: the forward/mention network as GEXF;
- `offline`: an offline Telegram (the sender end of a real Telethon client) for tests, benchmarks and demos.
"""
