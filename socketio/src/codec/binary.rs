//! Binary attachments: placeholders out and back in (see [`deconstruct`], [`reconstruct`]).

use bytes::Bytes;
use indexmap::IndexMap;

use super::error::{ReassemblyError, ReconstructError};
use crate::json::scan::Scanner;
use crate::json::unescape;
use crate::packet::Packet;
use crate::raw::{JsonError, RawArgs, RawJson};
use crate::value::{BinaryMode, Map, Value, write_value};

/// Replaces the binary buffers of `value` by placeholders: returns the JSON text and the
/// buffers in placeholder order. A value without binary gives its plain JSON and no buffers.
///
/// Binary attachments: replacing buffers by placeholders and back (socket.io-parser
/// `binary.ts`).
///
/// Sending: every [`Value::Binary`] is replaced by `{"_placeholder":true,"num":k}`, k
/// counting in depth-first order (array order; object keys in JavaScript property order),
/// and the buffers are sent in that order after the text packet ([`deconstruct`]).
///
/// Receiving: [`reconstruct`] replaces each placeholder by its attachment. As in the
/// reference, an object is a placeholder when its `_placeholder` member is `true` (other
/// members are ignored, and not searched for placeholders), and `num` must be below the
/// attachment count. Stricter than the reference: a `num` that is not a non-negative
/// integer (JS would substitute `undefined`) and two placeholders with the same `num`
/// are errors. Attachments that no placeholder names are accepted and dropped, as in JS.
///
/// Only the containers on the path to a placeholder are materialized; every other part of
/// the payload stays [`Value::Raw`], a slice of the received text, so re-emitting the
/// value writes those parts back byte for byte (or normalized, as `JSON.stringify` would
/// write them, when the received text was not canonical).
pub fn deconstruct(value: &Value) -> (RawJson, Vec<Bytes>) {
    let mut buffers = Vec::new();
    let mut out = Vec::new();
    write_value(&mut out, value, &mut BinaryMode::Placeholders(&mut buffers));
    (RawJson::from_canonical(Bytes::from(out)), buffers)
}

/// Replaces the placeholders in `payload` by `attachments`. An array or object at the top
/// is always materialized one level (so the arguments of an event are elements of the
/// returned [`Value::Array`]); deeper parts stay raw unless they contain a placeholder.
pub fn reconstruct(payload: &RawJson, attachments: &[Bytes]) -> Result<Value, ReconstructError> {
    let bytes = payload.bytes();
    let mut b = Builder {
        s: Scanner::new(bytes, usize::MAX),
        buf: bytes,
    };
    let root = b.node(false)?;
    let mut used = vec![false; attachments.len()];
    let text = Text {
        bytes,
        canonical: payload.is_canonical(),
    };
    convert(root, &text, attachments, &mut used)
}

/// Checks the placeholders of `args` (the arguments of a received BINARY_EVENT or
/// BINARY_ACK) against `attachments` buffers, with the rules of [`reconstruct`], without
/// building any value: for relaying the raw args with
/// [`Args::RawBinary`](crate::codec::Args::RawBinary).
pub fn validate_placeholders(args: &RawArgs, attachments: usize) -> Result<(), ReconstructError> {
    let mut used = vec![false; attachments];
    for arg in args {
        let bytes = arg.bytes();
        let mut b = Builder {
            s: Scanner::new(bytes, usize::MAX),
            buf: bytes,
        };
        check(b.node(true)?, &mut used)?;
    }
    Ok(())
}

/// Whether [`validate_placeholders`] accepts `args`.
pub fn placeholders_valid(args: &RawArgs, attachments: usize) -> bool {
    validate_placeholders(args, attachments).is_ok()
}

/// A parsed payload: placeholder-free parts are spans of the text.
enum Node {
    Plain(usize, usize),
    Placeholder(Option<f64>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

struct Builder<'a> {
    s: Scanner<'a>,
    buf: &'a [u8],
}

impl Builder<'_> {
    /// Parses the value at the cursor. With `collapse`, a container without placeholders
    /// becomes one `Plain` span.
    fn node(&mut self, collapse: bool) -> Result<Node, JsonError> {
        let start = self.s.pos();
        match self.s.peek() {
            Some(b'[') => {
                self.s.bump();
                self.s.skip_ws();
                let mut items = Vec::new();
                if self.s.peek() == Some(b']') {
                    self.s.bump();
                } else {
                    loop {
                        items.push(self.node(true)?);
                        self.s.skip_ws();
                        match self.s.peek() {
                            Some(b',') => {
                                self.s.bump();
                                self.s.skip_ws();
                            }
                            Some(b']') => {
                                self.s.bump();
                                break;
                            }
                            _ => return Err(self.s.syntax()),
                        }
                    }
                }
                if collapse && items.iter().all(|n| matches!(n, Node::Plain(..))) {
                    Ok(Node::Plain(start, self.s.pos()))
                } else {
                    Ok(Node::Array(items))
                }
            }
            Some(b'{') => {
                self.s.bump();
                self.s.skip_ws();
                let mut members = Vec::new();
                if self.s.peek() == Some(b'}') {
                    self.s.bump();
                } else {
                    loop {
                        let key = self.key()?;
                        self.s.skip_ws();
                        self.s.expect(b':')?;
                        self.s.skip_ws();
                        let value = self.node(true)?;
                        members.push((key, value));
                        self.s.skip_ws();
                        match self.s.peek() {
                            Some(b',') => {
                                self.s.bump();
                                self.s.skip_ws();
                            }
                            Some(b'}') => {
                                self.s.bump();
                                break;
                            }
                            _ => return Err(self.s.syntax()),
                        }
                    }
                }
                if let Some(num) = self.placeholder(&members) {
                    Ok(Node::Placeholder(num))
                } else if collapse && members.iter().all(|(_, n)| matches!(n, Node::Plain(..))) {
                    Ok(Node::Plain(start, self.s.pos()))
                } else {
                    Ok(Node::Object(members))
                }
            }
            _ => {
                self.s.value(0)?;
                Ok(Node::Plain(start, self.s.pos()))
            }
        }
    }

    fn key(&mut self) -> Result<String, JsonError> {
        let start = self.s.pos();
        if self.s.peek() != Some(b'"') {
            return Err(self.s.syntax());
        }
        self.s.string()?;
        let body = &self.buf[start + 1..self.s.pos() - 1];
        unescape(body)
            .map(|k| k.into_owned())
            .ok_or(JsonError::Syntax { offset: start })
    }

    fn text(&self, node: &Node) -> Option<&[u8]> {
        match node {
            Node::Plain(s, e) => self.buf.get(*s..*e),
            _ => None,
        }
    }

    /// `Some(num)` when the object is a placeholder: its last `_placeholder` member (JSON
    /// keeps the last of duplicate keys) is `true`. `num` is the last `num` member if that
    /// is a number.
    fn placeholder(&self, members: &[(String, Node)]) -> Option<Option<f64>> {
        let (_, flag) = members.iter().rev().find(|(k, _)| k == "_placeholder")?;
        if self.text(flag) != Some(b"true") {
            return None;
        }
        let num = members
            .iter()
            .rev()
            .find(|(k, _)| k == "num")
            .and_then(|(_, n)| self.text(n))
            .filter(|t| matches!(t.first(), Some(b'-' | b'0'..=b'9')))
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse::<f64>().ok());
        Some(num)
    }
}

/// The index an attachment placeholder names, marking it used.
fn claim(num: Option<f64>, used: &mut [bool]) -> Result<usize, ReconstructError> {
    let num = match num {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => n as u64,
        _ => return Err(ReconstructError::MalformedPlaceholder),
    };
    let index = usize::try_from(num)
        .ok()
        .filter(|&i| i < used.len())
        .ok_or(ReconstructError::PlaceholderOutOfRange {
            num,
            attachments: used.len(),
        })?;
    if std::mem::replace(&mut used[index], true) {
        return Err(ReconstructError::DuplicatePlaceholder { num });
    }
    Ok(index)
}

/// Duplicate keys: the last value wins, at the first key's position (`JSON.parse`); a value
/// that loses is never looked at, as in JS.
fn dedup(members: Vec<(String, Node)>) -> IndexMap<String, Node> {
    let mut map: IndexMap<String, Node> = IndexMap::with_capacity(members.len());
    for (k, v) in members {
        map.insert(k, v);
    }
    map
}

fn check(node: Node, used: &mut [bool]) -> Result<(), ReconstructError> {
    match node {
        Node::Plain(..) => Ok(()),
        Node::Placeholder(num) => claim(num, used).map(drop),
        Node::Array(items) => items.into_iter().try_for_each(|n| check(n, used)),
        Node::Object(members) => dedup(members)
            .into_iter()
            .try_for_each(|(_, n)| check(n, used)),
    }
}

/// The payload being reconstructed.
struct Text<'a> {
    bytes: &'a Bytes,
    /// Whether the whole payload is canonical, and so each of its parts.
    canonical: bool,
}

fn convert(
    node: Node,
    text: &Text<'_>,
    attachments: &[Bytes],
    used: &mut [bool],
) -> Result<Value, ReconstructError> {
    Ok(match node {
        Node::Plain(s, e) => Value::Raw(RawJson::from_scanned(
            text.bytes.slice(s..e),
            text.canonical,
        )),
        Node::Placeholder(num) => Value::Binary(attachments[claim(num, used)?].clone()),
        Node::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|n| convert(n, text, attachments, used))
                .collect::<Result<_, _>>()?,
        ),
        Node::Object(members) => {
            let members = dedup(members);
            let mut map = Map::with_capacity(members.len());
            for (k, v) in members {
                map.insert(k, convert(v, text, attachments, used)?);
            }
            Value::Object(map)
        }
    })
}

/// A complete BINARY_EVENT or BINARY_ACK: the text packet, its attachments, and the
/// payload with the placeholders replaced.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryPacket {
    packet: Packet,
    attachments: Vec<Bytes>,
    data: Option<Value>,
}

impl BinaryPacket {
    /// Checks that `attachments` has the count the header announced and reconstructs the
    /// payload.
    pub fn new(packet: Packet, attachments: Vec<Bytes>) -> Result<Self, ReassemblyError> {
        if attachments.len() != packet.attachments() {
            return Err(ReassemblyError::AttachmentCount {
                expected: packet.attachments(),
                actual: attachments.len(),
            });
        }
        let data = match packet.payload() {
            Some(raw) => Some(reconstruct(raw, &attachments)?),
            None => None,
        };
        Ok(BinaryPacket {
            packet,
            attachments,
            data,
        })
    }

    /// The text packet (its payload still holds the placeholders).
    pub fn packet(&self) -> &Packet {
        &self.packet
    }

    /// The attachments, in arrival order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The payload with buffers in place of the placeholders (`None` without payload).
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }

    /// The arguments with buffers in place: after the event name for a BINARY_EVENT, all of
    /// them for a BINARY_ACK. Empty without payload.
    pub fn args(&self) -> &[Value] {
        let Some(Value::Array(items)) = &self.data else {
            return &[];
        };
        if self.packet.packet_type().is_event() {
            items.get(1..).unwrap_or(&[])
        } else {
            items
        }
    }

    /// The parts: packet, attachments, reconstructed payload.
    pub fn into_parts(self) -> (Packet, Vec<Bytes>, Option<Value>) {
        (self.packet, self.attachments, self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> RawJson {
        RawJson::new(s.to_owned()).unwrap()
    }

    fn bufs(n: u8) -> Vec<Bytes> {
        (0..n).map(|i| Bytes::from(vec![i; 2])).collect()
    }

    #[test]
    fn deconstruct_nested() {
        let b = |n: u8| Value::Binary(Bytes::from(vec![n]));
        let mut inner = Map::new();
        inner.insert("deep", Value::from(vec![b(2)]));
        inner.insert("k", "v");
        let v = Value::from(vec![
            Value::from("baz"),
            b(0),
            Value::from(vec![b(1), Value::Object(inner)]),
        ]);
        let (json, buffers) = deconstruct(&v);
        assert_eq!(
            json.as_str(),
            r#"["baz",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1},{"deep":[{"_placeholder":true,"num":2}],"k":"v"}]]"#
        );
        assert_eq!(buffers, [vec![0u8], vec![1], vec![2]]);
        let (plain, none) = deconstruct(&Value::from(vec![1, 2]));
        assert_eq!((plain.as_str(), none.len()), ("[1,2]", 0));
    }

    #[test]
    fn reconstruct_keeps_unrelated_parts_raw() {
        let p = raw(
            r#"["message", {"a" : 1.0}, {"_placeholder":true,"num":1}, [{"x":{"_placeholder":true,"num":0}}]]"#,
        );
        let v = reconstruct(&p, &bufs(2)).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items[0], Value::Raw(raw("\"message\"")));
        assert_eq!(items[1], Value::Raw(raw("{\"a\" : 1.0}")));
        assert_eq!(items[2], Value::Binary(Bytes::from_static(&[1, 1])));
        let deep = items[3].as_array().unwrap()[0].get("x").unwrap();
        assert_eq!(deep, &Value::Binary(Bytes::from_static(&[0, 0])));
        // Re-deconstructing renumbers depth-first and writes the raw parts as
        // `JSON.stringify` would (the payload was not canonical).
        let (json, buffers) = deconstruct(&v);
        assert_eq!(
            json.as_str(),
            r#"["message",{"a":1},{"_placeholder":true,"num":0},[{"x":{"_placeholder":true,"num":1}}]]"#
        );
        assert!(json.is_canonical());
        assert_eq!(buffers, [vec![1u8, 1], vec![0, 0]]);
        // The parts of a canonical payload are canonical, and written byte for byte.
        let p = raw(r#"["message",{"a":[1.5,"\u0001"]},{"_placeholder":true,"num":0}]"#);
        let v = reconstruct(&p, &bufs(1)).unwrap();
        let part = v.as_array().unwrap()[1].as_raw().unwrap();
        assert!(part.is_canonical());
        assert!(p.bytes().as_ptr_range().contains(&part.as_bytes().as_ptr()));
        assert_eq!(deconstruct(&v).0, p);
    }

    #[test]
    fn placeholder_variants() {
        let ok = |s: &str, n: u8| reconstruct(&raw(s), &bufs(n));
        // Member order and extra members do not matter; `num` may be written as any number.
        assert!(ok(r#"[{"num":0,"_placeholder":true}]"#, 1).is_ok());
        assert!(
            ok(
                r#"[{"_placeholder":true,"num":0,"extra":{"_placeholder":true,"num":0}}]"#,
                1
            )
            .is_ok()
        );
        assert!(ok(r#"[{"_placeholder":true,"num":1e0}]"#, 2).is_ok());
        assert!(
            ok(r#"[{"\u005fplaceholder":true,"num":0}]"#, 1)
                .unwrap()
                .as_array()
                .unwrap()[0]
                .as_binary()
                .is_some()
        );
        // Not placeholders: `_placeholder` not `true`, or the last duplicate not `true`.
        let not = ok(
            r#"[{"_placeholder":1,"num":0},{"_placeholder":true,"_placeholder":false}]"#,
            0,
        )
        .unwrap();
        assert!(not.as_array().unwrap().iter().all(|v| v.as_raw().is_some()));
        // Unreferenced attachments are fine.
        assert!(ok(r#"["a"]"#, 3).is_ok());
        // A duplicate key whose losing value held a placeholder does not count.
        let dup = ok(
            r#"[{"k":{"_placeholder":true,"num":0},"k":{"_placeholder":true,"num":0}}]"#,
            1,
        );
        assert!(dup.is_ok());
    }

    #[test]
    fn reconstruct_errors() {
        let err = |s: &str, n: u8| reconstruct(&raw(s), &bufs(n)).unwrap_err();
        assert_eq!(
            err(r#"["a",{"_placeholder":true,"num":1}]"#, 1),
            ReconstructError::PlaceholderOutOfRange {
                num: 1,
                attachments: 1
            }
        );
        assert_eq!(
            err(r#"["a",{"_placeholder":true,"num":1e30}]"#, 1),
            ReconstructError::PlaceholderOutOfRange {
                num: u64::MAX,
                attachments: 1
            }
        );
        assert_eq!(
            err(
                r#"["a",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":0}]]"#,
                1
            ),
            ReconstructError::DuplicatePlaceholder { num: 0 }
        );
        for bad in [
            r#"["a",{"_placeholder":true}]"#,
            r#"["a",{"_placeholder":true,"num":"0"}]"#,
            r#"["a",{"_placeholder":true,"num":-1}]"#,
            r#"["a",{"_placeholder":true,"num":0.5}]"#,
            r#"["a",{"_placeholder":true,"num":null}]"#,
        ] {
            assert_eq!(err(bad, 1), ReconstructError::MalformedPlaceholder, "{bad}");
        }
    }

    #[test]
    fn validation_without_values_agrees_with_reconstruct() {
        for (payload, n) in [
            (
                r#"["a",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#,
                2,
            ),
            (r#"["a",{"_placeholder":true,"num":1}]"#, 1),
            (
                r#"["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#,
                1,
            ),
            (r#"["a",{"_placeholder":true,"num":0.5}]"#, 1),
            (r#"["a",{"k":{"_placeholder":true,"num":0},"k":1}]"#, 1),
            (r#"["a",1]"#, 0),
        ] {
            let raw = raw(payload);
            let args = RawArgs::from_array(&raw).unwrap();
            assert_eq!(
                validate_placeholders(&args, n),
                reconstruct(&raw, &bufs(n as u8)).map(drop),
                "{payload}"
            );
            assert_eq!(
                placeholders_valid(&args, n),
                validate_placeholders(&args, n).is_ok()
            );
        }
    }

    #[test]
    fn binary_packet_args() {
        let p = crate::codec::decode(Bytes::from_static(
            b"51-[\"e\",1,{\"_placeholder\":true,\"num\":0}]",
        ))
        .unwrap();
        let bp = BinaryPacket::new(p.clone(), bufs(1)).unwrap();
        assert_eq!(bp.args().len(), 2);
        assert_eq!(bp.args()[1].as_binary(), Some(&bufs(1)[0]));
        assert_eq!(bp.attachments().len(), 1);
        assert_eq!(
            BinaryPacket::new(p, bufs(2)),
            Err(ReassemblyError::AttachmentCount {
                expected: 1,
                actual: 2
            })
        );
        let ack = crate::codec::decode(Bytes::from_static(
            b"61-3[{\"_placeholder\":true,\"num\":0}]",
        ))
        .unwrap();
        let ack = BinaryPacket::new(ack, bufs(1)).unwrap();
        assert_eq!(ack.args().len(), 1);
        let bare = crate::codec::decode(Bytes::from_static(b"51-")).unwrap();
        let bare = BinaryPacket::new(bare, bufs(1)).unwrap();
        assert!(bare.args().is_empty() && bare.data().is_none());
        let (packet, atts, data) = ack.into_parts();
        assert_eq!(
            (packet.ack_id(), atts.len(), data.is_some()),
            (Some(3), 1, true)
        );
    }
}
