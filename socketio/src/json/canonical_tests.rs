//! Tests of canonical-text detection and normalization: vectors produced by node 20, and
//! a property test on texts written in random equivalent forms.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::codec::{Args, decode, encode_ack_into, encode_event_into};
use crate::packet::Namespace;
use crate::raw::{RawArgs, RawJson};
use crate::value::{Map, Value};

/// `(text, JSON.stringify(JSON.parse(text)))`, the second produced by node 20:
/// `node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1])))' '<text>'`.
const NODE_VECTORS: &[(&str, &str)] = &[
    (r#"1.0"#, r#"1"#),
    (r#"1e3"#, r#"1000"#),
    (r#"-0"#, r#"0"#),
    (r#"1E2"#, r#"100"#),
    (r#"0.10"#, r#"0.1"#),
    (r#"100e-2"#, r#"1"#),
    (r#"2.50"#, r#"2.5"#),
    (r#"-0.0"#, r#"0"#),
    (r#"0.1e1"#, r#"1"#),
    (r#"1e21"#, r#"1e+21"#),
    (r#"1E+21"#, r#"1e+21"#),
    (r#"1e+21"#, r#"1e+21"#),
    (r#"1e-7"#, r#"1e-7"#),
    (r#"1.5e-7"#, r#"1.5e-7"#),
    (r#"0.0000001"#, r#"1e-7"#),
    (r#"0.000001"#, r#"0.000001"#),
    (r#"0.0000012345"#, r#"0.0000012345"#),
    (r#"123456789012345678"#, r#"123456789012345680"#),
    (r#"9007199254740993"#, r#"9007199254740992"#),
    (r#"9007199254740992"#, r#"9007199254740992"#),
    (r#"9007199254740994"#, r#"9007199254740994"#),
    (r#"1764640000123456"#, r#"1764640000123456"#),
    (r#"-1764640000123456"#, r#"-1764640000123456"#),
    (r#"1000000000000001"#, r#"1000000000000001"#),
    (r#"-1000000000000000"#, r#"-1000000000000000"#),
    (r#"-9007199254740992"#, r#"-9007199254740992"#),
    (r#"-9007199254740993"#, r#"-9007199254740992"#),
    (r#"18446744073709551615"#, r#"18446744073709552000"#),
    (r#"12345678901234567890"#, r#"12345678901234567000"#),
    (r#"100000000000000000000"#, r#"100000000000000000000"#),
    (r#"1000000000000000000000"#, r#"1e+21"#),
    (r#"1e20"#, r#"100000000000000000000"#),
    (r#"1e400"#, r#"null"#),
    (r#"-1e400"#, r#"null"#),
    (r#"2e-324"#, r#"0"#),
    (r#"5e-324"#, r#"5e-324"#),
    (r#"0.30000000000000004"#, r#"0.30000000000000004"#),
    (r#"0.3000000000000000444"#, r#"0.30000000000000004"#),
    (r#"1.7976931348623157e308"#, r#"1.7976931348623157e+308"#),
    (r#"1.7976931348623157e+308"#, r#"1.7976931348623157e+308"#),
    (r#"123456789012345.6"#, r#"123456789012345.6"#),
    (r#"1234567890123456.7"#, r#"1234567890123456.8"#),
    (r#"-5"#, r#"-5"#),
    (r#"100"#, r#"100"#),
    (r#"1.5"#, r#"1.5"#),
    (r#"-0.5"#, r#"-0.5"#),
    (r#"0"#, r#"0"#),
    (r#""\u00e9""#, r#""é""#),
    (r#""\/""#, r#""/""#),
    (r#""\u001F""#, r#""\u001f""#),
    (r#""\u001f""#, r#""\u001f""#),
    (r#""\u0041""#, r#""A""#),
    (r#""\u20ac""#, r#""€""#),
    (r#""\ud83d\ude00""#, "\"😀\""),
    (r#""\uD83D\uDE00""#, "\"😀\""),
    (r#""\ud800""#, r#""\ud800""#),
    (r#""\uD800""#, r#""\ud800""#),
    (r#""\udc00""#, r#""\udc00""#),
    (r#""\ud800\udc00""#, "\"𐀀\""),
    (r#""\ud800\u0041""#, r#""\ud800A""#),
    (r#""\udc00\ud800""#, r#""\udc00\ud800""#),
    (r#""\u0008""#, r#""\b""#),
    (r#""\b\f\n\r\t\"\\""#, r#""\b\f\n\r\t\"\\""#),
    (r#""\u007f""#, "\"\u{7f}\""),
    (r#""\u2028""#, "\"\u{2028}\""),
    (r#""\u0000\u001e""#, r#""\u0000\u001e""#),
    ("\"é😀 plain\"", "\"é😀 plain\""),
    (r#"[ 1 ]"#, r#"[1]"#),
    ("[1,\n2]", r#"[1,2]"#),
    (r#"{ "a" : 1 }"#, r#"{"a":1}"#),
    (
        r#"{"a":[1,{"b":null}],"c":"d"}"#,
        r#"{"a":[1,{"b":null}],"c":"d"}"#,
    ),
    (
        r#"{"b":1,"2":2,"1":1,"a":1,"b":3}"#,
        r#"{"1":1,"2":2,"b":3,"a":1}"#,
    ),
    (r#"{"a":1,"a":2}"#, r#"{"a":2}"#),
    (r#"{"1":1,"0":0}"#, r#"{"0":0,"1":1}"#),
    (r#"{"1":1,"1":2}"#, r#"{"1":2}"#),
    (r#"{"0":1,"a":2}"#, r#"{"0":1,"a":2}"#),
    (r#"{"01":1,"1":2}"#, r#"{"1":2,"01":1}"#),
    (r#"{"1":2,"01":1}"#, r#"{"1":2,"01":1}"#),
    (
        r#"{"4294967295":1,"4294967294":2}"#,
        r#"{"4294967294":2,"4294967295":1}"#,
    ),
    (
        r#"{"4294967294":2,"4294967295":1}"#,
        r#"{"4294967294":2,"4294967295":1}"#,
    ),
    (
        r#"{"a":{"x":1},"b":{"x":2}}"#,
        r#"{"a":{"x":1},"b":{"x":2}}"#,
    ),
    (r#"{"a":1,"b":{"a":2}}"#, r#"{"a":1,"b":{"a":2}}"#),
    (r#"{"x":{"a":1,"a":2}}"#, r#"{"x":{"a":2}}"#),
    (r#"{"x":{"a":1},"x":{"b":2}}"#, r#"{"x":{"b":2}}"#),
    (r#"{"\u0061":1,"a":2}"#, r#"{"a":2}"#),
    (r#"{"\ud800":1}"#, r#"{"\ud800":1}"#),
    (r#"[ "\ud800" ]"#, r#"["\ud800"]"#),
    (r#"[true,false,null,[],{}]"#, r#"[true,false,null,[],{}]"#),
];

#[test]
fn normalization_matches_node() {
    for &(text, want) in NODE_VECTORS {
        let raw = RawJson::new(text).unwrap();
        let normalized = raw.normalized();
        assert_eq!(normalized.as_str(), want, "{text:?}");
        // Exact on all of these: canonical exactly when the text is the stringify output.
        assert_eq!(raw.is_canonical(), text == want, "{text:?}");
        assert!(normalized.is_canonical(), "{text:?}");
        assert!(RawJson::new(want).unwrap().is_canonical(), "{want:?}");
    }
}

#[test]
fn canonical_text_takes_the_fast_path() {
    for &(_, want) in NODE_VECTORS {
        let raw = RawJson::new(Bytes::copy_from_slice(want.as_bytes())).unwrap();
        assert!(raw.is_canonical(), "{want:?}");
        // No copy: the normalized text is the same buffer.
        let normalized = raw.normalized();
        assert_eq!(normalized.as_bytes().as_ptr(), raw.as_bytes().as_ptr());
    }
}

fn echo(input: &'static str) -> (String, bool, bool) {
    let input = Bytes::from_static(input.as_bytes());
    let p = decode(input.clone()).unwrap();
    let args = p.args().unwrap();
    let mut out = BytesMut::new();
    encode_event_into(
        &mut out,
        Some(b'4'),
        p.nsp(),
        None,
        "message-back",
        Args::Raw(args),
    );
    let shared = input.as_ptr_range().contains(&args.as_bytes().as_ptr());
    (
        String::from_utf8(out.to_vec()).unwrap(),
        args.is_canonical(),
        shared,
    )
}

/// The conformance tests of the same names (conformance/test/sio-protocol.test.mjs), at
/// the codec level.
#[test]
fn echoes_match_the_reference_server() {
    for (input, want) in [
        // writes numbers the JSON.stringify way
        (
            r#"2["message",1.0,1e3,-0,1E2,0.10,100e-2,2.50]"#,
            r#"42["message-back",1,1000,0,100,0.1,1,2.5]"#,
        ),
        // writes strings the JSON.stringify way
        (
            r#"2["message","\u00e9\/\u001F\u0041\u20ac"]"#,
            r#"42["message-back","é/\u001fA€"]"#,
        ),
        // drops insignificant whitespace
        (
            "2[ \"message\" , { \"a\" : [ 1 , 2 ] } ,\n\t\"x\" ]",
            r#"42["message-back",{"a":[1,2]},"x"]"#,
        ),
        // orders object keys the JavaScript way (integer-like keys first, last duplicate
        // wins)
        (
            r#"2["message",{"b":1,"2":2,"1":1,"a":1,"b":3}]"#,
            r#"42["message-back",{"1":1,"2":2,"b":3,"a":1}]"#,
        ),
    ] {
        let (got, canonical, _) = echo(input);
        assert_eq!(got, want, "{input}");
        assert!(!canonical, "{input}");
    }
}

#[test]
fn whitespace_outside_the_arguments_does_not_count() {
    // Around the event name and inside the brackets: trimmed, the args stay canonical.
    let (got, canonical, shared) = echo("2[ \"message\" ,\t1,{\"a\":[2]} \n]");
    assert_eq!(got, r#"42["message-back",1,{"a":[2]}]"#);
    assert!(canonical && shared);
    // Between two arguments it counts.
    let (got, canonical, _) = echo(r#"2["message",1 ,2]"#);
    assert_eq!(got, r#"42["message-back",1,2]"#);
    assert!(!canonical);
    // Non-canonical name, canonical args.
    let (got, canonical, _) = echo(r#"2["m\u0065ssage",1]"#);
    assert_eq!(got, r#"42["message-back",1]"#);
    assert!(canonical);
    // Acks: all the elements are arguments.
    let p = decode(Bytes::from_static(b"31[ 1,\"\\/\" ]")).unwrap();
    assert!(!p.args().unwrap().is_canonical());
    let mut out = BytesMut::new();
    encode_ack_into(&mut out, None, p.nsp(), 1, Args::Raw(p.args().unwrap()));
    assert_eq!(&out[..], br#"31[1,"/"]"#);
    let p = decode(Bytes::from_static(b"31[ 1,\"/\" ]")).unwrap();
    assert!(p.args().unwrap().is_canonical());
}

#[test]
fn typical_client_payloads_take_the_fast_path() {
    for input in [
        r#"2["message",1,"2",{"3":[true]}]"#,
        r#"2["chat",{"user":"alice","text":"hi é 😀 \"q\" \\ \n","ts":1700000000123,"score":12.5,"tags":["a","b"],"pos":{"x":0.30000000000000004,"y":-1e-7}}]"#,
        r#"2["list",[{"id":1,"name":"a"},{"id":2,"name":"b"}],{"0":"x","1":"y","10":"z","k":null}]"#,
        r#"2["big",1e+21,5e-324,-1.7976931348623157e+308,123456789012345680000]"#,
    ] {
        let (got, canonical, shared) = echo(input);
        assert!(canonical, "{input}");
        assert!(shared, "{input}");
        let args = &input[input.find(',').unwrap()..];
        assert_eq!(got, format!(r#"42["message-back"{args}"#));
    }
}

#[test]
fn arguments_are_normalized_one_by_one() {
    let args = RawArgs::new(r#"1.0,{"a":1},"x" "#).unwrap();
    assert!(!args.is_canonical());
    let parts: Vec<(String, bool)> = args
        .iter()
        .map(|a| (a.as_str().to_owned(), a.is_canonical()))
        .collect();
    assert_eq!(
        parts,
        [
            ("1.0".to_owned(), false),
            ("{\"a\":1}".to_owned(), true),
            ("\"x\"".to_owned(), true)
        ]
    );
    let normalized = args.normalized();
    assert_eq!(normalized.as_str(), r#"1,{"a":1},"x""#);
    assert!(normalized.is_canonical());
    assert_eq!(normalized.len(), 3);
    assert!(RawArgs::empty().is_canonical());
    assert!(RawArgs::new("  ").unwrap().is_canonical());
    assert!(RawArgs::new(" 1,2 ").unwrap().is_canonical());
    assert!(!args.to_array().is_canonical());
    assert!(RawArgs::new("1,2").unwrap().to_array().is_canonical());
    let from = RawArgs::from_array(&RawJson::new("[1, 2]").unwrap()).unwrap();
    assert!(!from.is_canonical());
    let from = RawArgs::from_array(&RawJson::new(" [1,2] ").unwrap()).unwrap();
    assert!(from.is_canonical());
}

#[test]
fn lone_surrogates() {
    // JSON.stringify writes a lone surrogate as a lower-case `\u` escape: such text is
    // canonical, and a non-canonical text keeps it in string values.
    for (text, want, canonical) in [
        (r#""\ud800""#, r#""\ud800""#, true),
        (r#""a\udfffb""#, r#""a\udfffb""#, true),
        (r#"["\uDBFF" ]"#, r#"["\udbff"]"#, false),
        (
            r#"[ "\ud800\ud83d\ude00\udc00" ]"#,
            r#"["\ud800😀\udc00"]"#,
            false,
        ),
        (r#"{"\ud800":1}"#, r#"{"\ud800":1}"#, true),
    ] {
        let raw = RawJson::new(text).unwrap();
        assert_eq!(raw.is_canonical(), canonical, "{text}");
        assert_eq!(raw.normalized().as_str(), want, "{text}");
    }
    // The one difference from node: in a *key* of a non-canonical text the lone
    // surrogate becomes U+FFFD (node: `{"\ud800":1}`), since object keys are Rust strings.
    let raw = RawJson::new(r#"{ "\ud800":1}"#).unwrap();
    assert_eq!(raw.normalized().as_str(), "{\"\u{fffd}\":1}");
    // `Value::parse_raw` is unchanged: U+FFFD in values too.
    assert_eq!(
        Value::parse_raw(&RawJson::new(r#""\ud800""#).unwrap()).as_str(),
        Some("\u{fffd}")
    );
}

#[test]
fn key_checks() {
    let canonical = |s: &str| RawJson::new(s.to_owned()).unwrap().is_canonical();
    // Same key in sibling and nested objects is no duplicate.
    assert!(canonical(r#"[{"a":1,"b":2},{"a":1,"b":{"a":{"b":1}}}]"#));
    // Escaped keys compare by their (unique) canonical spelling.
    assert!(canonical(r#"{"a\n":1,"a":2,"a\"":3}"#));
    assert!(!canonical(r#"{"a\n":1,"a\n":2}"#));
    // Index keys: ascending, before the others; "01" and 2^32-1 are not indices.
    assert!(canonical(
        r#"{"0":1,"1":1,"4294967294":1,"x":1,"4294967295":1,"01":1}"#
    ));
    assert!(!canonical(r#"{"1":1,"1":1}"#));
    assert!(!canonical(r#"{"x":1,"1":1}"#));
    // Large objects switch from direct comparison to a hash set: still exact.
    let object = |keys: &[usize]| {
        let members: Vec<String> = keys.iter().map(|i| format!("\"k{i}\":{i}")).collect();
        format!("{{{}}}", members.join(","))
    };
    let slots = crate::json::scan::KEY_SLOTS;
    for n in [slots, slots + 1, 5 * slots] {
        let keys: Vec<usize> = (0..n).collect();
        assert!(canonical(&object(&keys)), "{n}");
        let nested = format!("{{\"outer\":{},\"k0\":[{}]}}", object(&keys), object(&keys));
        assert!(canonical(&nested), "{n}");
        // A duplicate of the first key, of one in the middle, of the last one: the last
        // value wins, at the first position.
        for dup in [0, n / 2, n - 1] {
            let text = object(&keys).replace('}', &format!(",\"k{dup}\":-1}}"));
            let raw = RawJson::new(text).unwrap();
            assert!(!raw.is_canonical(), "{n} {dup}");
            let want =
                object(&keys).replace(&format!("\"k{dup}\":{dup},"), &format!("\"k{dup}\":-1,"));
            let want = if dup == n - 1 {
                want.replace(&format!("\"k{dup}\":{dup}}}"), &format!("\"k{dup}\":-1}}"))
            } else {
                want
            };
            assert_eq!(raw.normalized().as_str(), want, "{n} {dup}");
        }
    }
}

#[test]
fn built_text_is_canonical() {
    let v: Value = [("b", Value::from(1.5)), ("1", Value::from("x"))]
        .into_iter()
        .collect();
    let (json, _) = crate::codec::deconstruct(&v);
    assert_eq!(json.as_str(), r#"{"1":"x","b":1.5}"#);
    assert!(json.is_canonical());
    // serde_json output is checked: canonical unless it writes floats or index keys
    // differently.
    assert!(
        RawJson::from_serialize(&("a", 1, [true]))
            .unwrap()
            .is_canonical()
    );
    let float = RawJson::from_serialize(&(1.0f64,)).unwrap();
    assert_eq!(float.as_str(), "[1.0]");
    assert!(!float.is_canonical());
    assert_eq!(float.normalized().as_str(), "[1]");
    assert!(RawJson::from(&serde_json::json!({"a": [1, "b"]})).is_canonical());
}

#[test]
fn binary_args_are_renumbered_like_the_reference() {
    let ph = |n: u8| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
    let atts = [Bytes::from_static(b"A"), Bytes::from_static(b"B")];
    let encode = |args: &RawArgs| {
        let mut out = BytesMut::new();
        let sent = encode_event_into(
            &mut out,
            None,
            &Namespace::main(),
            None,
            "e",
            Args::RawBinary {
                args,
                attachments: &atts,
            },
        );
        (String::from_utf8(out.to_vec()).unwrap(), sent)
    };
    // Canonical: relayed as is, attachments unchanged.
    let args = RawArgs::new(format!("{},[{}]", ph(0), ph(1))).unwrap();
    assert!(args.is_canonical());
    let (text, sent) = encode(&args);
    assert_eq!(text, format!(r#"52-["e",{},[{}]]"#, ph(0), ph(1)));
    assert_eq!(sent, atts);
    // Whitespace only: the same numbering comes out.
    let args = RawArgs::new(format!("{} , [ {} ]", ph(0), ph(1))).unwrap();
    let (text, sent) = encode(&args);
    assert_eq!(text, format!(r#"52-["e",{},[{}]]"#, ph(0), ph(1)));
    assert_eq!(sent, atts);
    // Key reordering moves placeholders: the reference (reconstruct, then deconstruct
    // in JavaScript key order) numbers them anew, and the attachments follow.
    // socket.io-parser 4.2.7 (decode, then encode the args): `{"b":<A>,"1":<B>}` is
    // re-emitted as `{"1":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}`
    // followed by B, A. The next two cases were checked the same way.
    let args = RawArgs::new(format!(r#"{{"b":{},"1":{}}}"#, ph(0), ph(1))).unwrap();
    assert!(!args.is_canonical());
    let (text, sent) = encode(&args);
    assert_eq!(text, format!(r#"52-["e",{{"1":{},"b":{}}}]"#, ph(0), ph(1)));
    assert_eq!(sent, [atts[1].clone(), atts[0].clone()]);
    // A placeholder lost to a duplicate key is dropped with its attachment, and the
    // packet is no longer binary when none is left.
    let args = RawArgs::new(format!(r#"{{"k":{},"k":1}},2.0"#, ph(0))).unwrap();
    let (text, sent) = encode(&args);
    assert_eq!(text, r#"2["e",{"k":1},2]"#);
    assert!(sent.is_empty());
}

/// A JSON value, for generating texts: objects may repeat keys and use index keys.
#[derive(Clone, Debug)]
enum Model {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Model>),
    Obj(Vec<(String, Model)>),
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i32..1000).prop_map(f64::from),
        (-100_000i64..100_000).prop_map(|n| n as f64 / 100.0),
        any::<i64>().prop_map(|n| n as f64),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(-0.0),
        Just(1e21),
        Just(1e-7),
        Just(0.1 + 0.2),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ab]{1,2}",
        "[0-9]{1,2}",
        Just("4294967295".to_owned()),
        Just("4294967294".to_owned()),
        "\\PC{0,3}",
        "[\"\\\\/\\u{0}-\\u{1f}\\u{7f}\\u{2028}é😀]{1,3}",
    ]
}

fn model() -> impl Strategy<Value = Model> {
    let leaf = prop_oneof![
        Just(Model::Null),
        any::<bool>().prop_map(Model::Bool),
        number().prop_map(Model::Num),
        "\\PC{0,6}".prop_map(Model::Str),
        "[\"\\\\/\\u{0}-\\u{1f}\\u{7f}\\u{2028}é😀a]{0,6}".prop_map(Model::Str),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Model::Arr),
            proptest::collection::vec((key(), inner), 0..6).prop_map(Model::Obj),
        ]
    })
}

/// What `JSON.parse` makes of the model, as a `Value` (last duplicate wins, at the first
/// position).
fn to_value(m: &Model) -> Value {
    match m {
        Model::Null => Value::Null,
        Model::Bool(b) => Value::Bool(*b),
        Model::Num(f) => Value::from(*f),
        Model::Str(s) => Value::String(s.clone()),
        Model::Arr(items) => Value::Array(items.iter().map(to_value).collect()),
        Model::Obj(members) => {
            let mut map = Map::new();
            for (k, v) in members {
                map.insert(k.clone(), to_value(v));
            }
            Value::Object(map)
        }
    }
}

/// Writes the model as JSON in forms picked by `r`: random whitespace, number spellings
/// and escapes.
struct Messy {
    out: String,
    state: u64,
}

impl Messy {
    fn pick(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }

    fn ws(&mut self) {
        let ws = ["", "", "", "", " ", "\n", "\t ", "\r\n  "];
        let i = self.pick(ws.len() as u64) as usize;
        self.out.push_str(ws[i]);
    }

    fn number(&mut self, f: f64) {
        let mut canonical = Vec::new();
        crate::json::write::write_f64(&mut canonical, f);
        let canonical = String::from_utf8(canonical).unwrap();
        let text = match self.pick(8) {
            0 => format!("{f:e}"),
            1 => format!("{f:E}"),
            2 => format!("{f:?}"),
            3 => format!("{f}"),
            4 => format!("{f:.20e}"),
            5 if !canonical.contains('e') && canonical.contains('.') => canonical + "00",
            5 if !canonical.contains('e') => canonical + ".0",
            6 if !canonical.contains('e') => canonical + "e0",
            _ => canonical,
        };
        self.out.push_str(&text);
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            let mut unit = [0u16; 2];
            let units = c.encode_utf16(&mut unit);
            let hex = |out: &mut String, u: u16, upper: bool| {
                if upper {
                    out.push_str(&format!("\\u{u:04X}"));
                } else {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            };
            match self.pick(4) {
                // A `\u` escape, in either case.
                0 => {
                    let upper = self.pick(2) == 0;
                    for u in units.iter() {
                        hex(&mut self.out, *u, upper);
                    }
                }
                _ => match c {
                    '"' => self.out.push_str("\\\""),
                    '\\' => self.out.push_str("\\\\"),
                    '/' if self.pick(2) == 0 => self.out.push_str("\\/"),
                    '\u{8}' => self.out.push_str("\\b"),
                    '\u{c}' => self.out.push_str("\\f"),
                    '\n' => self.out.push_str("\\n"),
                    '\r' => self.out.push_str("\\r"),
                    '\t' => self.out.push_str("\\t"),
                    c if u32::from(c) < 0x20 => hex(&mut self.out, c as u16, false),
                    c => self.out.push(c),
                },
            }
        }
        self.out.push('"');
    }

    fn value(&mut self, m: &Model) {
        match m {
            Model::Null => self.out.push_str("null"),
            Model::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Model::Num(f) => self.number(*f),
            Model::Str(s) => self.string(s),
            Model::Arr(items) => {
                self.out.push('[');
                self.ws();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.ws();
                        self.out.push(',');
                        self.ws();
                    }
                    self.value(item);
                }
                self.ws();
                self.out.push(']');
            }
            Model::Obj(members) => {
                self.out.push('{');
                self.ws();
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        self.ws();
                        self.out.push(',');
                        self.ws();
                    }
                    self.string(k);
                    self.ws();
                    self.out.push(':');
                    self.ws();
                    self.value(v);
                }
                self.ws();
                self.out.push('}');
            }
        }
    }
}

fn messy(m: &Model, seed: u64) -> String {
    let mut w = Messy {
        out: String::new(),
        state: seed | 1,
    };
    w.value(m);
    w.out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    /// Normalizing a text written in any equivalent form gives `JSON.stringify` of what
    /// `JSON.parse` makes of it (the `Value` of the model), a text flagged canonical is
    /// exactly that, and `JSON.stringify` output is always flagged canonical.
    #[test]
    fn normalizing_equals_stringify_of_the_parse(m in model(), seed in any::<u64>()) {
        let text = messy(&m, seed);
        let expected = to_value(&m).to_json();
        let raw = RawJson::new(text.clone()).unwrap();
        let normalized = raw.normalized();
        prop_assert_eq!(normalized.as_str(), expected.as_str(), "{}", text);
        if raw.is_canonical() {
            prop_assert_eq!(&text, &expected);
        }
        let stringified = RawJson::new(expected.clone()).unwrap();
        prop_assert!(stringified.is_canonical(), "{}", expected);
        let again = stringified.normalized();
        prop_assert_eq!(again.as_str(), expected.as_str());
    }

    /// The same through the decoder and the encoder: the echo of an event is what the
    /// reference writes, verbatim (the input's own bytes) when the args are canonical.
    #[test]
    fn echoed_events_match_stringify(
        args in proptest::collection::vec(model(), 0..4),
        seed in any::<u64>(),
    ) {
        let mut text = String::from("2[\"e\"");
        let mut want = String::from("2[\"x\"");
        let mut plain = String::new();
        for (i, m) in args.iter().enumerate() {
            let arg = messy(m, seed.wrapping_add(i as u64));
            text.push_str(if seed & (1 << (i + 40)) == 0 { "," } else { " , " });
            text.push_str(&arg);
            if i > 0 {
                plain.push(',');
            }
            plain.push_str(&arg);
            want.push(',');
            want.push_str(&to_value(m).to_json());
        }
        text.push(']');
        want.push(']');
        let p = decode(Bytes::from(text.clone())).unwrap();
        let raw_args = p.args().unwrap();
        let mut out = BytesMut::new();
        encode_event_into(&mut out, None, p.nsp(), None, "x", Args::Raw(raw_args));
        prop_assert_eq!(std::str::from_utf8(&out).unwrap(), want.as_str(), "{}", text);
        if raw_args.is_canonical() {
            prop_assert_eq!(raw_args.as_str(), plain.as_str());
            prop_assert_eq!(format!("2[\"x\"{}{}]", if args.is_empty() { "" } else { "," }, plain), want);
        }
    }
}
