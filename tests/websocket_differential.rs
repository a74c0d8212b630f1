//! Differential test of the protocol core (`websocket::proto`): a few
//! thousand client streams, generated from a fixed seed, fed to the core and
//! to tungstenite's server role (and, for compressed messages, to a
//! reference inflater on flate2), which must yield the same messages and
//! close codes. The comparison, and the differences RFC 6455 allows, are
//! the `ws_differential` fuzz property (`fuzz/properties/differential.rs`),
//! included here as `tests/fuzz_seeds.rs` does.
//!
//! `WS_DIFFERENTIAL_SEEDS=DIR` writes every 250th stream to DIR (how
//! `fuzz/seeds/ws_differential/` was made).

#[path = "../fuzz/properties/mod.rs"]
#[allow(dead_code)]
mod properties;

use flate2::{Compress, Compression, FlushCompress};
use properties::Settled;

/// xorshift64*: a fixed sequence, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The input format of the property: flags, then frames.
struct Script {
    bytes: Vec<u8>,
}

impl Script {
    fn new(deflate: bool, small: bool) -> Self {
        Self {
            bytes: vec![u8::from(deflate) | u8::from(small) << 1],
        }
    }
    /// A frame with up to 126 bytes of payload.
    fn frame(&mut self, b0: u8, masked: bool, payload: &[u8]) {
        assert!(payload.len() <= 126);
        self.bytes.push(b0);
        self.bytes
            .push(if masked { 0x80 } else { 0 } | payload.len() as u8);
        self.bytes.extend_from_slice(payload);
    }
    /// A frame of `len` copies of `fill`.
    fn long_frame(&mut self, b0: u8, len: u16, fill: u8) {
        self.bytes.extend([b0, 0x80 | 127]);
        self.bytes.extend(len.to_be_bytes());
        self.bytes.push(fill);
    }
}

const TEXTS: &[&str] = &[
    "",
    "hello",
    "héllo wörld",
    "€uro ∑ 日本語 🎉",
    "{\"user\":\"ada\",\"text\":\"hello hello hello\"}",
];

fn text(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(4) + 1 {
        out.extend_from_slice(TEXTS[rng.below(TEXTS.len())].as_bytes());
    }
    out.truncate(120);
    // Cut on a character so the text stays UTF-8.
    while std::str::from_utf8(&out).is_err() {
        out.pop();
    }
    out
}

/// Raw deflate of `data` with the tail of RFC 7692 §7.2.1 removed.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut state = Compress::new(Compression::new(6), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    state
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xFF, 0xFF]));
    out.truncate(out.len() - 4);
    out
}

/// Splits `payload` into fragments of at most 126 bytes, cut at random
/// places (UTF-8 characters too), the first with `first` as its opcode
/// and RSV bits; control frames in between.
fn message(rng: &mut Rng, script: &mut Script, first: u8, payload: &[u8]) {
    let mut cuts = vec![0, payload.len()];
    for _ in 0..rng.below(4) {
        cuts.push(rng.below(payload.len() + 1));
    }
    cuts.sort_unstable();
    cuts.dedup();
    if cuts.len() == 1 {
        cuts.push(0);
    }
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &payload[w[0]..w[1]]).collect();
    let pieces: Vec<&[u8]> = pieces
        .iter()
        .flat_map(|p| p.chunks(126).chain(p.is_empty().then_some(&p[..])))
        .collect();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { first } else { 0 };
        let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
        script.frame(fin | opcode, true, piece);
        if i + 1 < pieces.len() && rng.chance(20) {
            let ping = if rng.chance(50) { 0x89 } else { 0x8A };
            script.frame(ping, true, b"between");
        }
    }
}

/// One stream: a few valid messages, then maybe one fault.
fn stream(rng: &mut Rng) -> Vec<u8> {
    let deflate_agreed = rng.chance(30);
    let small = rng.chance(30);
    let mut script = Script::new(deflate_agreed, small);
    for _ in 0..rng.below(5) {
        match rng.below(6) {
            0 | 1 => {
                let t = text(rng);
                message(rng, &mut script, 0x01, &t);
            }
            2 => {
                let data: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
                message(rng, &mut script, 0x02, &data);
            }
            3 => {
                let mut t = text(rng);
                t.truncate(rng.below(10));
                script.frame(0x89, true, &t);
            }
            4 => script.frame(0x8A, true, b"pong"),
            _ if deflate_agreed => {
                let t = text(rng);
                let opcode = if rng.chance(50) { 0x41 } else { 0x42 };
                message(rng, &mut script, opcode, &deflate(&t));
            }
            _ => {
                let t = text(rng);
                message(rng, &mut script, 0x01, &t);
            }
        }
    }
    match rng.below(22) {
        0 => script.frame(0x81 | [0x10, 0x20, 0x40][rng.below(3)], true, b"rsv"),
        1 => script.frame(0x80 | [3, 4, 7, 0xB, 0xF][rng.below(5)], true, b"op"),
        2 => script.frame(0x81, false, b"unmasked"),
        3 => script.frame(0x09, true, b"fragmented ping"),
        4 => script.frame(0x89, true, &[b'p'; 126]),
        5 => script.frame(0x80, true, b"continuation of nothing"),
        6 => {
            script.frame(0x01, true, b"a");
            script.frame(0x81, true, b"b");
        }
        7 => {
            // Invalid UTF-8 across fragments: a € cut, then a bad byte.
            let bad = [&"ok €".as_bytes()[..5], &[0xC0][..]][rng.below(2)];
            script.frame(0x01, true, bad);
            script.frame(0x00, true, &[0x82, 0xAC, 0xFF][..rng.below(3) + 1]);
            script.frame(0x80, true, b"end");
        }
        8 => script.frame(0x81, true, &[b'a', 0xF4, 0x90, 0x80, 0x80]),
        9 => script.frame(0x88, true, &[0x03]),
        10 => {
            let code: u16 = [0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 2999, 5000][rng.below(10)];
            script.frame(0x88, true, &code.to_be_bytes());
        }
        11 => script.frame(0x88, true, &[0x03, 0xE8, b'o', 0xFF]),
        12 => script.frame(0x88, true, &[0x03, 0xED, 0xFF]),
        13 => script.long_frame(0x82, 300, b'x'),
        14 => {
            for _ in 0..3 {
                script.frame(0x02, true, &[7; 100]);
            }
            script.frame(0x80, true, b"");
        }
        15 if deflate_agreed => script.frame(0xC1, true, &[0xFF, 0xFF, 0xFF]),
        16 if deflate_agreed => script.frame(0xC0 | 0x89, true, b"rsv1 ping"),
        17 if deflate_agreed => {
            // Valid deflate of text that is not UTF-8.
            message(rng, &mut script, 0x41, &deflate(&[b'a', 0xFF, b'b']));
        }
        18 if deflate_agreed => {
            // A bomb: 300 zeros inflate past the small limit.
            message(rng, &mut script, 0x42, &deflate(&[0; 3000]));
        }
        19 => script.frame(0x88, true, &[0x0F, 0xA0, b'b', b'y', b'e']),
        20 => script.frame(0x88, true, &[]),
        _ => {}
    }
    if rng.chance(30) {
        message(rng, &mut script, 0x01, b"after");
    }
    script.bytes
}

#[test]
fn the_core_and_tungstenite_agree() {
    let mut rng = Rng(0x5EED_0F16_u64);
    let seeds = std::env::var_os("WS_DIFFERENTIAL_SEEDS");
    let (mut streams, mut events, mut codes) = (0, 0, 0);
    let mut settled: Vec<(Settled, usize)> = Vec::new();
    for i in 0..4000 {
        let input = stream(&mut rng);
        if let Some(dir) = &seeds {
            if i % 250 == 0 {
                std::fs::write(std::path::Path::new(dir).join(format!("gen{i:04}")), &input)
                    .unwrap();
            }
        }
        let compared = properties::compare(&input);
        streams += 1;
        events += compared.events;
        codes += compared.close_codes;
        if let Some(s) = compared.settled {
            match settled.iter_mut().find(|(k, _)| *k == s) {
                Some((_, n)) => *n += 1,
                None => settled.push((s, 1)),
            }
        }
    }
    eprintln!(
        "{streams} streams, {events} messages/pings/pongs compared, {codes} close codes compared, settled differences: {settled:?}"
    );
    assert!(
        events > 5000 && codes > 1000,
        "the generator lost its reach"
    );
}
