//! Target `http2_settings`: decoding `HTTP2-Settings` (RFC 7540 §3.2.1),
//! differential against the `base64` crate and a decoder written here, and
//! against a reference reading of the SETTINGS payload (§6.5).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderValue;
use tower_upgrade::__fuzz::ClientSettings;

/// Decodes one header value and compares it with both references.
pub fn http2_settings(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let crate_b64 = URL_SAFE_NO_PAD.decode(data).ok();
    let ours = reference_base64url(data);
    assert_eq!(crate_b64, ours, "base64 crate and reference disagree");

    let decoded = ClientSettings::decode(&value);
    let expected = ours
        .ok_or(())
        .and_then(|payload| reference_settings(&payload));
    match (&decoded, &expected) {
        (Ok(settings), Ok(entries)) => {
            assert_eq!(&settings.iter().collect::<Vec<_>>(), entries)
        }
        (Err(reason), Err(())) => assert!(reason.starts_with("HTTP2-Settings"), "{reason}"),
        _ => panic!("decode {decoded:?}, reference {expected:?}"),
    }
}

/// RFC 4648 §5 without padding, strict: only the URL-safe alphabet, no
/// `=`, no length that leaves 6 stray bits, and unused trailing bits zero
/// (RFC 4648 §3.5: a canonical encoding).
fn reference_base64url(s: &[u8]) -> Option<Vec<u8>> {
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | sextet(c)?;
        }
        let bits = chunk.len() * 6;
        let bytes = bits / 8;
        let spare = bits - bytes * 8;
        if acc & ((1 << spare) - 1) != 0 {
            return None;
        }
        let acc = acc >> spare;
        for i in (0..bytes).rev() {
            out.push((acc >> (8 * i)) as u8);
        }
    }
    Some(out)
}

/// RFC 7540 §6.5: whole 6-byte entries; §6.5.2 ranges; RFC 8441 §3 for
/// ENABLE_CONNECT_PROTOCOL (checked, then dropped: it is the server's to
/// announce); unknown identifiers dropped; each identifier kept once, at
/// its last value, in the order of the last occurrences.
fn reference_settings(payload: &[u8]) -> Result<Vec<(u16, u32)>, ()> {
    if payload.len() % 6 != 0 {
        return Err(());
    }
    let mut out: Vec<(u16, u32)> = Vec::new();
    for entry in payload.chunks(6) {
        let id = u16::from(entry[0]) << 8 | u16::from(entry[1]);
        let value = entry[2..]
            .iter()
            .fold(0u32, |acc, &b| acc << 8 | u32::from(b));
        let ok = match id {
            2 | 8 => value <= 1,
            4 => value <= 0x7fff_ffff,
            5 => (16_384..=16_777_215).contains(&value),
            _ => true,
        };
        if !ok {
            return Err(());
        }
        if (1..=6).contains(&id) {
            out.retain(|(known, _)| *known != id);
            out.push((id, value));
        }
    }
    Ok(out)
}
