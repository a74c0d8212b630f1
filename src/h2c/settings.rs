//! `HTTP2-Settings` (RFC 7540 §3.2.1): the client's first SETTINGS payload,
//! sent in base64url with the upgrade request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderValue;

/// One setting: identifier and value (RFC 7540 §6.5.1).
pub(crate) type Setting = (u16, u32);

const HEADER_TABLE_SIZE: u16 = 0x1;
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;
/// RFC 8441 §3.
const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;

/// The settings a client announces, each identifier once (the last value
/// wins, as it would when a SETTINGS frame is processed in order), unknown
/// identifiers dropped (RFC 7540 §6.5.2 has them ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSettings {
    settings: Vec<Setting>,
}

impl ClientSettings {
    /// The settings, identifier and value, in the order kept.
    pub fn iter(&self) -> impl Iterator<Item = Setting> + '_ {
        self.settings.iter().copied()
    }

    /// Decodes and checks an `HTTP2-Settings` value. The error names the
    /// fault.
    pub fn decode(value: &HeaderValue) -> Result<Self, &'static str> {
        // RFC 7540 §3.2.1: token68 in the base64url alphabet, trailing '='
        // omitted. The engine refuses padding and non-canonical trailing bits.
        let payload = URL_SAFE_NO_PAD
            .decode(value.as_bytes())
            .map_err(|_| "HTTP2-Settings is not base64url without padding")?;
        Self::parse(&payload)
    }

    /// Checks a SETTINGS payload: whole 6-byte entries (RFC 7540 §6.5) and
    /// values in range (RFC 7540 §6.5.2, RFC 8441 §3).
    pub fn parse(payload: &[u8]) -> Result<Self, &'static str> {
        if payload.len() % 6 != 0 {
            return Err("HTTP2-Settings does not decode to whole 6-byte settings");
        }
        let mut settings: Vec<Setting> = Vec::new();
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match id {
                ENABLE_PUSH if value > 1 => {
                    return Err("HTTP2-Settings: SETTINGS_ENABLE_PUSH must be 0 or 1")
                }
                INITIAL_WINDOW_SIZE if value > (1 << 31) - 1 => {
                    return Err("HTTP2-Settings: SETTINGS_INITIAL_WINDOW_SIZE is above 2^31-1")
                }
                MAX_FRAME_SIZE if !(1 << 14..1 << 24).contains(&value) => {
                    return Err(
                        "HTTP2-Settings: SETTINGS_MAX_FRAME_SIZE is outside 16384..=16777215",
                    )
                }
                ENABLE_CONNECT_PROTOCOL if value > 1 => {
                    return Err("HTTP2-Settings: SETTINGS_ENABLE_CONNECT_PROTOCOL must be 0 or 1")
                }
                // A client's ENABLE_CONNECT_PROTOCOL means nothing to a server
                // (RFC 8441 §3 has the server announce it): checked, dropped.
                ENABLE_CONNECT_PROTOCOL => {}
                HEADER_TABLE_SIZE
                | ENABLE_PUSH
                | MAX_CONCURRENT_STREAMS
                | INITIAL_WINDOW_SIZE
                | MAX_FRAME_SIZE
                | MAX_HEADER_LIST_SIZE => {
                    settings.retain(|(known, _)| *known != id);
                    settings.push((id, value));
                }
                _ => {}
            }
        }
        Ok(Self { settings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(entries: &[(u16, u32)]) -> HeaderValue {
        let payload: Vec<u8> = entries
            .iter()
            .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
            .collect();
        HeaderValue::from_str(&URL_SAFE_NO_PAD.encode(payload)).unwrap()
    }

    #[test]
    fn curl_and_nghttp_values_decode() {
        // What curl 7.88 sends.
        let curl =
            ClientSettings::decode(&HeaderValue::from_static("AAMAAABkAAQCAAAAAAIAAAAA")).unwrap();
        assert_eq!(curl.settings, [(3, 100), (4, 0x0200_0000), (2, 0)]);
        // What nghttp -u sends.
        let nghttp = ClientSettings::decode(&HeaderValue::from_static("AAMAAABkAAQAAP__")).unwrap();
        assert_eq!(nghttp.settings, [(3, 100), (4, 65535)]);
        assert!(ClientSettings::decode(&HeaderValue::from_static(""))
            .unwrap()
            .settings
            .is_empty());
    }

    #[test]
    fn faults_are_named() {
        let cases: &[(HeaderValue, &str)] = &[
            (HeaderValue::from_static("AAMAAABkAAQAAP__="), "base64url"),
            (HeaderValue::from_static("AAMAAABkAAQAAP//"), "base64url"),
            (HeaderValue::from_static("AAMAAABk AAQAAP__"), "base64url"),
            (HeaderValue::from_static("AAMAAAB"), "base64url"),
            (HeaderValue::from_static("AAMAAABkAA"), "whole 6-byte"),
            (encode(&[(2, 2)]), "ENABLE_PUSH"),
            (encode(&[(4, 1 << 31)]), "INITIAL_WINDOW_SIZE"),
            (encode(&[(5, 16383)]), "MAX_FRAME_SIZE"),
            (encode(&[(5, 1 << 24)]), "MAX_FRAME_SIZE"),
            (encode(&[(8, 2)]), "CONNECT_PROTOCOL"),
        ];
        for (value, fault) in cases {
            let err = ClientSettings::decode(value).unwrap_err();
            assert!(err.contains(fault), "{value:?}: {err}");
        }
    }

    #[test]
    fn boundaries_are_accepted_and_repeats_collapse() {
        let settings = ClientSettings::decode(&encode(&[
            (5, 16384),
            (5, 16_777_215),
            (4, (1 << 31) - 1),
            (2, 1),
            (0x99, 7),
            (8, 1),
            (1, 0),
        ]))
        .unwrap();
        assert_eq!(
            settings.settings,
            [(5, 16_777_215), (4, (1 << 31) - 1), (2, 1), (1, 0)]
        );
    }
}
