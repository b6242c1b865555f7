//! The signing primitives the SMS providers share: SHA-256 and HMAC-SHA256 in hex, and
//! the RFC 3986 percent-encoding both Aliyun's ACS3 and Tencent's TC3 canonical requests
//! are built with (unreserved `A–Z a–z 0–9 - _ . ~` kept, everything else as `%XY` in
//! upper-case hex, a space as `%20`, never `+`). Each provider's canonical request and
//! string to sign are its own file's (`aliyun`, `tencent`); only the pieces they have in
//! common live here.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, lower-case hex (both providers' `HexEncode(Hash(…))`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// HMAC-SHA256 of `message` under `key`, raw bytes (Tencent chains these to derive its
/// signing key, so the intermediate keys stay binary).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC hashes a key longer than the block and pads a shorter one: every length is valid,
    // so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC-SHA256 accepts a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA256 in lower-case hex: the form a signature travels in.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    hex::encode(hmac_sha256(key, message))
}

/// RFC 3986 percent-encoding of `text`'s UTF-8 bytes, as both providers canonicalise query
/// names and values: unreserved characters stay, every other byte is `%XY` in upper-case.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The canonical query string: each name and value percent-encoded, the pairs sorted by
/// encoded name (then value, so a repeated name is still deterministic), joined with `&`.
/// The same text is what goes on the wire, so what was signed is what was sent.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_nothing_is_the_well_known_digest() {
        // The empty body's hash both providers' documents show (Aliyun's
        // x-acs-content-sha256 for a request without a body).
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn percent_encoding_keeps_only_the_unreserved() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("a b+c*d/e=f&g"), "a%20b%2Bc%2Ad%2Fe%3Df%26g");
        assert_eq!(percent_encode("{\"n\":1}"), "%7B%22n%22%3A1%7D");
        // Multi-byte UTF-8: every byte, upper-case hex.
        assert_eq!(percent_encode("督办"), "%E7%9D%A3%E5%8A%9E");
    }

    #[test]
    fn canonical_query_sorts_by_encoded_name() {
        assert_eq!(
            canonical_query(&[("b", "2"), ("a", "x y"), ("TemplateCode", "SMS_1")]),
            "TemplateCode=SMS_1&a=x%20y&b=2"
        );
        assert_eq!(canonical_query(&[]), "");
    }
}
