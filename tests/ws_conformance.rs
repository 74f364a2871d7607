//! WebSocket conformance over real sockets: the Autobahn-style rules of `tests/ws_codec.rs`, sent by
//! pushlab's blocking client (with deliberately broken frames written raw) to the real server's
//! `/ws/echo`, plus the handshake answers on the wire.

#[path = "ws_codec/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use pushlab::client::ws::{Client, ClientOptions};
use pushlab::server::RunningServer;
use pushlab::ws::Event;
use pushlab::Config;
use support::*;

const TIMEOUT: Duration = Duration::from_secs(10);

/// One server for the whole file.
fn server_addr() -> SocketAddr {
    static SERVER: OnceLock<RunningServer> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            pushlab::server::spawn(Config {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            })
            .expect("server starts")
        })
        .addr
}

fn echo_client() -> Client {
    let options = ClientOptions {
        read_timeout: Some(TIMEOUT),
        ..ClientOptions::default()
    };
    Client::connect_with(server_addr(), "/ws/echo", &options).expect("handshake with /ws/echo")
}

/// Reads until the server's close; returns its code, checking the server then closes TCP (§7.1.1).
fn expect_close_from_server(client: &mut Client, code: u16) {
    loop {
        match client.recv() {
            Ok(Event::Close { code: received, .. }) => {
                assert_eq!(received, Some(code));
                break;
            }
            Ok(Event::Pong(_)) | Ok(Event::Ping(_)) => {}
            Ok(other) => panic!("expected close {code}, got {other:?}"),
            Err(error) => panic!("expected close {code}, got {error}"),
        }
    }
    client
        .wait_for_eof()
        .expect("server closes TCP after the closing handshake");
}

mod section1_framing {
    use super::*;

    #[test]
    fn echo_of_every_boundary_length() {
        let mut client = echo_client();
        for len in [0, 125, 126, 127, 128, 65535, 65536] {
            let text = "*".repeat(len);
            client.send_text(&text).unwrap();
            assert_eq!(client.recv().unwrap(), Event::Text(text));
            let data = vec![0xFE; len];
            client.send_binary(&data).unwrap();
            assert_eq!(client.recv().unwrap(), Event::Binary(data));
        }
        client.close(1000).unwrap();
    }

    #[test]
    fn frame_sent_in_small_chunks() {
        let mut client = echo_client();
        let frame = text(&[b'*'; 1000]);
        for chunk in frame.chunks(7) {
            client.send_raw(chunk).unwrap();
        }
        assert_eq!(client.recv().unwrap(), Event::Text("*".repeat(1000)));
        client.close(1000).unwrap();
    }

    #[test]
    fn unmasked_frame_is_refused() {
        let mut client = echo_client();
        client
            .send_raw(&server_frame(FIN | TEXT, b"Hello"))
            .unwrap();
        expect_close_from_server(&mut client, 1002);
    }
}

mod section2_ping_pong {
    use super::*;

    #[test]
    fn ping_gets_pong_with_the_same_payload() {
        let mut client = echo_client();
        client
            .send_raw(&raw_frame(FIN | PING, &[0xAB; 125]))
            .unwrap();
        assert_eq!(client.recv().unwrap(), Event::Pong(vec![0xAB; 125]));
        client.close(1000).unwrap();
    }

    #[test]
    fn ping_over_125_bytes_is_refused() {
        let mut client = echo_client();
        client.send_raw(&raw_frame(FIN | PING, &[0; 126])).unwrap();
        expect_close_from_server(&mut client, 1002);
    }
}

mod section3_reserved_bits {
    use super::*;

    #[test]
    fn reserved_bit_after_a_good_message() {
        let mut client = echo_client();
        let bytes = [
            text(b"Hello"),
            raw_frame(FIN | 0x20 | TEXT, b"Hello"),
            raw_frame(FIN | PING, b""),
        ]
        .concat();
        client.send_raw(&bytes).unwrap();
        assert_eq!(client.recv().unwrap(), Event::Text("Hello".to_string()));
        expect_close_from_server(&mut client, 1002);
    }
}

mod section4_reserved_opcodes {
    use super::*;

    #[test]
    fn reserved_opcodes_are_refused() {
        for opcode in [3, 7, 0xB, 0xF] {
            let mut client = echo_client();
            client.send_raw(&raw_frame(FIN | opcode, b"")).unwrap();
            expect_close_from_server(&mut client, 1002);
        }
    }
}

mod section5_fragmentation {
    use super::*;

    #[test]
    fn fragments_with_a_ping_in_between_are_echoed_whole() {
        let mut client = echo_client();
        let bytes = [
            raw_frame(TEXT, b"frag"),
            raw_frame(FIN | PING, b"p"),
            raw_frame(FIN | CONTINUATION, b"ment"),
        ]
        .concat();
        client.send_raw(&bytes).unwrap();
        assert_eq!(client.recv().unwrap(), Event::Pong(b"p".to_vec()));
        assert_eq!(client.recv().unwrap(), Event::Text("fragment".to_string()));
        client.close(1000).unwrap();
    }

    #[test]
    fn continuation_without_a_message_is_refused() {
        let mut client = echo_client();
        client
            .send_raw(&raw_frame(FIN | CONTINUATION, b"orphan"))
            .unwrap();
        expect_close_from_server(&mut client, 1002);
    }

    #[test]
    fn fragmented_ping_is_refused() {
        let mut client = echo_client();
        client.send_raw(&raw_frame(PING, b"frag")).unwrap();
        expect_close_from_server(&mut client, 1002);
    }
}

mod section6_utf8 {
    use super::*;

    #[test]
    fn invalid_text_is_refused_with_1007() {
        let mut client = echo_client();
        client
            .send_raw(&text(
                b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80edited",
            ))
            .unwrap();
        expect_close_from_server(&mut client, 1007);
    }

    #[test]
    fn invalid_text_fails_fast_before_the_message_ends() {
        // Only the first fragment is sent; the server must not wait for the rest.
        let mut client = echo_client();
        client
            .send_raw(&raw_frame(
                TEXT,
                b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xF4\x90\x80\x80",
            ))
            .unwrap();
        expect_close_from_server(&mut client, 1007);
    }

    #[test]
    fn code_point_split_across_fragments_is_fine() {
        let mut client = echo_client();
        let bytes = [
            raw_frame(TEXT, b"\xCE\xBA\xE1"),
            raw_frame(FIN | CONTINUATION, b"\xBD\xB9"),
        ]
        .concat();
        client.send_raw(&bytes).unwrap();
        assert_eq!(
            client.recv().unwrap(),
            Event::Text("\u{3BA}\u{1F79}".to_string())
        );
        client.close(1000).unwrap();
    }
}

mod section7_close {
    use super::*;

    #[test]
    fn valid_codes_are_echoed_and_tcp_closed() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            let mut client = echo_client();
            client.send_raw(&close_frame(code, b"")).unwrap();
            expect_close_from_server(&mut client, code);
        }
    }

    #[test]
    fn invalid_codes_are_answered_with_1002() {
        for code in [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999] {
            let mut client = echo_client();
            client.send_raw(&close_frame(code, b"")).unwrap();
            expect_close_from_server(&mut client, 1002);
        }
    }

    #[test]
    fn one_byte_close_is_answered_with_1002() {
        let mut client = echo_client();
        client.send_raw(&raw_frame(FIN | CLOSE, &[0x03])).unwrap();
        expect_close_from_server(&mut client, 1002);
    }

    #[test]
    fn empty_close_is_answered_and_tcp_closed() {
        let mut client = echo_client();
        client.send_raw(&raw_frame(FIN | CLOSE, b"")).unwrap();
        assert_eq!(
            client.recv().unwrap(),
            Event::Close {
                code: None,
                reason: String::new()
            }
        );
        client.wait_for_eof().unwrap();
    }

    #[test]
    fn invalid_utf8_reason_is_answered_with_1007() {
        let mut client = echo_client();
        client
            .send_raw(&close_frame(1000, b"\xED\xA0\x80"))
            .unwrap();
        expect_close_from_server(&mut client, 1007);
    }

    #[test]
    fn data_after_close_is_not_echoed() {
        let mut client = echo_client();
        client
            .send_raw(&[close_frame(1000, b""), text(b"after close")].concat())
            .unwrap();
        expect_close_from_server(&mut client, 1000);
    }
}

mod section9_limits {
    use super::*;

    #[test]
    fn sixteen_mib_binary_message_is_echoed() {
        let mut client = echo_client();
        let data: Vec<u8> = (0..16 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        client.send_binary(&data).unwrap();
        assert_eq!(client.recv().unwrap(), Event::Binary(data));
        client.close(1000).unwrap();
    }

    #[test]
    fn message_in_65536_fragments_is_echoed() {
        let mut client = echo_client();
        let fragments = 65_536;
        let mut bytes = raw_frame(BINARY, &[0; 16]);
        for i in 1..fragments {
            let fin = if i == fragments - 1 { FIN } else { 0 };
            bytes.extend(raw_frame(fin | CONTINUATION, &[(i % 256) as u8; 16]));
        }
        client.send_raw(&bytes).unwrap();
        match client.recv().unwrap() {
            Event::Binary(data) => assert_eq!(data.len(), fragments * 16),
            other => panic!("{other:?}"),
        }
        client.close(1000).unwrap();
    }

    #[test]
    fn message_over_the_limit_is_refused_with_1009() {
        let mut client = echo_client();
        // Only the header of a frame announcing one byte over the default 16 MiB.
        let mut header = vec![FIN | BINARY, 0x80 | 127];
        header.extend_from_slice(&(16u64 * 1024 * 1024 + 1).to_be_bytes());
        header.extend_from_slice(&KEY);
        client.send_raw(&header).unwrap();
        expect_close_from_server(&mut client, 1009);
    }
}

/// Autobahn section 10: a long message split by the sender into fixed-size fragments (1,300 bytes, as the
/// suite's auto-fragmentation does), cutting multi-byte code points at fragment boundaries.
mod section10_auto_fragmentation {
    use super::*;

    #[test]
    fn text_of_64_kib_in_1300_byte_fragments_is_echoed_whole() {
        let mut client = echo_client();
        // "é" is two bytes and "€" three: 1,300-byte cuts fall inside code points again and again.
        let text: String = "aé€".repeat(65_536 / 6);
        let payload = text.as_bytes();
        let pieces: Vec<&[u8]> = payload.chunks(1_300).collect();
        let mut bytes = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 { TEXT } else { CONTINUATION };
            let fin = if i == pieces.len() - 1 { FIN } else { 0 };
            bytes.extend(raw_frame(fin | opcode, piece));
        }
        client.send_raw(&bytes).unwrap();
        assert_eq!(client.recv().unwrap(), Event::Text(text));
        client.close(1000).unwrap();
    }
}
mod handshake {
    use super::*;

    /// Sends a raw request and returns the response head.
    fn exchange(request: &str) -> String {
        let mut stream = TcpStream::connect(server_addr()).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        while !response.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(read) => response.extend_from_slice(&chunk[..read]),
            }
        }
        String::from_utf8_lossy(&response).into_owned()
    }

    fn upgrade_request(extra: &str) -> String {
        format!(
            "GET /ws/echo HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n",
            server_addr()
        )
    }

    #[test]
    fn rfc_key_gets_the_rfc_accept() {
        let response = exchange(&upgrade_request("Sec-WebSocket-Version: 13\r\n"));
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        assert!(
            response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            "{response}"
        );
        assert!(
            !response.to_ascii_lowercase().contains("content-length"),
            "no body length on a 101: {response}"
        );
        assert!(
            !response
                .to_ascii_lowercase()
                .contains("sec-websocket-extensions"),
            "{response}"
        );
    }

    #[test]
    fn wrong_version_is_426_naming_13() {
        let response = exchange(&upgrade_request("Sec-WebSocket-Version: 8\r\n"));
        assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
        assert!(
            response.contains("Sec-WebSocket-Version: 13\r\n"),
            "{response}"
        );
        // RFC 9110 §15.5.22: "The server MUST send an Upgrade header field in a 426 response".
        assert!(
            response.contains("\r\nUpgrade: websocket\r\n"),
            "{response}"
        );
    }

    #[test]
    fn foreign_origin_is_403_and_own_origin_is_101() {
        let foreign = exchange(&upgrade_request(
            "Sec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n",
        ));
        assert!(foreign.starts_with("HTTP/1.1 403 "), "{foreign}");
        let own = format!(
            "Sec-WebSocket-Version: 13\r\nOrigin: http://{}\r\n",
            server_addr()
        );
        let response = exchange(&upgrade_request(&own));
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    }

    #[test]
    fn short_key_is_400() {
        let request = upgrade_request("Sec-WebSocket-Version: 13\r\n")
            .replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        let response = exchange(&request);
        assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    }
}
