//! Signed tokens: launch links, player sessions and course content.
//!
//! A token is `v1.<key id>.<payload>.<signature>`: the payload is base64url
//! JSON, the signature an HMAC-SHA256 over `v1.<key id>.<payload>`. Keys
//! rotate: the first key signs, every key verifies, so links signed before
//! a rotation keep working until the old key is removed.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::tenancy::Scope;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "launch keys must be `id:base64url-secret` separated by commas, with secrets of at least 32 bytes: {0}"
    )]
    Malformed(String),
    #[error("cannot read or create the launch key file {path}: {reason}")]
    File { path: String, reason: String },
}

/// The keys that sign and verify tokens.
#[derive(Clone, Debug)]
pub struct Signer {
    keys: Vec<SigningKey>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
    #[error("the link is of another kind")]
    WrongKind,
}

impl Signer {
    /// Keys from `id:secret,id:secret` (the first signs).
    pub fn parse(spec: &str) -> Result<Signer, KeyError> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, secret) = part.split_once(':').ok_or_else(|| {
                KeyError::Malformed(format!(
                    "{:?} has no ':'",
                    part.split(':').next().unwrap_or("")
                ))
            })?;
            let secret = URL_SAFE_NO_PAD
                .decode(secret.trim_end_matches('='))
                .map_err(|_| {
                    KeyError::Malformed(format!("the secret of key {id:?} is not base64url"))
                })?;
            let valid_id = !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_id || secret.len() < 32 {
                return Err(KeyError::Malformed(format!("key {id:?}")));
            }
            keys.push(SigningKey {
                id: id.to_owned(),
                secret,
            });
        }
        if keys.is_empty() {
            return Err(KeyError::Malformed("no key".into()));
        }
        Ok(Signer { keys })
    }

    /// The key in `path`, created (32 random bytes) when it does not exist:
    /// the embedded default. Deployments of several processes set the keys
    /// explicitly instead, so that every process shares them.
    pub fn from_file(path: &Path) -> Result<Signer, KeyError> {
        let failure = |reason: String| KeyError::File {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| failure(e.to_string()))?;
            }
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let line = format!("k1:{}\n", URL_SAFE_NO_PAD.encode(secret));
            std::fs::write(path, line).map_err(|e| failure(e.to_string()))?;
        }
        let spec = std::fs::read_to_string(path).map_err(|e| failure(e.to_string()))?;
        Signer::parse(spec.trim())
    }

    fn mac(key: &SigningKey, signed: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&key.secret).expect("hmac takes keys of any length");
        mac.update(signed.as_bytes());
        mac
    }

    /// Signs `claims`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let key = &self.keys[0];
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let signed = format!("v1.{}.{payload}", key.id);
        let signature = URL_SAFE_NO_PAD.encode(Self::mac(key, &signed).finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// Verifies a token and returns its claims.
    pub fn verify<T: DeserializeOwned + Expiring>(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<T, TokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(key_id), Some(payload), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(TokenError::BadSignature)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::BadSignature)?;
        Self::mac(key, &format!("v1.{key_id}.{payload}"))
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: T = serde_json::from_slice(&bytes).map_err(|_| TokenError::WrongKind)?;
        if claims.expires() < now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Claims that expire.
pub trait Expiring {
    /// Unix seconds.
    fn expires(&self) -> i64;
}

/// What a launch link grants: opening the player for one registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename = "launch")]
pub struct LaunchClaims {
    pub scope: Scope,
    pub registration: String,
    pub learner: String,
    pub exp: i64,
    pub tracking: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// What a player session may do: record calls for one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename = "session")]
pub struct SessionClaims {
    pub scope: Scope,
    pub registration: String,
    pub session: String,
    pub exp: i64,
    pub tracking: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
}

/// What a content URL may read: the files of one course version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename = "content")]
pub struct ContentClaims {
    pub scope: Scope,
    pub course: String,
    pub version: i64,
    pub exp: i64,
}

impl Expiring for LaunchClaims {
    fn expires(&self) -> i64 {
        self.exp
    }
}
impl Expiring for SessionClaims {
    fn expires(&self) -> i64 {
        self.exp
    }
}
impl Expiring for ContentClaims {
    fn expires(&self) -> i64 {
        self.exp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::tenancy::{Environment, WorkspaceId};

    fn claims(exp: i64) -> LaunchClaims {
        LaunchClaims {
            scope: Scope::new(
                WorkspaceId::from_uuid(uuid::Uuid::from_u128(1)),
                Environment::Live,
            ),
            registration: "r1".into(),
            learner: "l1".into(),
            exp,
            tracking: true,
            redirect: None,
            start: None,
        }
    }

    fn key(id: &str, byte: u8) -> String {
        format!("{id}:{}", URL_SAFE_NO_PAD.encode([byte; 32]))
    }

    #[test]
    fn tokens_verify_until_they_expire_and_refuse_any_change() {
        let signer = Signer::parse(&key("a", 1)).unwrap();
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let token = signer.sign(&claims(2_000));
        assert_eq!(
            signer.verify::<LaunchClaims>(&token, now),
            Ok(claims(2_000))
        );
        assert_eq!(
            signer.verify::<LaunchClaims>(&token, DateTime::from_timestamp(2_001, 0).unwrap()),
            Err(TokenError::Expired)
        );
        // Every single-character change is refused.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != token {
                assert!(
                    signer.verify::<LaunchClaims>(&tampered, now).is_err(),
                    "accepted a change at {i}"
                );
            }
        }
        // Claims of another kind are refused.
        assert_eq!(
            signer.verify::<SessionClaims>(&token, now),
            Err(TokenError::WrongKind)
        );
    }

    #[test]
    fn rotated_keys_keep_verifying_old_tokens() {
        let old = Signer::parse(&key("old", 1)).unwrap();
        let rotated = Signer::parse(&format!("{},{}", key("new", 2), key("old", 1))).unwrap();
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let token = old.sign(&claims(2_000));
        assert!(rotated.verify::<LaunchClaims>(&token, now).is_ok());
        assert!(rotated.sign(&claims(2_000)).starts_with("v1.new."));
        let retired = Signer::parse(&key("new", 2)).unwrap();
        assert_eq!(
            retired.verify::<LaunchClaims>(&token, now),
            Err(TokenError::BadSignature)
        );
        assert!(Signer::parse("k:short").is_err());
        assert!(Signer::parse("").is_err());
    }
}
