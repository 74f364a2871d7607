//! Chapter 10, WebSocket frames: model answers, including the "build it yourself" track (a frame
//! decoder, RFC 6455 §5.2).

/// A whole decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The last frame of its message.
    pub fin: bool,
    /// 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// Track, exercise 10.1: decodes the frame at the start of `buf`. `Ok(None)` while the frame is not
/// all there yet ("need more bytes" is not an error); `Ok(Some((frame, length)))` with the bytes it took;
/// `Err` for a frame that breaks §5.2 or §5.5: a reserved bit set, a reserved opcode, a control frame
/// that is fragmented or longer than 125 bytes, a 64-bit length with its top bit set.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    let (Some(&first), Some(&second)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err("reserved bit set".into());
    }
    let (fin, opcode) = (first & 0x80 != 0, first & 0x0f);
    if matches!(opcode, 3..=7 | 11..=15) {
        return Err(format!("reserved opcode {opcode}"));
    }
    let len7 = second & 0x7f;
    if opcode >= 8 && (!fin || len7 > 125) {
        return Err("control frames are short and never fragmented".into());
    }
    let (length, mut at) = match len7 {
        126 => match buf.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(bytes) if bytes[0] & 0x80 != 0 => return Err("64-bit length over 2^63".into()),
            Some(bytes) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                (u64::from_be_bytes(be), 10)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let mask = match second & 0x80 != 0 {
        true => match buf.get(at..at + 4) {
            Some(key) => {
                at += 4;
                Some([key[0], key[1], key[2], key[3]])
            }
            None => return Ok(None),
        },
        false => None,
    };
    let length = usize::try_from(length).map_err(|_| "frame larger than memory".to_string())?;
    let Some(payload) = buf.get(at..).and_then(|rest| rest.get(..length)) else {
        return Ok(None);
    };
    let mut payload = payload.to_vec();
    if let Some(key) = mask {
        // §5.3: octet i of the payload is XORed with octet i modulo 4 of the key.
        payload
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b ^= key[i % 4]);
    }
    let frame = Frame {
        fin,
        opcode,
        payload,
    };
    Ok(Some((frame, at + length)))
}

/// Exercise 10.2: encodes one unfragmented frame, with the shortest length encoding (7 bits, then 16,
/// then 64) and, for a client, the payload masked with `mask`.
pub fn encode_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Exercise 10.3: the server's answer to a client's ping: a pong with the same payload (RFC 6455
/// §5.5.3), unmasked because servers never mask (§5.1). `Err` for anything that is not a whole, masked
/// ping: a client that does not mask breaks §5.1, and other frames need no pong.
pub fn pong_for(client_frame: &[u8]) -> Result<Vec<u8>, String> {
    let masked = client_frame.get(1).is_some_and(|second| second & 0x80 != 0);
    let (frame, _) = decode_frame(client_frame)?.ok_or("the frame is not all there")?;
    if frame.opcode != 0x9 {
        return Err(format!("opcode {} is not a ping", frame.opcode));
    }
    if !masked {
        return Err("a client's frame must be masked (§5.1)".into());
    }
    // A ping's payload is at most 125 bytes (§5.5), so the 7-bit length always fits.
    let mut pong = vec![0x8a, frame.payload.len() as u8];
    pong.extend_from_slice(&frame.payload);
    Ok(pong)
}
