//! The gateway's scalar encodings, in one place: bytes as padded standard base64, 64-bit
//! integers as JSON strings (numbers accepted on input), and enums by their proto names
//! (numbers accepted on input). No I/O.
//!
//! Each encoding is a newtype, so one `impl` carries both serde and the JSON Schema, and a
//! wire struct needs no per-field attributes. GATEWAY.md 2.2–2.4 has the measured rules.

use std::fmt;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Bytes on the wire: padded standard base64 both ways (URL-safe or unpadded input is a 400).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct B64(pub(crate) Vec<u8>);

impl B64 {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for B64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl From<Vec<u8>> for B64 {
    fn from(bytes: Vec<u8>) -> Self {
        B64(bytes)
    }
}

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Written straight into the output: no intermediate String.
        serializer.collect_str(&Base64Display::new(&self.0, &STANDARD))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct B64Visitor;
        impl Visitor<'_> for B64Visitor {
            type Value = B64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a padded standard base64 string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<B64, E> {
                STANDARD
                    .decode(s)
                    .map(B64)
                    .map_err(|e| E::custom(format_args!("invalid base64: {e}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<B64, E> {
                Ok(B64::default()) // the gateway reads null as absent (GATEWAY.md 2.1)
            }
        }
        deserializer.deserialize_any(B64Visitor)
    }
}

macro_rules! int_as_string {
    ($name:ident, $ty:ty, $what:literal) => {
        #[doc = concat!("A protobuf ", $what, " on the wire: a JSON string, a JSON number accepted on input.")]
        #[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) struct $name(pub(crate) $ty);

        impl $name {
            pub(crate) fn is_zero(&self) -> bool {
                self.0 == 0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                $name(v)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(itoa::Buffer::new().format(self.0))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct IntVisitor;
                impl Visitor<'_> for IntVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", $what, " as a string or a number"))
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$name, E> {
                        s.parse::<$ty>().map($name).map_err(|_| {
                            E::invalid_value(de::Unexpected::Str(s), &self)
                        })
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        <$ty>::try_from(v).map($name).map_err(|_| {
                            E::invalid_value(de::Unexpected::Signed(v), &self)
                        })
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        <$ty>::try_from(v).map($name).map_err(|_| {
                            E::invalid_value(de::Unexpected::Unsigned(v), &self)
                        })
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$name, E> {
                        Ok($name(0))
                    }
                }
                deserializer.deserialize_any(IntVisitor)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": concat!("a ", $what, " written as a decimal string"),
                    "type": "string",
                    "pattern": "^-?[0-9]+$"
                })
            }
        }
    };
}

int_as_string!(I64, i64, "int64");
int_as_string!(U64, u64, "uint64");

#[cfg(feature = "schema")]
impl schemars::JsonSchema for B64 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "B64".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "bytes as padded standard base64",
            "type": "string",
            "pattern": "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
        })
    }
}

/// `skip_serializing_if` helper: the gateway omits `false`, and so do we.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Defines a proto enum: serialized by name, read by name or number, and the first variant
/// (number 0) as the default.
/// An unknown name or number is a decode error, never a silent default.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident {
        $(#[$fmeta:meta])* $first:ident = 0 => $ftext:literal,
        $($(#[$vmeta:meta])* $variant:ident = $num:literal => $text:literal,)+
    }) => {
        wire_enum!(@impl $(#[$meta])* $name { $(#[$fmeta])* #[default] $first = 0 => $ftext, $($(#[$vmeta])* $variant = $num => $text,)+ });
    };
    (@impl $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $num:literal => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $num,)+
        }

        #[allow(dead_code)]
        impl $name {
            /// The proto name of the value, as the gateway writes it.
            pub const fn as_str_name(&self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
            /// The value with this proto name, if there is one.
            pub fn from_str_name(name: &str) -> Option<Self> {
                match name { $($text => Some(Self::$variant),)+ _ => None }
            }
            /// The value with this proto number, if there is one.
            pub const fn from_i32(n: i32) -> Option<Self> {
                match n { $($num => Some(Self::$variant),)+ _ => None }
            }
            pub(crate) fn is_default(&self) -> bool {
                *self as i32 == 0
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }

        impl TryFrom<i32> for $name {
            type Error = i32;
            fn try_from(n: i32) -> Result<Self, i32> {
                Self::from_i32(n).ok_or(n)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str_name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct EnumVisitor;
                impl serde::de::Visitor<'_> for EnumVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name or number"))
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::from_str_name(s).ok_or_else(|| E::unknown_variant(s, &[$($text),+]))
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$name, E> {
                        i32::try_from(v).ok().and_then($name::from_i32)
                            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$name, E> {
                        i32::try_from(v).ok().and_then($name::from_i32)
                            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
                    }
                    fn visit_unit<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                }
                deserializer.deserialize_any(EnumVisitor)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "enum": [$($text),+] })
            }
        }
    };
}
pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_padded_standard_base64_both_ways() {
        let all: Vec<u8> = (0..=255).collect();
        let json = serde_json::to_string(&B64(all.clone())).unwrap();
        assert!(json.ends_with("==\"") || json.ends_with("=\"") || json.len() % 4 == 2);
        assert_eq!(serde_json::from_str::<B64>(&json).unwrap().0, all);
        assert_eq!(
            serde_json::to_string(&B64(b"a".to_vec())).unwrap(),
            "\"YQ==\""
        );
        assert_eq!(
            serde_json::to_string(&B64(vec![0xfb, 0xff])).unwrap(),
            "\"+/8=\""
        );
    }

    #[test]
    fn unpadded_or_url_safe_base64_is_refused() {
        assert!(serde_json::from_str::<B64>("\"YQ\"").is_err());
        assert!(serde_json::from_str::<B64>("\"-_8=\"").is_err());
        assert!(serde_json::from_str::<B64>("12").is_err());
    }

    #[test]
    fn int64_is_a_string_out_and_a_string_or_number_in() {
        assert_eq!(serde_json::to_string(&I64(-42)).unwrap(), "\"-42\"");
        assert_eq!(
            serde_json::from_str::<I64>("\"9223372036854775807\"")
                .unwrap()
                .0,
            i64::MAX
        );
        assert_eq!(serde_json::from_str::<I64>("7").unwrap().0, 7);
        assert_eq!(serde_json::from_str::<I64>("null").unwrap().0, 0);
        assert!(serde_json::from_str::<I64>("\"9223372036854775808\"").is_err());
        assert!(serde_json::from_str::<I64>("\"12x\"").is_err());
        assert!(serde_json::from_str::<I64>("1.5").is_err());
    }

    #[test]
    fn uint64_ids_above_i64_max_survive() {
        let id: U64 = serde_json::from_str("\"13369935740846650944\"").unwrap();
        assert_eq!(id.0, 13369935740846650944);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"13369935740846650944\""
        );
        assert!(serde_json::from_str::<U64>("-1").is_err());
    }
}
