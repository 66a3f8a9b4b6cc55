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

impl WireName for Verdict {
    const WHAT: &'static str = "verdict";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(name: &str) -> Option<Self> {
        Verdict::from_name(name)
    }
}

impl WireName for Confidence {
    const WHAT: &'static str = "confidence";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(name: &str) -> Option<Self> {
        Confidence::from_name(name)
    }
}

impl WireName for CallocVerdict {
    const WHAT: &'static str = "calloc verdict";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(name: &str) -> Option<Self> {
        CallocVerdict::from_name(name)
    }
}

impl WireName for ErrorKind {
    const WHAT: &'static str = "error kind";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(name: &str) -> Option<Self> {
        ErrorKind::from_name(name)
    }
}

impl WireName for ImageState {
    const WHAT: &'static str = "image state";
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(name: &str) -> Option<Self> {
        ImageState::from_name(name)
    }
}

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
