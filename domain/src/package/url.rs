//! URL references inside packages: `xml:base` joining, the CAM `parameters`
//! append algorithm, and resolution to a [`LaunchUrl`].

use super::course::LaunchUrl;
use super::path::{PackagePath, PathError};

/// Whether `reference` is an absolute URL (has a scheme) or network-path
/// reference (`//host/...`).
pub(crate) fn is_absolute(reference: &str) -> bool {
    let reference = reference.trim();
    if reference.starts_with("//") {
        return true;
    }
    scheme(reference).is_some()
}

/// The scheme of an absolute URL; a single letter is a drive, not a scheme.
pub(crate) fn scheme(reference: &str) -> Option<&str> {
    let colon = reference.find(':')?;
    let candidate = &reference[..colon];
    let mut chars = candidate.chars();
    let first = chars.next()?;
    (candidate.len() > 1
        && first.is_ascii_alphabetic()
        && chars.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.')))
    .then_some(candidate)
}

/// Joins `xml:base` values and an `href`, outermost first. Each relative base
/// is read as a folder (a missing trailing `/` is supplied, as ADL's and most
/// LMSs' string concatenation does); an absolute base or href restarts the URL.
pub(crate) fn join(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if is_absolute(part) || out.is_empty() {
            out = part.to_owned();
        } else if part.starts_with('/') {
            // Root-relative: keep the scheme and authority of an absolute base.
            out = match authority_end(&out) {
                Some(end) => format!("{}{part}", &out[..end]),
                None => part.to_owned(),
            };
        } else {
            if !out.ends_with('/') {
                out.push('/');
            }
            out.push_str(part);
        }
    }
    out
}

fn authority_end(url: &str) -> Option<usize> {
    let after_scheme = url.find("://")? + 3;
    Some(
        url[after_scheme..]
            .find('/')
            .map_or(url.len(), |at| after_scheme + at),
    )
}

/// Appends an item's `parameters` to a URL (ADL CAM algorithm):
/// 1. strip leading `?` and `&`;
/// 2. a `#fragment` is dropped when the URL already has `#` or `?`;
/// 3. otherwise append after `&` when the URL has `?`, after `?` when not,
///    and a fragment directly.
pub fn append_parameters(url: &str, parameters: &str) -> String {
    let parameters = parameters.trim().trim_start_matches(['?', '&']);
    if parameters.is_empty() {
        return url.to_owned();
    }
    if parameters.starts_with('#') {
        if url.contains('#') || url.contains('?') {
            return url.to_owned();
        }
        return format!("{url}{parameters}");
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameters}")
}

/// Why a package-relative URL could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("url {url:?} is empty")]
    Empty { url: String },
    #[error("url {url:?} is not a safe package path: {source}")]
    Unsafe {
        url: String,
        #[source]
        source: PathError,
    },
}

/// Resolves a joined URL into a [`LaunchUrl`]: absolute URLs stay as written;
/// relative ones lose `.` and `..` segments (refused if they leave the root)
/// and are percent-decoded into a package path.
pub(crate) fn resolve(url: &str) -> Result<LaunchUrl, UrlError> {
    let url = url.trim();
    if is_absolute(url) {
        return Ok(LaunchUrl::Absolute {
            url: url.to_owned(),
        });
    }
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment.to_owned())),
        None => (url, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (rest, None),
    };
    let decoded = percent_decode(path);
    let normalized = normalize_segments(&decoded).map_err(|source| UrlError::Unsafe {
        url: url.to_owned(),
        source,
    })?;
    if normalized.is_empty() {
        return Err(UrlError::Empty {
            url: url.to_owned(),
        });
    }
    let path = PackagePath::parse(&normalized).map_err(|source| UrlError::Unsafe {
        url: url.to_owned(),
        source,
    })?;
    Ok(LaunchUrl::Package {
        path,
        query: query.filter(|q| !q.is_empty()),
        fragment: fragment.filter(|f| !f.is_empty()),
    })
}

/// Removes `.` segments, empty segments and resolves `..`; refuses what
/// would climb above the root and absolute paths.
fn normalize_segments(path: &str) -> Result<String, PathError> {
    let unified = path.replace('\\', "/");
    if unified.starts_with('/') {
        return Err(PathError::Absolute(path.to_owned()));
    }
    if unified.contains('\0') {
        return Err(PathError::Nul(path.to_owned()));
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in unified.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(PathError::ParentSegment(path.to_owned()));
                }
            }
            other => segments.push(other),
        }
    }
    Ok(segments.join("/"))
}

/// Decodes `%XX` escapes; invalid escapes and non-UTF-8 results stay as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%'
            && at + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex_value(bytes[at + 1]), hex_value(bytes[at + 2]))
        {
            out.push(high * 16 + low);
            at += 3;
            continue;
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes what may not appear raw in a URL path (spaces, `#`, `?`,
/// `%`, non-ASCII), keeping `/`.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'/' | b'-'
                    | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Names in a query string (before `=`), percent-decoded.
pub(crate) fn query_names(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            percent_decode(
                pair.split('=')
                    .next()
                    .unwrap_or(pair)
                    .replace('+', " ")
                    .as_str(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_follow_the_cam_algorithm() {
        let cases = [
            ("a.html", "", "a.html"),
            ("a.html", "?x=1", "a.html?x=1"),
            ("a.html", "&&x=1", "a.html?x=1"),
            ("a.html?y=2", "x=1", "a.html?y=2&x=1"),
            ("a.html?y=2", "?&x=1", "a.html?y=2&x=1"),
            ("a.html", "#f", "a.html#f"),
            ("a.html", "?#f", "a.html#f"),
            ("a.html#g", "#f", "a.html#g"),
            ("a.html?y=2", "#f", "a.html?y=2"),
            ("a.html#g", "x=1", "a.html#g?x=1"),
        ];
        for (url, parameters, expected) in cases {
            assert_eq!(
                append_parameters(url, parameters),
                expected,
                "{url} + {parameters}"
            );
        }
    }

    #[test]
    fn join_treats_bases_as_folders() {
        assert_eq!(join(&["course/", "sco1/", "a.html"]), "course/sco1/a.html");
        assert_eq!(join(&["course", "", "a.html"]), "course/a.html");
        assert_eq!(
            join(&["http://cdn.example/x/", "a.html"]),
            "http://cdn.example/x/a.html"
        );
        assert_eq!(join(&["course/", "https://e.x/a"]), "https://e.x/a");
        assert_eq!(join(&["https://e.x/a/b/", "/c.html"]), "https://e.x/c.html");
    }

    #[test]
    fn resolve_normalizes_and_refuses_escapes() {
        assert_eq!(
            resolve("./a/../b/c%20d.html?x=1#top").unwrap(),
            LaunchUrl::Package {
                path: PackagePath::parse("b/c d.html").unwrap(),
                query: Some("x=1".to_owned()),
                fragment: Some("top".to_owned()),
            }
        );
        assert!(resolve("../x.html").is_err());
        assert!(resolve("a/../../x.html").is_err());
        assert!(resolve("/etc/passwd").is_err());
        assert!(resolve("C:\\x.html").is_err());
        assert_eq!(
            resolve("HTTPS://e.x/a").unwrap(),
            LaunchUrl::Absolute {
                url: "HTTPS://e.x/a".to_owned()
            }
        );
    }
}
