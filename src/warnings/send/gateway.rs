//! A generic HTTP SMS gateway: a configured body template, an `Idempotency-Key` header.
