//! The signing primitives the providers share: SHA-256 and HMAC-SHA256, in hex.
