//! The arguments of an event or an ack.
//!
//! Received arguments stay the client's raw JSON (placeholders included) plus the binary
//! attachments. Relaying or echoing them writes what the reference server would write,
//! `JSON.stringify` of the parsed arguments: the received bytes themselves when they are
//! [canonical](crate::raw::RawArgs::is_canonical) (what socket.io clients send), their
//! normalized form otherwise. Outgoing arguments can also be [`Value`]s, which may hold
//! binary at any depth; encoding turns that binary into attachments, numbered depth-first.

use bytes::Bytes;

use crate::codec::{self, Args};
use crate::raw::{RawArgs, RawJson};
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
enum Inner {
    Raw {
        args: RawArgs,
        attachments: Vec<Bytes>,
    },
    Values(Vec<Value>),
}

/// Event or ack arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload(Inner);

impl Default for Payload {
    fn default() -> Self {
        Payload::empty()
    }
}

impl Payload {
    /// No arguments.
    pub fn empty() -> Payload {
        Payload(Inner::Values(Vec::new()))
    }

    /// Arguments as they were received: raw JSON elements whose placeholders are numbered
    /// into `attachments` (checked by the decoder).
    ///
    /// With attachments, the placeholders are resolved at once: sent on, the buffers are
    /// numbered again depth-first (as the reference does), whatever order they came in.
    pub fn from_raw(args: RawArgs, attachments: Vec<Bytes>) -> Payload {
        if attachments.is_empty() {
            return Payload(Inner::Raw { args, attachments });
        }
        match codec::reconstruct(&args.to_array(), &attachments) {
            Ok(Value::Array(items)) => Payload(Inner::Values(items)),
            _ => Payload(Inner::Raw { args, attachments }),
        }
    }

    /// One argument per value.
    pub fn from_values(values: Vec<Value>) -> Payload {
        Payload(Inner::Values(values))
    }

    /// A single argument.
    pub fn one(value: impl Into<Value>) -> Payload {
        Payload(Inner::Values(vec![value.into()]))
    }

    /// Arguments from a serde value that serializes to an array or tuple (`("a", 1)`),
    /// without binary. Where serde_json writes something `JSON.stringify` would not
    /// (`1.0`, index keys out of order), the text is not canonical and is sent normalized.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(args: &T) -> serde_json::Result<Payload> {
        let array = RawJson::from_serialize(args)?;
        let args = RawArgs::from_array(&array).ok_or_else(|| {
            <serde_json::Error as serde::ser::Error>::custom("arguments must serialize to an array")
        })?;
        Ok(Payload::from_raw(args, Vec::new()))
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        match &self.0 {
            Inner::Raw { args, .. } => args.len(),
            Inner::Values(v) => v.len(),
        }
    }

    /// True without arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every argument as a [`Value`] with binary substituted back in; JSON parts stay
    /// raw text (cheap, and written back verbatim when canonical).
    pub fn raw_values(&self) -> Vec<Value> {
        match &self.0 {
            Inner::Values(v) => v.clone(),
            Inner::Raw { args, attachments } if attachments.is_empty() => {
                args.iter().map(Value::Raw).collect()
            }
            Inner::Raw { args, attachments } => {
                match codec::reconstruct(&args.to_array(), attachments) {
                    Ok(Value::Array(items)) => items,
                    _ => Vec::new(),
                }
            }
        }
    }

    /// Every argument as a parsed [`Value`] tree (binary substituted back in).
    pub fn values(&self) -> Vec<Value> {
        self.raw_values().into_iter().map(Value::expand).collect()
    }

    /// Argument `index` as a parsed [`Value`] tree (binary substituted back in), for
    /// inspection: `payload.get(0)?.get("id")?.as_number()`.
    pub fn get(&self, index: usize) -> Option<Value> {
        self.get_raw(index).map(Value::expand)
    }

    /// Argument `index` with its JSON kept as raw text, to send it on unchanged.
    pub fn get_raw(&self, index: usize) -> Option<Value> {
        match &self.0 {
            Inner::Values(v) => v.get(index).cloned(),
            Inner::Raw { args, attachments } if attachments.is_empty() => {
                args.get(index).map(Value::Raw)
            }
            Inner::Raw { .. } => self.raw_values().into_iter().nth(index),
        }
    }

    /// The binary argument at `index`, if that argument is a buffer.
    pub fn binary(&self, index: usize) -> Option<Bytes> {
        self.get(index).and_then(|v| v.as_binary().cloned())
    }

    /// Deserializes the arguments (a JSON array) into `T`, e.g. a tuple. Binary
    /// arguments appear as their placeholders.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        match &self.0 {
            Inner::Raw { args, .. } => args.deserialize(),
            Inner::Values(v) => Value::Array(v.clone()).deserialize(),
        }
    }

    /// The encoder's view of these arguments.
    pub(crate) fn as_args(&self) -> Args<'_> {
        match &self.0 {
            Inner::Raw { args, attachments } if attachments.is_empty() => Args::Raw(args),
            Inner::Raw { args, attachments } => Args::RawBinary { args, attachments },
            Inner::Values(v) => Args::Values(v),
        }
    }

    /// These arguments followed by one more string (the recovery offset).
    pub(crate) fn with_trailing_string(&self, s: &str) -> Payload {
        let mut values = self.raw_values();
        values.push(Value::from(s));
        Payload(Inner::Values(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn sent(payload: &Payload) -> String {
        let mut out = BytesMut::new();
        codec::encode_event_into(
            &mut out,
            None,
            &crate::packet::Namespace::main(),
            None,
            "e",
            payload.as_args(),
        );
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn payloads_are_sent_as_the_reference_would() {
        // node: JSON.stringify(["e", ...JSON.parse("[1.0, {\"b\":1,\"0\":2}, \"\\/\"]")])
        let loose = Payload::from_raw(
            RawArgs::new(r#"1.0, {"b":1,"0":2}, "\/""#).unwrap(),
            Vec::new(),
        );
        let want = r#"2["e",1,{"0":2,"b":1},"/"]"#;
        assert_eq!(sent(&loose), want);
        // The same through values, a single raw argument, or a trailing string.
        assert_eq!(sent(&Payload::from_values(loose.raw_values())), want);
        assert_eq!(
            sent(&Payload::one(loose.get_raw(1).unwrap())),
            r#"2["e",{"0":2,"b":1}]"#
        );
        assert_eq!(
            sent(&loose.with_trailing_string("o")),
            r#"2["e",1,{"0":2,"b":1},"/","o"]"#
        );
        // serde_json's `1.0` goes out as JavaScript writes it.
        let typed = Payload::from_serialize(&("a", 1.0, 2)).unwrap();
        assert_eq!(sent(&typed), r#"2["e","a",1,2]"#);
        // Canonical args are written verbatim.
        let exact = Payload::from_raw(RawArgs::new(r#"1.5,{"0":2,"b":1}"#).unwrap(), Vec::new());
        assert_eq!(sent(&exact), r#"2["e",1.5,{"0":2,"b":1}]"#);
    }
}
