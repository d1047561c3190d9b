//! Tests of `scan`.
use super::*;

fn ok(s: &str) -> bool {
    scan_document(s.as_bytes(), 128).is_ok()
}

#[test]
fn accepts_what_json_parse_accepts() {
    for s in [
        "0",
        "-0",
        "1.5e-7",
        "1E+2",
        "1e400",
        "true",
        "null",
        "\"\"",
        "\"\\ud800\"",
        "\"\\u00e9\\/\\b\"",
        " [1, 2 ,3] ",
        "{\"a\":{\"b\":[]}}",
        "{\"a\":1,\"a\":2}",
        "\"é😀\u{2028}\"",
        "\r\n\t{}\r\n\t",
    ] {
        assert!(ok(s), "{s:?}");
    }
}

#[test]
fn rejects_what_json_parse_rejects() {
    for s in [
        "",
        " ",
        "01",
        "1.",
        ".1",
        "+1",
        "1e",
        "-",
        "NaN",
        "Infinity",
        "tru",
        "nul",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{a:1}",
        "{\"a\" 1}",
        "'a'",
        "\"\\x\"",
        "\"\\u12\"",
        "\"a\nb\"",
        "\"abc",
        "[1] [2]",
        "[1]x",
        "\u{2028}[1]",
        "\u{a0}1",
        "\u{feff}1",
        "\u{b}1",
    ] {
        assert!(!ok(s), "{s:?}");
    }
}

#[test]
fn depth_limit() {
    let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
    assert!(scan_document(deep(128).as_bytes(), 128).is_ok());
    assert_eq!(
        scan_document(deep(129).as_bytes(), 128),
        Err(JsonError::TooDeep { max_depth: 128 })
    );
    // A very deep input fails fast, without exhausting the stack.
    assert!(scan_document(deep(1_000_000).as_bytes(), 128).is_err());
}

#[test]
fn array_info() {
    let doc = scan_document(b" [ \"a\" , 1 ] ", 128).unwrap();
    assert_eq!((doc.start, doc.end, doc.kind), (1, 12, JsonKind::Array));
    let a = doc.array.unwrap();
    assert_eq!(a.len, 2);
    assert_eq!(
        a.first,
        Some(Element {
            start: 3,
            end: 6,
            kind: JsonKind::String
        })
    );
    assert_eq!((a.open_end, a.close), (2, 11));
    let empty = scan_document(b"[ ]", 128).unwrap().array.unwrap();
    assert_eq!((empty.len, empty.first, empty.close), (0, None, 2));
}

#[test]
fn lists() {
    let len = |b: &[u8]| scan_list(b, 128).map(|l| l.len);
    assert_eq!(len(b""), Ok(0));
    assert_eq!(len(b"  "), Ok(0));
    assert_eq!(len(b"1"), Ok(1));
    assert_eq!(len(b" 1 , \"2\",{\"3\":[true]} "), Ok(3));
    assert!(scan_list(b"1,", 128).is_err());
    assert!(scan_list(b",1", 128).is_err());
    assert!(scan_list(b"1 2", 128).is_err());
}

#[test]
fn word_skip_stops_at_every_stop_byte() {
    // Every byte value at every offset of a 24-byte run of plain content: the skip
    // never passes a byte of STRING_STOP, and passes whole clean words.
    for b in 0..=255u8 {
        for at in 0..24 {
            let mut buf = vec![b'a'; 24];
            buf[at] = b;
            let stop = skip_plain_words(&buf, 0);
            if STRING_STOP[usize::from(b)] {
                assert!(stop <= at, "byte {b:#x} at {at}: skipped to {stop}");
                assert_eq!(stop, at / 8 * 8, "byte {b:#x} at {at}");
            } else {
                assert_eq!(stop, 24, "byte {b:#x} at {at}");
            }
        }
    }
    // A partial last word is left to the byte loop; a start inside a word works.
    assert_eq!(skip_plain_words(b"abcdefghij", 0), 8);
    assert_eq!(skip_plain_words(b"abcdefghij", 3), 3);
    assert_eq!(skip_plain_words(b"abcdefghijklmnop", 3), 11);
    assert!(ok(r#"["0123456789abcdef\"0123456789\\abcdef\u00e9é😀"]"#));
    assert!(!ok("[\"0123456789abcdef\u{1}0123456789\"]"));
}
