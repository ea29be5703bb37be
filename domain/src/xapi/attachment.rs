//! Matching a statement request's attachment objects to the raw parts of a `multipart/mixed`
//! body (Communication §1.5.2 and Data §2.4.11). The server parses the multipart framing and
//! hands over, for each part after the first, its `X-Experience-API-Hash` and content bytes.

use serde_json::Value;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::error::{ErrorCode, XapiError};
use super::validate::SIGNATURE_USAGE_TYPE;

/// One attachment part of a multipart statement request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentPart<'a> {
    /// The `X-Experience-API-Hash` header (a hex SHA-2).
    pub hash: &'a str,
    /// The raw bytes of the part.
    pub content: &'a [u8],
}

/// The lowercase hex SHA-256 of `bytes`, the form of `sha2` this LRS writes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `hash` (hex SHA-224/256/384/512, any case) is the digest of `content`.
pub fn hash_matches(hash: &str, content: &[u8]) -> bool {
    let computed = match hash.len() {
        56 => hex::encode(sha2::Sha224::digest(content)),
        64 => hex::encode(Sha256::digest(content)),
        96 => hex::encode(Sha384::digest(content)),
        128 => hex::encode(Sha512::digest(content)),
        _ => return false,
    };
    computed.eq_ignore_ascii_case(hash)
}

/// Checks that the attachments of `statements` (the validated body, in order) and the
/// multipart `parts` fit together:
/// - every part's bytes hash to its `X-Experience-API-Hash`;
/// - every part is claimed by some attachment object's `sha2` (no stray parts);
/// - every attachment without a `fileUrl`, and every signature attachment, has a part.
///
/// Errors point at the attachment (`$[1].attachments[0].sha2`) or the part (`parts[2]`).
pub fn match_attachment_parts(
    statements: &[&Value],
    parts: &[AttachmentPart<'_>],
) -> Result<(), XapiError> {
    for (i, part) in parts.iter().enumerate() {
        if !hash_matches(part.hash, part.content) {
            return Err(XapiError::new(
                ErrorCode::InvalidSha2,
                format!("parts[{i}]"),
                "the part's X-Experience-API-Hash is not the sha-2 of its content",
            ));
        }
    }
    let mut claimed = vec![false; parts.len()];
    let batch = statements.len() > 1;
    for (s, statement) in statements.iter().enumerate() {
        let attachments = statement
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (a, attachment) in attachments.enumerate() {
            let sha2 = attachment.get("sha2").and_then(Value::as_str).unwrap_or("");
            let mut found = false;
            for (i, part) in parts.iter().enumerate() {
                if part.hash.eq_ignore_ascii_case(sha2) {
                    claimed[i] = true;
                    found = true;
                }
            }
            let is_signature =
                attachment.get("usageType").and_then(Value::as_str) == Some(SIGNATURE_USAGE_TYPE);
            let needs_part = is_signature || attachment.get("fileUrl").is_none();
            if needs_part && !found {
                let prefix = if batch {
                    format!("$[{s}]")
                } else {
                    "$".to_owned()
                };
                return Err(XapiError::new(
                    ErrorCode::MissingProperty,
                    format!("{prefix}.attachments[{a}].sha2"),
                    "this attachment has no fileUrl and no multipart part with its sha2",
                ));
            }
        }
    }
    if let Some(i) = claimed.iter().position(|c| !c) {
        return Err(XapiError::new(
            ErrorCode::UnknownProperty,
            format!("parts[{i}]"),
            "this part matches no attachment object's sha2",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_and_attachments() {
        let content = b"here is a simple attachment";
        let sha = sha256_hex(content);
        let statement = |file_url: Option<&str>| {
            let mut attachment = json!({"usageType": "http://example.com/u", "display": {"en-US": "a"}, "contentType": "text/plain", "length": 27, "sha2": sha});
            if let Some(url) = file_url {
                attachment["fileUrl"] = json!(url);
            }
            json!({"attachments": [attachment]})
        };
        let part = AttachmentPart {
            hash: &sha,
            content,
        };
        assert_eq!(match_attachment_parts(&[&statement(None)], &[part]), Ok(()));
        assert_eq!(
            match_attachment_parts(&[&statement(Some("http://example.com/a.txt"))], &[]),
            Ok(())
        );
        let missing = match_attachment_parts(&[&statement(None)], &[]).unwrap_err();
        assert_eq!(missing.path, "$.attachments[0].sha2");
        let stray = match_attachment_parts(&[&json!({})], &[part]).unwrap_err();
        assert_eq!(
            (stray.code, stray.path.as_str()),
            (ErrorCode::UnknownProperty, "parts[0]")
        );
        let wrong = AttachmentPart {
            hash: &sha,
            content: b"other bytes",
        };
        assert_eq!(
            match_attachment_parts(&[&statement(None)], &[wrong])
                .unwrap_err()
                .code,
            ErrorCode::InvalidSha2
        );
        assert!(hash_matches(&sha.to_uppercase(), content));
    }
}
