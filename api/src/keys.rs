//! API keys: `ac_live_…` / `ac_test_…` followed by 32 random bytes
//! (base64url). Only the hash is kept; the key is shown once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::tenancy::Environment;
use domain::workspace::{NewApiKey, hash_api_key};
use rand::RngCore;

/// A freshly drawn key: the secret to show once, and what the domain keeps.
pub struct IssuedKey {
    pub secret: String,
    pub key: NewApiKey,
}

/// Draws a new key of `environment`.
pub fn issue(environment: Environment, label: Option<String>) -> IssuedKey {
    let mut secret_bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut secret_bytes);
    let body = URL_SAFE_NO_PAD.encode(secret_bytes);
    let secret = format!("{}{body}", prefix(environment));
    let mut id_bytes = [0u8; 9];
    rand::rng().fill_bytes(&mut id_bytes);
    let key_id = format!("key_{}", URL_SAFE_NO_PAD.encode(id_bytes));
    let hint = format!(
        "{}{}…{}",
        prefix(environment),
        &body[..4],
        &body[body.len() - 4..]
    );
    IssuedKey {
        key: NewApiKey {
            key_id,
            environment,
            label,
            hint,
            hash: hash_api_key(&secret),
        },
        secret,
    }
}

/// A webhook signing secret: `whsec_` and 32 random bytes (base64url).
pub fn webhook_secret() -> String {
    format!("whsec_{}", random_text(32))
}

/// An identifier: `prefix` and `bytes` random bytes (base64url).
pub fn random_id(prefix: &str, bytes: usize) -> String {
    format!("{prefix}{}", random_text(bytes))
}

fn random_text(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// `ac_live_` or `ac_test_`.
pub fn prefix(environment: Environment) -> &'static str {
    match environment {
        Environment::Live => "ac_live_",
        Environment::Test => "ac_test_",
    }
}

/// The environment a key claims by its prefix, if it has a valid shape.
pub fn claimed_environment(secret: &str) -> Option<Environment> {
    let (environment, body) = if let Some(body) = secret.strip_prefix("ac_live_") {
        (Environment::Live, body)
    } else if let Some(body) = secret.strip_prefix("ac_test_") {
        (Environment::Test, body)
    } else {
        return None;
    };
    let well_formed = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some(environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_environment_and_256_random_bits() {
        let live = issue(Environment::Live, None);
        let test = issue(Environment::Test, Some("ci".into()));
        assert!(live.secret.starts_with("ac_live_") && test.secret.starts_with("ac_test_"));
        assert_eq!(claimed_environment(&live.secret), Some(Environment::Live));
        assert_eq!(claimed_environment(&test.secret), Some(Environment::Test));
        assert_eq!(URL_SAFE_NO_PAD.decode(&live.secret[8..]).unwrap().len(), 32);
        assert_ne!(live.secret[8..], issue(Environment::Live, None).secret[8..]);
        assert_eq!(live.key.hash, hash_api_key(&live.secret));
        assert!(
            !live
                .key
                .hint
                .contains(&live.secret[12..live.secret.len() - 4]),
            "hint reveals the key"
        );
    }

    #[test]
    fn malformed_keys_claim_nothing() {
        let good = issue(Environment::Live, None).secret;
        for bad in [
            "",
            "ac_live_",
            "ac_prod_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &good[..good.len() - 1],
            &format!("{good}A"),
            &good.replace('_', "!"),
        ] {
            assert_eq!(claimed_environment(bad), None, "{bad:?}");
        }
    }
}
