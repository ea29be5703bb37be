//! Signed statements (Data §2.6): the checks that need no cryptography, and a trait for the
//! one that does.
//!
//! A signed statement carries an attachment with usageType
//! `http://adlnet.gov/expapi/attachments/signature` and contentType `application/octet-stream`
//! whose bytes are a JWS in compact serialization. The LRS decodes it, checks the algorithm
//! (RS256, RS384 or RS512), checks that the payload is a statement logically equivalent to the
//! one received ([`compare::same_statement`](super::compare::same_statement)), and, when the
//! header carries an `x5c` chain, verifies the signature with the first certificate's key.
//! That last step goes through the [`JwsVerifier`] trait; [`RsaX5cVerifier`] implements it with
//! the RustCrypto `rsa` and `x509-cert` crates (pure Rust, verification only: no key material,
//! no randomness). The certificate chain itself is not validated against trust anchors: the
//! spec calls the x5c check a way "to catch mistakes in the signature, not a security measure".

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

use super::compare::first_difference;
use super::error::{ErrorCode, XapiError};
use super::syntax::parse_json_strict;
use super::validate::SIGNATURE_USAGE_TYPE;

/// The JWS algorithms xAPI allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
}

/// Verifies a JWS signature against an X.509 certificate chain (DER, leaf first).
pub trait JwsVerifier {
    /// Returns `Err` with a lowercase reason when `signature` is not a valid signature of
    /// `signing_input` (the ASCII `header.payload`) by the leaf certificate's key.
    fn verify(
        &self,
        algorithm: JwsAlgorithm,
        signing_input: &[u8],
        signature: &[u8],
        x5c: &[Vec<u8>],
    ) -> Result<(), String>;
}

/// Verifies RS256/RS384/RS512 signatures with the RSA key of the first (leaf) `x5c`
/// certificate.
#[derive(Debug, Clone, Copy, Default)]
pub struct RsaX5cVerifier;

impl JwsVerifier for RsaX5cVerifier {
    fn verify(
        &self,
        algorithm: JwsAlgorithm,
        signing_input: &[u8],
        signature: &[u8],
        x5c: &[Vec<u8>],
    ) -> Result<(), String> {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::signature::Verifier;
        use x509_cert::der::{Decode, Encode};

        let leaf = x5c.first().ok_or("x5c is empty")?;
        let certificate = x509_cert::Certificate::from_der(leaf)
            .map_err(|e| format!("the x5c leaf is not a der certificate: {e}"))?;
        let spki = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| format!("cannot encode the certificate key: {e}"))?;
        let key = rsa::PublicKey::from_public_key_der(&spki)
            .map_err(|e| format!("the certificate key is not an rsa key: {e}"))?;
        let signature = rsa::pkcs1v15::Signature::try_from(signature)
            .map_err(|e| format!("malformed rsa signature: {e}"))?;
        let outcome = match algorithm {
            JwsAlgorithm::Rs256 => rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key)
                .verify(signing_input, &signature),
            JwsAlgorithm::Rs384 => rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha384>::new(key)
                .verify(signing_input, &signature),
            JwsAlgorithm::Rs512 => rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha512>::new(key)
                .verify(signing_input, &signature),
        };
        outcome.map_err(|_| "the rsa signature does not match the certificate key".to_owned())
    }
}

/// A decoded, checked signature.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSignature {
    /// The algorithm from the JWS header.
    pub algorithm: JwsAlgorithm,
    /// The signed statement (the JWS payload).
    pub payload: Value,
    /// Whether an `x5c` chain was present and the verifier accepted the signature.
    pub verified_with_x5c: bool,
}

/// The signature attachments of a statement (normally zero or one), with their index in
/// `attachments`; the server matches each to a multipart part by its `sha2`.
pub fn signature_attachments(statement: &Value) -> Vec<(usize, &Value)> {
    statement
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, a)| a.get("usageType").and_then(Value::as_str) == Some(SIGNATURE_USAGE_TYPE))
        .collect()
}

/// Checks the signature attachment number `index` of `received` (the statement as received),
/// given the attachment's bytes.
pub fn check_signature(
    received: &Value,
    index: usize,
    jws: &[u8],
    verifier: &dyn JwsVerifier,
) -> Result<CheckedSignature, XapiError> {
    let path = format!("$.attachments[{index}]");
    let invalid = |message: String| XapiError::new(ErrorCode::InvalidSignature, &path, message);
    let attachment = received
        .get("attachments")
        .and_then(|a| a.get(index))
        .ok_or_else(|| invalid("no attachment at this index".into()))?;
    let content_type = attachment
        .get("contentType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if content_type != "application/octet-stream" {
        return Err(invalid(format!(
            "a signature attachment must have contentType application/octet-stream, not {content_type:?}"
        )));
    }
    let text = std::str::from_utf8(jws)
        .map_err(|_| invalid("the signature is not ascii text".into()))?
        .trim();
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid(
            "the signature is not a jws in compact serialization".into(),
        ));
    }
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| invalid(format!("the jws {what} is not base64url")))
    };
    let header_bytes = decode(parts[0], "header")?;
    let payload_bytes = decode(parts[1], "payload")?;
    let signature = decode(parts[2], "signature")?;
    let header = match parse_json_strict(&header_bytes) {
        Ok(Value::Object(map)) => map,
        _ => return Err(invalid("the jws header is not a json object".into())),
    };
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => JwsAlgorithm::Rs256,
        Some("RS384") => JwsAlgorithm::Rs384,
        Some("RS512") => JwsAlgorithm::Rs512,
        other => {
            return Err(invalid(format!(
                "jws algorithm {:?} is not RS256, RS384 or RS512",
                other.unwrap_or("")
            )));
        }
    };
    let payload = match parse_json_strict(&payload_bytes) {
        Ok(value @ Value::Object(_)) => value,
        _ => return Err(invalid("the jws payload is not a json statement".into())),
    };
    if let Some(difference) = first_difference(&payload, received) {
        return Err(invalid(format!(
            "the signed statement differs from the statement received at {difference}"
        )));
    }
    let mut verified_with_x5c = false;
    if let Some(x5c) = header.get("x5c") {
        let chain: Vec<Vec<u8>> = x5c
            .as_array()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| invalid("x5c must be a non-empty array".into()))?
            .iter()
            .map(|cert| {
                cert.as_str()
                    .and_then(|c| STANDARD.decode(c).ok())
                    .ok_or_else(|| invalid("x5c entries must be base64 der certificates".into()))
            })
            .collect::<Result<_, _>>()?;
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        verifier
            .verify(algorithm, signing_input.as_bytes(), &signature, &chain)
            .map_err(|reason| invalid(format!("the signature does not verify: {reason}")))?;
        verified_with_x5c = true;
    }
    Ok(CheckedSignature {
        algorithm,
        payload,
        verified_with_x5c,
    })
}
