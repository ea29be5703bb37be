//! `multipart/mixed` bodies of statement requests and responses (Communication §1.5.2):
//! the statements as the first part (`application/json`), then one part per attachment with
//! `Content-Transfer-Encoding: binary` and `X-Experience-API-Hash`.

use bytes::Bytes;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPart {
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RawPart {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The boundary of a `multipart/…; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// Splits a multipart body into its parts. Refuses a body without the closing delimiter or
/// with a part whose headers do not parse.
pub fn parse(body: &Bytes, boundary: &str) -> Result<Vec<RawPart>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter opens the body or follows the preamble's CRLF.
    let mut at = if body.starts_with(delimiter) {
        0
    } else {
        let mut crlf_delimiter = b"\r\n".to_vec();
        crlf_delimiter.extend_from_slice(delimiter);
        find(body, &crlf_delimiter, 0).ok_or("the body has no multipart boundary")? + 2
    };
    let mut next_delimiter = b"\r\n".to_vec();
    next_delimiter.extend_from_slice(delimiter);
    let mut parts = Vec::new();
    loop {
        let after = at + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then the CRLF that ends the delimiter line.
        let mut start = after;
        while body.get(start).is_some_and(|b| *b == b' ' || *b == b'\t') {
            start += 1;
        }
        if !body[start..].starts_with(b"\r\n") {
            return Err("a multipart boundary line is malformed".into());
        }
        start += 2;
        let end = next_delimiter_at(body, &next_delimiter, start)
            .ok_or("the multipart body has no closing boundary")?;
        parts.push(part(body.slice(start..end))?);
        at = end + 2;
    }
}

/// The next `CRLF--boundary` that is a delimiter line: followed by `--` (the close) or by
/// optional blanks and CRLF. The same bytes followed by anything else are content.
fn next_delimiter_at(body: &[u8], delimiter: &[u8], from: usize) -> Option<usize> {
    let mut search = from;
    loop {
        let at = find(body, delimiter, search)?;
        let mut after = at + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Some(at);
        }
        while body.get(after).is_some_and(|b| *b == b' ' || *b == b'\t') {
            after += 1;
        }
        if body[after..].starts_with(b"\r\n") {
            return Some(at);
        }
        search = at + 1;
    }
}

fn part(raw: Bytes) -> Result<RawPart, String> {
    let (head, body) = if raw.starts_with(b"\r\n") {
        (&b""[..], raw.slice(2..))
    } else {
        let split = find(&raw, b"\r\n\r\n", 0).ok_or("a multipart part has no header end")?;
        (&raw[..split], raw.slice(split + 4..))
    };
    let head = std::str::from_utf8(head).map_err(|_| "multipart headers are not text")?;
    let mut headers = Vec::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed multipart header {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(RawPart { headers, body })
}

/// An attachment part of a response.
pub struct OutPart<'a> {
    pub content_type: &'a str,
    pub sha2: &'a str,
    pub content: &'a [u8],
}

/// Builds a `multipart/mixed` body: `json` first, then the attachments.
pub fn build(boundary: &str, json: &[u8], attachments: &[OutPart<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 256);
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(json);
    for part in attachments {
        out.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {}\r\n\r\n",
                part.content_type, part.sha2
            )
            .as_bytes(),
        );
        out.extend_from_slice(part.content);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/mixed; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("multipart/mixed; charset=x; Boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("multipart/mixed;"), None);
    }

    #[test]
    fn round_trip() {
        let body = Bytes::from(build(
            "b0",
            br#"{"a":1}"#,
            &[OutPart {
                content_type: "text/plain",
                sha2: "ab",
                content: b"hello\r\n--b",
            }],
        ));
        let parts = parse(&body, "b0").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].header("content-type"), Some("application/json"));
        assert_eq!(&parts[0].body[..], br#"{"a":1}"#);
        assert_eq!(parts[1].header("x-experience-api-hash"), Some("ab"));
        assert_eq!(&parts[1].body[..], b"hello\r\n--b");
    }

    #[test]
    fn the_boundary_inside_content_is_content() {
        let body = Bytes::from_static(b"--x\r\nA: b\r\n\r\nline\r\n--x is text\r\n--x--");
        let parts = parse(&body, "x").unwrap();
        assert_eq!(&parts[0].body[..], b"line\r\n--x is text");
    }

    #[test]
    fn preamble_and_malformed_bodies() {
        let body = Bytes::from_static(b"preamble\r\n--x\r\nContent-Type: a/b\r\n\r\nbody\r\n--x--");
        let parts = parse(&body, "x").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(&parts[0].body[..], b"body");
        assert!(parse(&Bytes::from_static(b"no boundary here"), "x").is_err());
        assert!(parse(&Bytes::from_static(b"--x\r\nA: b\r\n\r\nunterminated"), "x").is_err());
        assert!(
            parse(
                &Bytes::from_static(b"--x\r\nbad header\r\n\r\nc\r\n--x--"),
                "x"
            )
            .is_err()
        );
    }
}
