//! A small, safe XML tree for manifests, built on quick-xml.
//!
//! - Bytes are decoded here: UTF-8 (with or without BOM), UTF-16 with BOM or
//!   detectable without one, and ISO-8859-1/windows-1252 when the bytes are
//!   not UTF-8 (a common mismatch with the declaration).
//! - A DOCTYPE (and so any DTD or entity declaration) refuses the document.
//!   Entity references are never expanded: the five predefined entities and
//!   character references are resolved, anything else is kept as literal text
//!   with a warning.
//! - Namespaces are resolved by this module from `xmlns` attributes, and an
//!   unbound prefix is not an error: sloppy manifests use `adlcp:` without
//!   declaring it. Callers match by local name, ignoring ASCII case, and use the
//!   namespace (or prefix) only where two vocabularies share a local name.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// An element with its attributes, child elements and direct text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) namespace: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) local: String,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) children: Vec<Element>,
    /// Concatenated text and CDATA directly inside this element.
    pub(crate) text: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// One attribute, with its namespace resolved from its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) namespace: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) local: String,
    pub(crate) value: String,
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Document {
    pub(crate) root: Element,
    /// Text of the comments, in document order (authoring tools sign here).
    pub(crate) comments: Vec<String>,
    /// Entity references that were kept as text.
    pub(crate) unknown_entities: Vec<String>,
    /// Every namespace URI declared anywhere in the document.
    pub(crate) declared_namespaces: Vec<String>,
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XmlError {
    #[error("xml is not well-formed: {message}")]
    NotWellFormed {
        message: String,
        line: u32,
        column: u32,
    },
    #[error("xml declares a doctype; dtds and entity declarations are not processed")]
    Doctype { line: u32, column: u32 },
}

/// How the bytes were decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) text: String,
    /// A message when the bytes did not match what was declared.
    pub(crate) mismatch: Option<String>,
}

/// Decodes manifest bytes to text; never fails (see the module docs).
pub(crate) fn decode(bytes: &[u8]) -> Decoded {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return decode_utf8_or_legacy(rest, declared_encoding(rest));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return decode_utf16(rest, false);
    }
    if bytes.len() >= 4 && bytes[0] == b'<' && bytes[1] == 0 && bytes[2] != 0 && bytes[3] == 0 {
        return decode_utf16(bytes, true);
    }
    if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == b'<' && bytes[2] == 0 && bytes[3] != 0 {
        return decode_utf16(bytes, false);
    }
    decode_utf8_or_legacy(bytes, declared_encoding(bytes))
}

fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = String::from_utf8_lossy(head);
    let declaration = head.strip_prefix("<?xml")?;
    let declaration = &declaration[..declaration.find("?>")?];
    let at = declaration.find("encoding")?;
    let rest = declaration[at + "encoding".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_ascii_lowercase())
}

fn decode_utf8_or_legacy(bytes: &[u8], declared: Option<String>) -> Decoded {
    let declared_legacy = declared.as_deref().is_some_and(|encoding| {
        matches!(
            encoding,
            "iso-8859-1" | "latin1" | "latin-1" | "iso8859-1" | "windows-1252" | "cp1252"
        )
    });
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let non_ascii = !text.is_ascii();
            let declared_other = declared.as_deref().is_some_and(|encoding| {
                !matches!(encoding, "utf-8" | "utf8" | "us-ascii" | "ascii")
            });
            Decoded {
                text: text.to_owned(),
                mismatch: (non_ascii && declared_other).then(|| {
                    format!(
                        "declared encoding {:?} but the bytes are utf-8; read as utf-8",
                        declared.unwrap_or_default()
                    )
                }),
            }
        }
        Err(_) => {
            let text: String = bytes.iter().map(|&b| windows_1252(b)).collect();
            let mismatch = if declared_legacy {
                None
            } else {
                Some(format!(
                    "declared encoding {:?} but the bytes are not utf-8; read as windows-1252",
                    declared.unwrap_or_else(|| "utf-8".to_owned())
                ))
            };
            Decoded { text, mismatch }
        }
    }
}

fn decode_utf16(bytes: &[u8], little_endian: bool) -> Decoded {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| {
            if little_endian {
                u16::from_le_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], pair[1]])
            }
        })
        .collect();
    let text: String = char::decode_utf16(units)
        .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    let mismatch = (bytes.len() % 2 == 1 || text.contains(char::REPLACEMENT_CHARACTER))
        .then(|| "invalid utf-16; undecodable characters were replaced".to_owned());
    Decoded { text, mismatch }
}

/// windows-1252, a superset of the printable ISO-8859-1 range.
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

struct Scope {
    bindings: Vec<(String, String)>,
}

struct Builder<'t> {
    text: &'t str,
    stack: Vec<Element>,
    scopes: Vec<Scope>,
    comments: Vec<String>,
    unknown_entities: Vec<String>,
    declared_namespaces: Vec<String>,
    root: Option<Element>,
}

impl Builder<'_> {
    fn resolve(&self, prefix: Option<&str>, is_attribute: bool) -> Option<String> {
        let wanted = match prefix {
            Some("xml") => return Some("http://www.w3.org/XML/1998/namespace".to_owned()),
            Some(prefix) => prefix,
            None if is_attribute => return None,
            None => "",
        };
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.bindings.iter().rev())
            .find(|(bound, _)| bound == wanted)
            .map(|(_, uri)| uri.clone())
            .filter(|uri| !uri.is_empty())
    }

    fn start(&mut self, start: &BytesStart<'_>, offset: usize) -> Result<Element, XmlError> {
        let (line, column) = line_column(self.text, offset);
        let mut raw_attributes = Vec::new();
        let mut bindings = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|err| XmlError::NotWellFormed {
                message: err.to_string(),
                line,
                column,
            })?;
            let key: &str = attribute.key.as_ref();
            let value = unescape(&attribute.value, true, &mut self.unknown_entities);
            if key == "xmlns" {
                bindings.push((String::new(), value.trim().to_owned()));
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                bindings.push((prefix.to_owned(), value.trim().to_owned()));
            } else {
                raw_attributes.push((key.to_owned(), value));
            }
        }
        for (_, uri) in &bindings {
            if !uri.is_empty() && !self.declared_namespaces.contains(uri) {
                self.declared_namespaces.push(uri.clone());
            }
        }
        self.scopes.push(Scope { bindings });
        let name: &str = start.name().0;
        let (prefix, local) = split_name(name);
        let namespace = self.resolve(prefix, false);
        let attributes = raw_attributes
            .into_iter()
            .map(|(key, value)| {
                let (prefix, local) = split_name(&key);
                Attribute {
                    namespace: self.resolve(prefix, true),
                    prefix: prefix.map(str::to_owned),
                    local: local.to_owned(),
                    value,
                }
            })
            .collect();
        Ok(Element {
            namespace,
            prefix: prefix.map(str::to_owned),
            local: local.to_owned(),
            attributes,
            children: Vec::new(),
            text: String::new(),
            line,
            column,
        })
    }

    fn finish(&mut self, element: Element) {
        self.scopes.pop();
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None => {
                if self.root.is_none() {
                    self.root = Some(element);
                }
            }
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Some(current) = self.stack.last_mut() {
            current.text.push_str(text);
        }
    }
}

fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    }
}

/// Resolves predefined entities and character references; keeps anything else
/// literally and records it. In attributes, whitespace characters become spaces.
fn unescape(raw: &str, attribute: bool, unknown: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        push_normalized(&mut out, &rest[..at], attribute);
        let after = &rest[at + 1..];
        match after.find(';') {
            Some(end) if end > 0 && !after[..end].contains(char::is_whitespace) => {
                let name = &after[..end];
                match resolve_reference(name) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push('&');
                        out.push_str(name);
                        out.push(';');
                        if !unknown.iter().any(|known| known == name) {
                            unknown.push(name.to_owned());
                        }
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    push_normalized(&mut out, rest, attribute);
    out
}

fn push_normalized(out: &mut String, text: &str, attribute: bool) {
    if attribute {
        let text = text.replace("\r\n", " ");
        out.extend(text.chars().map(|ch| match ch {
            '\t' | '\r' | '\n' => ' ',
            other => other,
        }));
    } else {
        out.push_str(text);
    }
}

fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|&ch| ch != '\0')
        }
    }
}

/// Parses `text` into a tree. See the module docs for what is refused.
pub(crate) fn parse(text: &str) -> Result<Document, XmlError> {
    let mut reader = Reader::from_str(text);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.allow_dangling_amp = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
    }
    let mut builder = Builder {
        text,
        stack: Vec::new(),
        scopes: Vec::new(),
        comments: Vec::new(),
        unknown_entities: Vec::new(),
        declared_namespaces: Vec::new(),
        root: None,
    };
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => {
                let position = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                let (line, column) = line_column(text, position);
                return Err(XmlError::NotWellFormed {
                    message: err.to_string(),
                    line,
                    column,
                });
            }
        };
        match event {
            Event::Start(start) => {
                if builder.root.is_some() && builder.stack.is_empty() {
                    return Err(extra_root(text, offset));
                }
                let element = builder.start(&start, offset)?;
                builder.stack.push(element);
            }
            Event::Empty(start) => {
                if builder.root.is_some() && builder.stack.is_empty() {
                    return Err(extra_root(text, offset));
                }
                let element = builder.start(&start, offset)?;
                builder.finish(element);
            }
            Event::End(_) => {
                let Some(element) = builder.stack.pop() else {
                    let (line, column) = line_column(text, offset);
                    return Err(XmlError::NotWellFormed {
                        message: "closing tag without opening tag".to_owned(),
                        line,
                        column,
                    });
                };
                builder.finish(element);
            }
            Event::Text(content) => {
                let content = content.xml10_content();
                if builder.stack.is_empty() {
                    if !content.trim().is_empty() {
                        let (line, column) = line_column(text, offset);
                        return Err(XmlError::NotWellFormed {
                            message: "text outside the root element".to_owned(),
                            line,
                            column,
                        });
                    }
                } else {
                    let mut unknown = std::mem::take(&mut builder.unknown_entities);
                    let value = unescape(&content, false, &mut unknown);
                    builder.unknown_entities = unknown;
                    builder.push_text(&value);
                }
            }
            Event::CData(content) => {
                let content = content.xml10_content();
                builder.push_text(&content);
            }
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                match resolve_reference(&name) {
                    Some(ch) => builder.push_text(ch.encode_utf8(&mut [0; 4])),
                    None => {
                        builder.push_text(&format!("&{name};"));
                        if !builder.unknown_entities.iter().any(|known| *known == *name) {
                            builder.unknown_entities.push(name.into_owned());
                        }
                    }
                }
            }
            Event::Comment(content) => {
                builder
                    .comments
                    .push(content.xml10_content().trim().to_owned());
            }
            Event::DocType(_) => {
                let (line, column) = line_column(text, offset);
                return Err(XmlError::Doctype { line, column });
            }
            Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = builder.stack.last() {
        let (line, column) = line_column(text, text.len());
        return Err(XmlError::NotWellFormed {
            message: format!("element <{}> is not closed", open.local),
            line,
            column,
        });
    }
    let Some(root) = builder.root else {
        let (line, column) = line_column(text, text.len());
        return Err(XmlError::NotWellFormed {
            message: "no root element".to_owned(),
            line,
            column,
        });
    };
    Ok(Document {
        root,
        comments: builder.comments,
        unknown_entities: builder.unknown_entities,
        declared_namespaces: builder.declared_namespaces,
    })
}

fn extra_root(text: &str, offset: usize) -> XmlError {
    let (line, column) = line_column(text, offset);
    XmlError::NotWellFormed {
        message: "more than one root element".to_owned(),
        line,
        column,
    }
}

impl Element {
    /// Whether the local name is `local`, ignoring ASCII case.
    pub(crate) fn is(&self, local: &str) -> bool {
        self.local.eq_ignore_ascii_case(local)
    }

    /// The first attribute whose local name is `local` (ignoring ASCII case);
    /// an exact-case match wins over a case-insensitive one.
    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|attribute| {
                attribute.local == local && attribute.prefix.as_deref() != Some("xml")
            })
            .or_else(|| {
                self.attributes.iter().find(|attribute| {
                    attribute.local.eq_ignore_ascii_case(local)
                        && attribute.prefix.as_deref() != Some("xml")
                })
            })
            .map(|attribute| attribute.value.as_str())
    }

    /// `xml:base`, if present.
    pub(crate) fn xml_base(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find(|attribute| {
                attribute.local.eq_ignore_ascii_case("base")
                    && (attribute.prefix.as_deref() == Some("xml")
                        || attribute.namespace.as_deref()
                            == Some("http://www.w3.org/XML/1998/namespace"))
            })
            .map(|attribute| attribute.value.as_str())
    }

    /// Child elements with local name `local`.
    pub(crate) fn children_named<'a>(
        &'a self,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.is(local))
    }

    /// The first child element with local name `local`.
    pub(crate) fn child(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.is(local))
    }

    /// The direct text, trimmed.
    pub(crate) fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// Whether the element belongs to the vocabulary with namespace `uri` or
    /// conventional `prefix` (for undeclared prefixes).
    pub(crate) fn in_vocabulary(&self, uri: &str, prefix: &str) -> bool {
        match &self.namespace {
            Some(namespace) => namespace.eq_ignore_ascii_case(uri),
            None => self
                .prefix
                .as_deref()
                .is_some_and(|own| own.eq_ignore_ascii_case(prefix)),
        }
    }

    /// Visits this element and every descendant, depth first.
    pub(crate) fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Element)) {
        visit(self);
        for child in &self.children {
            child.walk(visit);
        }
    }
}

/// Counts how often each local name (ASCII-lowercased) occurs; used by tests.
#[cfg(test)]
fn local_names(root: &Element) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    root.walk(&mut |element| {
        *counts
            .entry(element.local.to_ascii_lowercase())
            .or_insert(0) += 1;
    });
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaces_text_and_positions() {
        let text = "<?xml version=\"1.0\"?>\r\n<m:root xmlns:m=\"urn:m\" xmlns=\"urn:d\">\r\n  <child a=\"1 &amp; 2\">x &lt; y<![CDATA[<z>]]></child>\n  <adlcp:x/>\n</m:root>";
        let document = parse(text).unwrap();
        assert_eq!(document.root.namespace.as_deref(), Some("urn:m"));
        let child = document.root.child("CHILD").unwrap();
        assert_eq!(child.namespace.as_deref(), Some("urn:d"));
        assert_eq!(child.attr("a"), Some("1 & 2"));
        assert_eq!(child.text, "x < y<z>");
        assert_eq!((child.line, child.column), (3, 3));
        let unbound = document.root.child("x").unwrap();
        assert_eq!(unbound.namespace, None);
        assert!(unbound.in_vocabulary("urn:adlcp", "adlcp"));
        assert_eq!(local_names(&document.root).len(), 3);
    }

    #[test]
    fn refuses_doctype() {
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE m [<!ENTITY a \"b\">]>\n<m>&a;</m>";
        assert_eq!(parse(text), Err(XmlError::Doctype { line: 2, column: 1 }));
    }

    #[test]
    fn keeps_unknown_entities_literally() {
        let document = parse("<m>a&nbsp;b&#65;</m>").unwrap();
        assert_eq!(document.root.text, "a&nbsp;bA");
        assert_eq!(document.unknown_entities, vec!["nbsp".to_owned()]);
    }

    #[test]
    fn reports_mismatched_tags_with_position() {
        let error = parse("<m>\n  <a></b>\n</m>").unwrap_err();
        match error {
            XmlError::NotWellFormed { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse("<m><a></a>"),
            Err(XmlError::NotWellFormed { .. })
        ));
    }

    #[test]
    fn decodes_boms_and_legacy_encodings() {
        let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], "<m>é</m>".as_bytes()].concat();
        assert_eq!(decode(&utf8_bom).text, "<m>é</m>");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<m>é</m>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&utf16).text, "<m>é</m>");
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><m>\xe9\x80</m>";
        let decoded = decode(latin1);
        assert!(decoded.text.ends_with("<m>é€</m>"));
        assert_eq!(decoded.mismatch, None);
        let lying = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><m>\xe9</m>";
        assert!(decode(lying).mismatch.is_some());
    }
}
