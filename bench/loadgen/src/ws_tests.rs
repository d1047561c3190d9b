//! The client against a scripted server on a real loopback socket.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[test]
fn headers_and_mask() {
    assert_eq!(parse_header(&[0x81]).unwrap(), None);
    assert_eq!(parse_header(&[0x81, 5]).unwrap(), Some((2, 5)));
    assert_eq!(parse_header(&[0x81, 126, 1]).unwrap(), None);
    assert_eq!(parse_header(&[0x81, 126, 1, 0]).unwrap(), Some((4, 256)));
    let long = [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_eq!(parse_header(&long).unwrap(), Some((10, 65536)));
    assert!(parse_header(&[0x81, 0x85]).is_err());
    let mut b: Vec<u8> = (0..21).collect();
    let key = [1, 2, 4, 8];
    mask(&mut b, key);
    for (i, &x) in b.iter().enumerate() {
        assert_eq!(x, i as u8 ^ key[i % 4]);
    }
    assert_eq!(find(b"ab\r\n\r\nc", b"\r\n\r\n"), Some(2));
}

/// An unmasked server frame.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    let n = payload.len();
    if n < 126 {
        f.push(n as u8);
    } else if n <= 0xffff {
        f.push(126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// Reads one masked client frame: (first byte, unmasked payload).
async fn read_client_frame(s: &mut tokio::net::TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.unwrap();
    assert_eq!(h[1] & 0x80, 0x80, "client frames are masked");
    let n = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).await.unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).await.unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut key = [0u8; 4];
    s.read_exact(&mut key).await.unwrap();
    let mut p = vec![0u8; n];
    s.read_exact(&mut p).await.unwrap();
    for (i, b) in p.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    (h[0], p)
}

/// Writes `bytes` in pieces of `step` bytes, each its own segment.
async fn dribble(s: &mut tokio::net::TcpStream, bytes: &[u8], step: usize) {
    for c in bytes.chunks(step) {
        s.write_all(c).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn handshake_frames_and_control() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut req = Vec::new();
        while !req.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.unwrap();
            req.push(b[0]);
        }
        let req = String::from_utf8(req).unwrap();
        assert!(req.starts_with("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"));
        assert!(req.contains(&format!("\r\nHost: {addr}\r\n")));
        assert!(req.contains("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        // The answer and the open packet in one segment.
        let mut out = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            .to_vec();
        out.extend(frame(0x81, b"0{\"sid\":\"a\"}"));
        s.write_all(&out).await.unwrap();
        assert_eq!(read_client_frame(&mut s).await, (0x81, b"40".to_vec()));
        // A ping, then CONNECT split byte by byte.
        let mut out = frame(0x89, b"hi");
        out.extend(frame(0x81, b"40{\"sid\":\"b\"}"));
        dribble(&mut s, &out, 1).await;
        assert_eq!(read_client_frame(&mut s).await, (0x8a, b"hi".to_vec()));
        // Several frames in one write: a 16-bit length, a binary, a fragmented text.
        let big = format!("42[\"msg\",\"{}\"]", "y".repeat(300));
        let mut out = frame(0x81, big.as_bytes());
        out.extend(frame(0x82, b"\x01\x02"));
        out.extend(frame(0x01, b"42[\"m"));
        out.extend(frame(0x00, b"sg\","));
        out.extend(frame(0x80, b"1]"));
        s.write_all(&out).await.unwrap();
        // A 64-bit length split across writes, larger than the initial read buffer.
        let huge = format!("42[\"msg\",\"{}\"]", "z".repeat(70_000));
        dribble(&mut s, &frame(0x81, huge.as_bytes()), 5000).await;
        // The client's send of a 16-bit-length frame.
        let (b0, p) = read_client_frame(&mut s).await;
        assert_eq!((b0, p.len()), (0x81, 1000));
        assert!(p.iter().all(|&b| b == b'q'));
        // Close: answered with the same code.
        s.write_all(&frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']))
            .await
            .unwrap();
        assert_eq!(read_client_frame(&mut s).await, (0x88, vec![0x03, 0xe8]));
        (big, huge)
    });
    let lo = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let mut ws = connect(addr, lo, None, None).await.unwrap();
    let t1 = ws.next_text().await.unwrap().unwrap().to_string();
    let t2 = ws.next_text().await.unwrap().unwrap().to_string();
    let t3 = ws.next_text().await.unwrap().unwrap().to_string();
    ws.send(&"q".repeat(1000)).await.unwrap();
    assert_eq!(ws.next_text().await.unwrap(), None);
    assert_eq!(ws.next_text().await.unwrap(), None);
    let (big, huge) = server.await.unwrap();
    assert_eq!(t1, big);
    assert_eq!(t2, "42[\"msg\",1]");
    assert_eq!(t3, huge);
}

#[tokio::test]
async fn refused_upgrade_and_eof() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b).await.unwrap();
        s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let _ = s.read(&mut b).await.unwrap();
        s.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05")
            .await
            .unwrap();
    });
    let lo = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let e = connect(addr, lo, None, None).await.err().unwrap();
    assert_eq!(e, "websocket handshake: got \"HTTP/1.1 400 Bad Request\"");
    let e = connect(addr, lo, None, None).await.err().unwrap();
    assert_eq!(e, "read: connection closed without a close frame");
    server.await.unwrap();
}
