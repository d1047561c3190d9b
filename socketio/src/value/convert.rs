//! Conversions: serde_json values, serde types, and expanding raw JSON into a value tree.

use bytes::Bytes;

use super::{Map, Number, Value};
use crate::json::scan::Scanner;
use crate::json::{unescape, unescape_lossy, write_canonical_string};
use crate::raw::RawJson;

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(serde_number(&n)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                let mut m = Map::with_capacity(o.len());
                for (k, v) in o {
                    m.insert(k, Value::from(v));
                }
                Value::Object(m)
            }
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        Value::from(v.clone())
    }
}

fn serde_number(n: &serde_json::Number) -> Number {
    if let Some(u) = n.as_u64() {
        Number::from(u)
    } else if let Some(i) = n.as_i64() {
        Number::from(i)
    } else {
        Number::from_f64(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl Value {
    /// Converts any serde-serializable value (through `serde_json::to_value`).
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        serde_json::to_value(value).map(Value::from)
    }

    /// Converts to a `serde_json::Value`. Binary becomes `{"type":"Buffer","data":[...]}`
    /// (what `JSON.stringify` makes of a Node Buffer); NaN and infinities become `null`.
    /// Fails if a raw part is JSON that serde_json refuses (a lone surrogate `"\ud800"`, a
    /// number such as `1e400`).
    pub fn to_serde(&self) -> serde_json::Result<serde_json::Value> {
        Ok(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64().filter(|_| !n.is_f64()) {
                    u.into()
                } else if let Some(i) = n.as_i64().filter(|_| !n.is_f64()) {
                    i.into()
                } else {
                    serde_json::Number::from_f64(n.as_f64())
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(a) => {
                serde_json::Value::Array(a.iter().map(Value::to_serde).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => {
                let mut o = serde_json::Map::with_capacity(m.len());
                for (k, v) in m.iter() {
                    o.insert(k.to_owned(), v.to_serde()?);
                }
                serde_json::Value::Object(o)
            }
            Value::Binary(b) => serde_json::json!({
                "type": "Buffer",
                "data": b.iter().copied().collect::<Vec<u8>>(),
            }),
            Value::Raw(r) => r.deserialize()?,
        })
    }

    /// Deserializes into a typed value (through [`Value::to_serde`]; binary arrives as the
    /// `Buffer.toJSON` object).
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_value(self.to_serde()?)
    }

    /// Parses raw JSON into a value tree. Integers that fit in u64/i64 stay integers, other
    /// numbers become f64 (`1e400` is infinity, as in JavaScript); lone surrogates in
    /// strings become U+FFFD; duplicate keys keep the last value at the first position, as
    /// `JSON.parse` does.
    pub fn parse_raw(raw: &RawJson) -> Value {
        let bytes = raw.bytes();
        let mut p = Scanner::new(bytes, usize::MAX);
        parse(&mut p, bytes, Mode::Exact).unwrap_or_else(|| Value::Raw(raw.clone()))
    }

    /// Parses raw JSON as `JSON.parse` does, for writing it back as `JSON.stringify` would
    /// (the normalization of non-canonical text). Unlike [`Value::parse_raw`], every number
    /// is what JavaScript makes of it (an integer beyond 2^53 rounds to an f64), and a
    /// string value with a lone surrogate stays a [`Value::Raw`] string literal written as
    /// JavaScript writes it (`"\ud800"`). The result holds no non-canonical raw part.
    pub(crate) fn parse_js(raw: &RawJson) -> Value {
        let bytes = raw.bytes();
        let mut p = Scanner::new(bytes, usize::MAX);
        // The text was validated, so parsing cannot fail; if it did, the text would be
        // written as it is (and not normalized again, which would never end).
        parse(&mut p, bytes, Mode::Js)
            .unwrap_or_else(|| Value::Raw(RawJson::from_canonical(bytes.clone())))
    }

    /// Replaces every [`Value::Raw`] part by its parsed tree ([`Value::parse_raw`]).
    pub fn expand(self) -> Value {
        match self {
            Value::Raw(r) => Value::parse_raw(&r),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::expand).collect()),
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, v.expand())).collect())
            }
            other => other,
        }
    }
}

/// What [`parse`] makes of numbers and of strings with lone surrogates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// [`Value::parse_raw`]: integers exact when they fit in 64 bits, U+FFFD for lone
    /// surrogates.
    Exact,
    /// [`Value::parse_js`]: numbers as JavaScript holds them, lone surrogates kept.
    Js,
}

/// Parses the (validated) value at the cursor.
fn parse(p: &mut Scanner<'_>, bytes: &Bytes, mode: Mode) -> Option<Value> {
    let start = p.pos();
    Some(match p.peek()? {
        b'{' => {
            p.bump();
            p.skip_ws();
            let mut m = Map::new();
            if p.peek() == Some(b'}') {
                p.bump();
                return Some(Value::Object(m));
            }
            loop {
                let key = parse_key(p, bytes)?;
                p.skip_ws();
                p.expect(b':').ok()?;
                p.skip_ws();
                let v = parse(p, bytes, mode)?;
                m.insert(key, v);
                p.skip_ws();
                match p.peek()? {
                    b',' => {
                        p.bump();
                        p.skip_ws();
                    }
                    b'}' => {
                        p.bump();
                        return Some(Value::Object(m));
                    }
                    _ => return None,
                }
            }
        }
        b'[' => {
            p.bump();
            p.skip_ws();
            let mut a = Vec::new();
            if p.peek() == Some(b']') {
                p.bump();
                return Some(Value::Array(a));
            }
            loop {
                a.push(parse(p, bytes, mode)?);
                p.skip_ws();
                match p.peek()? {
                    b',' => {
                        p.bump();
                        p.skip_ws();
                    }
                    b']' => {
                        p.bump();
                        return Some(Value::Array(a));
                    }
                    _ => return None,
                }
            }
        }
        b'"' => {
            p.string().ok()?;
            let body = bytes.get(start + 1..p.pos() - 1)?;
            let (s, lone) = unescape_lossy(body)?;
            if lone && mode == Mode::Js {
                let mut literal = Vec::with_capacity(body.len() + 2);
                write_canonical_string(&mut literal, body)?;
                Value::Raw(RawJson::from_canonical(Bytes::from(literal)))
            } else {
                Value::String(s.into_owned())
            }
        }
        _ => {
            p.value(0).ok()?;
            let text = bytes.get(start..p.pos())?;
            match text {
                b"true" => Value::Bool(true),
                b"false" => Value::Bool(false),
                b"null" => Value::Null,
                _ if mode == Mode::Js => Value::Number(parse_number_js(text)?),
                _ => Value::Number(parse_number(text)?),
            }
        }
    })
}

fn parse_key(p: &mut Scanner<'_>, bytes: &Bytes) -> Option<String> {
    let start = p.pos();
    p.string().ok()?;
    let body = bytes.get(start + 1..p.pos() - 1)?;
    unescape(body).map(|s| s.into_owned())
}

/// A JSON number literal as JavaScript holds it: an integer of up to 15 digits (exact in
/// an f64, so written the same either way) stays an integer, anything else is an f64.
fn parse_number_js(text: &[u8]) -> Option<Number> {
    let digits = text.len() - usize::from(text.first() == Some(&b'-'));
    if digits <= 15 && !text.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return parse_number(text);
    }
    let s = std::str::from_utf8(text).ok()?;
    s.parse::<f64>().ok().map(Number::from_f64)
}

/// A JSON number literal: integers stay exact when they fit.
pub(crate) fn parse_number(text: &[u8]) -> Option<Number> {
    let s = std::str::from_utf8(text).ok()?;
    if !text.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        if let Ok(u) = s.parse::<u64>() {
            return Some(Number::from(u));
        }
        if let Ok(i) = s.parse::<i64>() {
            return Some(Number::from(i));
        }
    }
    s.parse::<f64>().ok().map(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_round_trip() {
        let j = serde_json::json!({"b": [1, -2, 1.5, "x", null, true], "a": {"k": u64::MAX}});
        let v = Value::from(&j);
        assert_eq!(
            v.to_json(),
            r#"{"b":[1,-2,1.5,"x",null,true],"a":{"k":18446744073709551615}}"#
        );
        assert_eq!(v.to_serde().unwrap(), j);
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct S {
            k: u64,
        }
        assert_eq!(
            v.get("a").unwrap().deserialize::<S>().unwrap(),
            S { k: u64::MAX }
        );
        let from = Value::from_serialize(&("e", 2)).unwrap();
        assert_eq!(from.to_json(), r#"["e",2]"#);
        let bin = Value::Binary(Bytes::from_static(&[7]));
        assert_eq!(
            bin.to_serde().unwrap(),
            serde_json::json!({"type": "Buffer", "data": [7]})
        );
        assert_eq!(
            Value::from(f64::NAN).to_serde().unwrap(),
            serde_json::Value::Null
        );
        assert!(
            Value::Raw(RawJson::new("\"\\ud800\"").unwrap())
                .to_serde()
                .is_err()
        );
    }

    #[test]
    fn parse_and_expand() {
        let raw = RawJson::new(r#"{"a":1,"b":[-1,1.5,1e400,18446744073709551616],"a":"\u00e9"}"#)
            .unwrap();
        let v = Value::parse_raw(&raw);
        assert_eq!(v.get("a").and_then(Value::as_str), Some("é"));
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            v.to_json(),
            r#"{"a":"é","b":[-1,1.5,null,18446744073709552000]}"#
        );
        let wrapped = Value::from(vec![Value::Raw(RawJson::new("[true]").unwrap())]);
        assert_eq!(
            wrapped.expand(),
            Value::from(vec![Value::from(vec![Value::Bool(true)])])
        );
        assert_eq!(
            parse_number(b"-9223372036854775808").unwrap().as_i64(),
            Some(i64::MIN)
        );
        assert!(parse_number(b"1.0").unwrap().is_f64());
    }
}
