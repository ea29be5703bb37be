//! Safe paths inside a package.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A file path inside a package: relative, `/`-separated, never escaping the
/// root.
///
/// Backslashes are read as separators before any check, so `..\..\x`,
/// `C:\x` and `\\server\share` are refused like their slash forms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PackagePath(String);

/// Why a string is not a [`PackagePath`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty.
    #[error("path is empty")]
    Empty,
    /// The path contains a NUL byte.
    #[error("path {0:?} contains a nul byte")]
    Nul(String),
    /// The path starts at the file-system root.
    #[error("path {0:?} is absolute")]
    Absolute(String),
    /// The path starts with a drive letter such as `C:`.
    #[error("path {0:?} starts with a drive letter")]
    DriveLetter(String),
    /// A segment is `..`.
    #[error("path {0:?} escapes the package root")]
    ParentSegment(String),
    /// A segment is empty (`a//b`, trailing `/`) or `.`.
    #[error("path {0:?} has an empty or `.` segment")]
    EmptySegment(String),
}

impl PackagePath {
    /// Checks `raw` and returns it as a package path.
    pub fn parse(raw: &str) -> Result<PackagePath, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        if raw.contains('\0') {
            return Err(PathError::Nul(raw.to_owned()));
        }
        let normalized = raw.replace('\\', "/");
        if normalized.starts_with('/') {
            return Err(PathError::Absolute(raw.to_owned()));
        }
        let bytes = normalized.as_bytes();
        if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
            return Err(PathError::DriveLetter(raw.to_owned()));
        }
        for segment in normalized.split('/') {
            match segment {
                ".." => return Err(PathError::ParentSegment(raw.to_owned())),
                "" | "." => return Err(PathError::EmptySegment(raw.to_owned())),
                _ => {}
            }
        }
        Ok(PackagePath(normalized))
    }

    /// The path as a `/`-separated string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The folder part, without trailing `/`; `None` at the package root.
    pub fn parent(&self) -> Option<&str> {
        self.0.rsplit_once('/').map(|(parent, _)| parent)
    }

    /// `prefix/self`, where `prefix` is itself a package path.
    pub fn under(&self, prefix: &PackagePath) -> PackagePath {
        PackagePath(format!("{}/{}", prefix.0, self.0))
    }

    /// This path with `prefix/` removed, if it starts with it.
    pub fn strip_prefix(&self, prefix: &PackagePath) -> Option<PackagePath> {
        self.0
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| PackagePath(rest.to_owned()))
    }

    /// The segments of the path.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for PackagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PackagePath {
    type Error = PathError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        PackagePath::parse(&value)
    }
}

impl From<PackagePath> for String {
    fn from(value: PackagePath) -> Self {
        value.0
    }
}

impl AsRef<str> for PackagePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
