//! SCORM 2004 sequencing and navigation.
//!
//! [`definition`] holds the static sequencing definition model read from a
//! manifest (`imsss:sequencing` plus the ADL extensions), with the spec
//! defaults applied. [`engine`] runs these definitions: the SN book's
//! processes over one registration's activity tree and tracking state.

/// Declares a closed vocabulary of manifest tokens: an enum that serialises in
/// snake_case, with `as_token`/`from_token` for the spelling used in manifests.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $token:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in manifests.
            pub fn as_token(self) -> &'static str {
                match self {
                    $( $name::$variant => $token, )+
                }
            }

            /// Parses the manifest spelling, ignoring ASCII case and surrounding whitespace.
            pub fn from_token(token: &str) -> Option<$name> {
                let token = token.trim();
                $( if token.eq_ignore_ascii_case($token) { return Some($name::$variant); } )+
                None
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_token())
            }
        }
    };
}
pub(crate) use vocabulary;

pub mod definition;
pub mod engine;
