//! Webhook signatures: `AllureConnect-Signature: t=<unix seconds>,v1=<hex>`
//! where each `v1` is HMAC-SHA256, keyed by a secret (the whole `whsec_…`
//! string, as UTF-8 bytes), over `"<t>.<body>"`. During a secret rotation's
//! grace period the header carries one `v1` per valid secret; a receiver
//! accepts the request when any of them matches its secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "AllureConnect-Signature";

/// How far a receiver should let `t` be from its clock, by default.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// Lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value: `t=<timestamp>,v1=<hex>[,v1=<hex>…]`, one `v1` per secret.
pub fn header(timestamp: i64, secrets: &[&str], body: &[u8]) -> String {
    let mut out = format!("t={timestamp}");
    for secret in secrets {
        out.push_str(",v1=");
        out.push_str(&sign(secret, timestamp, body));
    }
    out
}

/// Why a signature header does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header has no t= timestamp")]
    NoTimestamp,
    #[error("the signature header has no v1= signature")]
    NoSignature,
    #[error("the timestamp is {0} seconds away from now, outside the tolerance")]
    OutsideTolerance(i64),
    #[error("no v1 signature matches the secret")]
    Mismatch,
}

/// Checks a header the way the README tells receivers to: the timestamp is
/// within `tolerance` seconds of `now` (so a captured request cannot be
/// replayed later) and one `v1` matches `secret`.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let skew = (now - timestamp).abs();
    if skew > tolerance {
        return Err(SignatureError::OutsideTolerance(skew));
    }
    let expected = sign(secret, timestamp, body);
    // Compare every candidate in full, so timing says nothing about which matched.
    let matched = signatures.iter().fold(false, |found, candidate| {
        found | constant_eq(candidate, &expected)
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_test",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("whsec_test", 1_700_000_000, b"{}"),
            "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn headers_verify_with_any_listed_secret() {
        let body = br#"{"id":"evt_1"}"#;
        let h = header(1_000, &["new", "old"], body);
        assert!(h.starts_with("t=1000,v1="));
        assert_eq!(h.matches("v1=").count(), 2);
        assert_eq!(verify(&h, body, "new", 1_000, 300), Ok(()));
        assert_eq!(verify(&h, body, "old", 1_100, 300), Ok(()));
        assert_eq!(
            verify(&h, body, "other", 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&h, b"{}", "new", 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&h, body, "new", 1_301, 300),
            Err(SignatureError::OutsideTolerance(301))
        );
        assert_eq!(
            verify("v1=ab", body, "new", 0, 300),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify("t=5", body, "new", 5, 300),
            Err(SignatureError::NoSignature)
        );
    }
}
