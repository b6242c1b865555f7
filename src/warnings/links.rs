//! The signed answer links (回告链接) every warning carries: a department's recipients open
//! `/m/answer?d=<department>&e=<expires>&s=<signature>` without a token, and what the link
//! opens is that department's items until `expires`. The signature is HMAC-SHA256 under the
//! configured `link_key` over a canonical text naming the department and the expiry, so
//! neither can be changed without the key; it is checked in constant time. Pure: the
//! instant is an argument.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The shortest key accepted: 256 bits, the hash's own size (a shorter one is easier to
/// guess than the signature is to forge). `openssl rand -hex 32` makes a good one.
pub const MIN_KEY_BYTES: usize = 32;

/// Bytes of the HMAC kept in the link. The links travel in SMS (70 Chinese characters a
/// segment), so the tag is cut to 128 bits, as RFC 4868 does for HMAC-SHA-256-128: still
/// far beyond guessing, and 22 characters instead of 64.
const TAG_BYTES: usize = 16;

/// Why a link is refused, or a key cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature does not match the department and expiry (changed, cut, or made
    /// with another key).
    #[error(
        "the link's signature does not match its department and expiry (changed or not issued by duban)"
    )]
    Tampered,
    /// Signed, but its time is up.
    #[error("the link expired at {expired_at} (unix seconds)")]
    Expired { expired_at: i64 },
    #[error(
        "the link key has {len} bytes; at least {MIN_KEY_BYTES} are needed (make one with `openssl rand -hex 32`)"
    )]
    ShortKey { len: usize },
}

/// A key that can sign links: long enough, checked once.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LinkKey(*** {} bytes)", self.0.len())
    }
}

impl LinkKey {
    pub fn new(key: &[u8]) -> Result<Self, LinkError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(LinkError::ShortKey { len: key.len() });
        }
        Ok(Self(key.to_vec()))
    }

    fn tag(&self, department: &str, expires: i64) -> [u8; TAG_BYTES] {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        mac.update(canonical(department, expires).as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

/// What is signed. The department's length goes first, so that no department and expiry
/// can be read as another pair (a name ending in digits, a name with a newline).
fn canonical(department: &str, expires: i64) -> String {
    format!(
        "duban answer link v1\n{}:{department}\n{expires}",
        department.len()
    )
}

/// The signature of a link for `department`, good until `expires` (unix seconds).
pub fn sign(key: &LinkKey, department: &str, expires: i64) -> String {
    URL_SAFE_NO_PAD.encode(key.tag(department, expires))
}

/// Whether `signature` is the one for `department` and `expires`, and the link still good
/// at `now` (unix seconds). A wrong signature is `Tampered` whatever the expiry, so that a
/// changed expiry is never reported as merely expired.
pub fn verify(
    key: &LinkKey,
    department: &str,
    expires: i64,
    signature: &str,
    now: i64,
) -> Result<(), LinkError> {
    let expected = key.tag(department, expires);
    let given = URL_SAFE_NO_PAD
        .decode(signature.as_bytes())
        .map_err(|_| LinkError::Tampered)?;
    // `ct_eq` of slices of other lengths is false at once: the length is no secret.
    if !bool::from(given.as_slice().ct_eq(&expected)) {
        return Err(LinkError::Tampered);
    }
    if now >= expires {
        return Err(LinkError::Expired {
            expired_at: expires,
        });
    }
    Ok(())
}

/// The link a message carries: `{base}/m/answer?d=…&e=…&s=…`.
pub fn answer_link(base: &str, key: &LinkKey, department: &str, expires: i64) -> String {
    let name: String = form_urlencoded::byte_serialize(department.as_bytes()).collect();
    format!(
        "{base}/m/answer?d={name}&e={expires}&s={}",
        sign(key, department, expires)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkKey {
        LinkKey::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    const DEPT: &str = "市自然资源和规划局";
    const EXPIRES: i64 = 1_800_000_000;
    const NOW: i64 = EXPIRES - 3600;

    #[test]
    fn a_signed_link_is_accepted_until_it_expires() {
        let s = sign(&key(), DEPT, EXPIRES);
        assert_eq!(s.len(), 22, "{s}");
        assert_eq!(verify(&key(), DEPT, EXPIRES, &s, NOW), Ok(()));
        assert_eq!(verify(&key(), DEPT, EXPIRES, &s, EXPIRES - 1), Ok(()));
        assert_eq!(
            verify(&key(), DEPT, EXPIRES, &s, EXPIRES),
            Err(LinkError::Expired {
                expired_at: EXPIRES
            })
        );
        assert_eq!(
            verify(&key(), DEPT, EXPIRES, &s, EXPIRES + 86_400),
            Err(LinkError::Expired {
                expired_at: EXPIRES
            })
        );
    }

    #[test]
    fn a_changed_department_expiry_or_signature_is_tampered() {
        let s = sign(&key(), DEPT, EXPIRES);
        assert_eq!(
            verify(&key(), "市住房和城乡建设局", EXPIRES, &s, NOW),
            Err(LinkError::Tampered)
        );
        assert_eq!(
            verify(&key(), DEPT, EXPIRES + 86_400, &s, NOW),
            Err(LinkError::Tampered),
            "a later expiry is not accepted"
        );
        // A changed expiry in the past is tampered too, not "expired".
        assert_eq!(
            verify(&key(), DEPT, NOW - 10, &s, NOW),
            Err(LinkError::Tampered)
        );
        let mut changed: Vec<char> = s.chars().collect();
        changed[5] = if changed[5] == 'A' { 'B' } else { 'A' };
        let changed: String = changed.into_iter().collect();
        assert_eq!(
            verify(&key(), DEPT, EXPIRES, &changed, NOW),
            Err(LinkError::Tampered)
        );
        for bad in [
            "",
            &s[..21],
            &format!("{s}A"),
            "not base64!",
            &s.to_uppercase(),
        ] {
            assert_eq!(
                verify(&key(), DEPT, EXPIRES, bad, NOW),
                Err(LinkError::Tampered),
                "{bad:?}"
            );
        }
        let other = LinkKey::new(b"another key of thirty-two bytes!").unwrap();
        assert_eq!(
            verify(&other, DEPT, EXPIRES, &s, NOW),
            Err(LinkError::Tampered)
        );
    }

    #[test]
    fn department_and_expiry_cannot_be_shifted_into_each_other() {
        // Without the length the text "…局1\n800000000" would be the same for two pairs.
        assert_ne!(
            canonical("局1", 800_000_000),
            canonical("局", 1_800_000_000)
        );
        assert_ne!(
            sign(&key(), "a\n1", 2),
            sign(&key(), "a", 12),
            "a newline in a name"
        );
    }

    #[test]
    fn a_short_key_is_refused() {
        assert_eq!(
            LinkKey::new(b"short").err(),
            Some(LinkError::ShortKey { len: 5 })
        );
        assert!(LinkKey::new(&[0u8; 31]).is_err());
        assert!(LinkKey::new(&[0u8; 32]).is_ok());
        assert!(!format!("{:?}", key()).contains("0123"), "no key in Debug");
    }

    #[test]
    fn messages_carry_the_signed_link_with_a_key_and_the_phone_page_without() {
        use crate::warnings::engine::phone_link;
        let base = "https://duban.example.gov.cn";
        assert_eq!(
            phone_link(base, None, EXPIRES, "市 局"),
            "https://duban.example.gov.cn/m/dept/%E5%B8%82+%E5%B1%80"
        );
        let link = phone_link(base, Some(&key()), EXPIRES, DEPT);
        assert_eq!(link, answer_link(base, &key(), DEPT, EXPIRES));
        assert!(
            link.starts_with("https://duban.example.gov.cn/m/answer?d="),
            "{link}"
        );
    }

    #[test]
    fn the_link_names_the_department_url_encoded() {
        let link = answer_link("https://duban.example.gov.cn", &key(), DEPT, EXPIRES);
        let query = link
            .strip_prefix("https://duban.example.gov.cn/m/answer?")
            .unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(pairs[0], ("d".to_owned(), DEPT.to_owned()));
        assert_eq!(pairs[1], ("e".to_owned(), EXPIRES.to_string()));
        assert_eq!(verify(&key(), DEPT, EXPIRES, &pairs[2].1, NOW), Ok(()));
        assert!(!query.contains(DEPT), "encoded: {query}");
    }
}
