//! `JSON.stringify` for [`Value`], with binary either extracted (placeholders, for
//! EVENT/ACK packets) or written as Node's `Buffer.toJSON`.

use bytes::{BufMut, Bytes};

use super::{Map, Value};
use crate::json::array_index;
use crate::json::write::{write_str, write_u64};

/// What to do with [`Value::Binary`] while writing.
pub(crate) enum BinaryMode<'a> {
    /// Write `{"_placeholder":true,"num":k}` and push the buffer, so that k counts the
    /// buffers in depth-first order (the reference's `deconstructPacket`).
    Placeholders(&'a mut Vec<Bytes>),
    /// Write `{"type":"Buffer","data":[...]}`, as `JSON.stringify` does with a Node Buffer.
    BufferJson,
}

/// Writes `value` as `JSON.stringify` would.
pub(crate) fn write_value<B: BufMut>(out: &mut B, value: &Value, mode: &mut BinaryMode<'_>) {
    match value {
        Value::Null => out.put_slice(b"null"),
        Value::Bool(true) => out.put_slice(b"true"),
        Value::Bool(false) => out.put_slice(b"false"),
        Value::Number(n) => n.write(out),
        Value::String(s) => write_str(out, s),
        // Verbatim when canonical (the fast path), else normalized: `JSON.stringify` of
        // what `JSON.parse` makes of the text.
        Value::Raw(r) => r.write_normalized(out),
        Value::Array(items) => {
            out.put_u8(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                write_value(out, item, mode);
            }
            out.put_u8(b']');
        }
        Value::Object(map) => write_object(out, map, mode),
        Value::Binary(buf) => match mode {
            BinaryMode::Placeholders(buffers) => {
                out.put_slice(b"{\"_placeholder\":true,\"num\":");
                write_u64(out, buffers.len() as u64);
                out.put_u8(b'}');
                buffers.push(buf.clone());
            }
            BinaryMode::BufferJson => {
                out.put_slice(b"{\"type\":\"Buffer\",\"data\":[");
                for (i, b) in buf.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b',');
                    }
                    write_u64(out, u64::from(*b));
                }
                out.put_slice(b"]}");
            }
        },
    }
}

/// Members in JavaScript property order: array-index keys ascending, then the rest in
/// insertion order.
fn write_object<B: BufMut>(out: &mut B, map: &Map, mode: &mut BinaryMode<'_>) {
    out.put_u8(b'{');
    let mut first = true;
    let mut member = |out: &mut B, k: &str, v: &Value, mode: &mut BinaryMode<'_>| {
        if !first {
            out.put_u8(b',');
        }
        first = false;
        write_str(out, k);
        out.put_u8(b':');
        write_value(out, v, mode);
    };
    if map.keys().any(|k| array_index(k).is_some()) {
        let mut indexed: Vec<(u32, &str, &Value)> = map
            .iter()
            .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
            .collect();
        indexed.sort_unstable_by_key(|&(i, _, _)| i);
        for (_, k, v) in indexed {
            member(out, k, v, mode);
        }
        for (k, v) in map.iter().filter(|(k, _)| array_index(k).is_none()) {
            member(out, k, v, mode);
        }
    } else {
        for (k, v) in map.iter() {
            member(out, k, v, mode);
        }
    }
    out.put_u8(b'}');
}

impl Value {
    /// The JSON text, as `JSON.stringify` gives it; binary is written as Node's
    /// `Buffer.toJSON` (`{"type":"Buffer","data":[...]}`).
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        write_value(&mut out, self, &mut BinaryMode::BufferJson);
        // Only valid UTF-8 is ever written.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the JSON text (as [`Value::to_json`]) to `out`.
    pub fn write_json<B: BufMut>(&self, out: &mut B) {
        write_value(out, self, &mut BinaryMode::BufferJson);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawJson;

    fn obj(members: &[(&str, Value)]) -> Value {
        members.iter().cloned().collect()
    }

    #[test]
    fn matches_json_stringify() {
        // Expected strings produced by node 20 `JSON.stringify` of the same JS value.
        let v = obj(&[
            ("int", 1000.into()),
            ("float", 1000.0.into()),
            ("neg", (-1.25).into()),
            ("big", 1e21.into()),
            ("small", 1e-7.into()),
            ("u64", u64::MAX.into()),
            ("nan", f64::NAN.into()),
            ("s", "é\n\"😀\u{1}".into()),
            (
                "arr",
                Value::from(vec![Value::Null, true.into(), "x".into()]),
            ),
            ("nested", obj(&[("z", 1.into()), ("a", obj(&[]))])),
        ]);
        assert_eq!(
            v.to_json(),
            r#"{"int":1000,"float":1000,"neg":-1.25,"big":1e+21,"small":1e-7,"#.to_owned()
                + r#""u64":18446744073709551615,"nan":null,"s":"é\n\"😀\u0001","#
                + r#""arr":[null,true,"x"],"nested":{"z":1,"a":{}}}"#
        );
    }

    #[test]
    fn integer_like_keys_come_first_as_in_javascript() {
        // node: JSON.stringify({b:1,"2":2,"1":3,a:4,"4294967295":5,"4294967294":6,"01":7})
        let v = obj(&[
            ("b", 1.into()),
            ("2", 2.into()),
            ("1", 3.into()),
            ("a", 4.into()),
            ("4294967295", 5.into()),
            ("4294967294", 6.into()),
            ("01", 7.into()),
        ]);
        assert_eq!(
            v.to_json(),
            r#"{"1":3,"2":2,"4294967294":6,"b":1,"a":4,"4294967295":5,"01":7}"#
        );
    }

    #[test]
    fn binary_outside_events_is_buffer_json() {
        let v = Value::from(vec![Value::Binary(Bytes::from_static(&[1, 2, 255]))]);
        assert_eq!(v.to_json(), r#"[{"type":"Buffer","data":[1,2,255]}]"#);
        assert_eq!(
            Value::Binary(Bytes::new()).to_json(),
            r#"{"type":"Buffer","data":[]}"#
        );
    }

    #[test]
    fn placeholders_are_numbered_depth_first() {
        let b = |n: u8| Value::Binary(Bytes::from(vec![n]));
        let v = Value::from(vec![
            b(0),
            obj(&[("x", Value::from(vec![b(1), b(2)])), ("1", b(3))]),
            b(4),
        ]);
        let mut buffers = Vec::new();
        let mut out = Vec::new();
        write_value(&mut out, &v, &mut BinaryMode::Placeholders(&mut buffers));
        let ph = |n: u8| format!("{{\"_placeholder\":true,\"num\":{n}}}");
        // Key "1" comes first in JavaScript order, so its buffer is numbered first too.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "[{},{{\"1\":{},\"x\":[{},{}]}},{}]",
                ph(0),
                ph(1),
                ph(2),
                ph(3),
                ph(4)
            )
        );
        let got: Vec<u8> = buffers.iter().map(|b| b[0]).collect();
        assert_eq!(got, [0, 3, 1, 2, 4]);
    }

    #[test]
    fn raw_is_written_verbatim_when_canonical_and_normalized_otherwise() {
        // node: JSON.stringify([JSON.parse('{ "keep" : 1.0 }'), 1.0, JSON.parse('{"b":[1e3]}')])
        let loose = RawJson::new("{ \"keep\" : 1.0 }").unwrap();
        let canonical = RawJson::new("{\"b\":[1000]}").unwrap();
        assert!(!loose.is_canonical());
        assert!(canonical.is_canonical());
        let v = Value::from(vec![Value::Raw(loose), 1.0.into(), Value::Raw(canonical)]);
        let mut out = bytes::BytesMut::new();
        v.write_json(&mut out);
        assert_eq!(&out[..], b"[{\"keep\":1},1,{\"b\":[1000]}]");
    }
}
