"""The agency's event feed: every domain event worth showing, recorded once per agency in a
gapless per-agency sequence (`seq`), read back by `GET /v1/events` and streamed live by
`GET /v1/stream`, each filtered for whoever reads it.

- `catalog`: which event types the feed keeps and who may see each (types not listed, like the
  ones that carry sign-in tokens, are never recorded);
- `visibility`: a reader (`Viewer`) and the one rule deciding what they see and how much of it;
- `cursor`: the opaque cursor over `seq`;
- `store`: recording and reading rows in PostgreSQL.
"""
