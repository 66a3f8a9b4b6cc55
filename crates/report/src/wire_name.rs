//! Serde for the audit's enums that the report writes by name (`#[serde(with =
//! "wire_name")]`): the audit's model has no serde, the names are its `as_str`.

use serde::de::Error;
use serde::{Deserialize, Deserializer, Serializer};

use badalloc_audit_core::model::{CallocVerdict, Confidence, ImageState, Verdict};
use badalloc_audit_core::ErrorKind;

/// An enum written as one of a fixed set of names.
pub(crate) trait WireName: Sized + Copy {
    /// What it is, for the error on a name not known.
    const WHAT: &'static str;
    fn name(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
}

/// Each enum's names are its own `as_str` and `from_name`.
macro_rules! wire_names {
    ($($t:ty: $what:literal),* $(,)?) => {$(
        impl WireName for $t {
            const WHAT: &'static str = $what;
            fn name(self) -> &'static str {
                self.as_str()
            }
            fn from_name(name: &str) -> Option<Self> {
                <$t>::from_name(name)
            }
        }
    )*};
}

wire_names!(
    Verdict: "verdict",
    Confidence: "confidence",
    CallocVerdict: "calloc verdict",
    ErrorKind: "error kind",
    ImageState: "image state",
);

pub(crate) fn serialize<T: WireName, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

pub(crate) fn deserialize<'de, T: WireName, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    let name = String::deserialize(d)?;
    T::from_name(&name).ok_or_else(|| D::Error::custom(format!("unknown {} `{name}`", T::WHAT)))
}

/// The same for an optional field (`null` when none).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<T: WireName, S: Serializer>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(v.name()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: WireName, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|name| {
                T::from_name(&name)
                    .ok_or_else(|| D::Error::custom(format!("unknown {} `{name}`", T::WHAT)))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: WireName + PartialEq + std::fmt::Debug>(all: &[T]) {
        for &v in all {
            let mut json = Vec::new();
            serialize(&v, &mut serde_json::Serializer::new(&mut json)).expect("written");
            assert_eq!(json, format!("\"{}\"", v.name()).into_bytes());
            let back: T =
                deserialize(&mut serde_json::Deserializer::from_slice(&json)).expect("read back");
            assert_eq!(back, v);
        }
        let unknown = deserialize::<T, _>(&mut serde_json::Deserializer::from_str("\"x\""));
        assert!(unknown.is_err_and(|e| e.to_string().contains(T::WHAT)));
    }

    /// Every name the report writes reads back to the same value, and the names are the
    /// schema's (docs/json-report.md).
    #[test]
    fn every_name_reads_back_and_an_unknown_name_is_an_error() {
        use CallocVerdict::*;
        round_trip(&[Checked, Unchecked, Unknown]);
        assert_eq!(
            [Checked, Unchecked, Unknown].map(|v| v.name()),
            ["checked", "unchecked", "unknown"]
        );
        let kinds = [
            ErrorKind::Corrupt,
            ErrorKind::Truncated,
            ErrorKind::BoundHit,
            ErrorKind::Unreadable,
            ErrorKind::Unsupported,
        ];
        round_trip(&kinds);
        assert_eq!(
            kinds.map(|k| k.name()),
            [
                "corrupt",
                "truncated",
                "bound-hit",
                "unreadable",
                "unsupported"
            ]
        );
        round_trip(&[Confidence::Low, Confidence::Medium, Confidence::High]);
    }
}
