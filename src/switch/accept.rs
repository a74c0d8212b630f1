//! The chosen protocol's checks, and the upgrade handle the switch needs.

use http::header::{HeaderName, CONNECTION, UPGRADE};
use http::request::Parts;
use http::HeaderMap;

use crate::config::Config;
use crate::detect::Via;
use crate::protocol::{Accepted, Offer};
use crate::registry::Registration;
use crate::rejection::{ConnectionNotUpgradable, HeaderTooLarge, Rejection};
use crate::UpgradeLayer;

/// Checks the bounds of the fields that asked for the switch, asks the
/// protocol whether it takes the request, then takes hyper's upgrade handle
/// out of the request: without one, no switch can happen.
pub(super) fn accept(
    config: &Config,
    registration: &Registration,
    parts: &mut Parts,
    via: Via,
    token: &str,
    body_len: Option<u64>,
) -> Result<(Accepted, hyper::upgrade::OnUpgrade), Rejection> {
    if via == Via::Http1 {
        fits(&parts.headers, CONNECTION)?;
        fits(&parts.headers, UPGRADE)?;
    }
    let offer = Offer {
        token,
        via,
        headers: &parts.headers,
        body_len,
        max_request_body: config.max_request_body,
    };
    let accepted = registration.protocol.accept(parts, &offer)?;
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or(ConnectionNotUpgradable)?;
    Ok((accepted, on_upgrade))
}

/// RFC 6585 §5: a header field the server will not process for its size
/// gets `431`, naming the field. `Connection` and `Upgrade` decide the
/// switch, so one over its bound is refused whole, never read in part.
/// HTTP/2 has neither field (RFC 9113 §8.2.2).
fn fits(headers: &HeaderMap, name: HeaderName) -> Result<(), HeaderTooLarge> {
    let total = headers
        .get_all(&name)
        .iter()
        .fold(0usize, |total, line| total.saturating_add(line.len()));
    if total > UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES {
        return Err(HeaderTooLarge::new(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn a_field_over_its_bound_is_refused_whole_across_its_lines() {
        let max = UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES;
        let mut headers = HeaderMap::new();
        let half = HeaderValue::from_str(&"a".repeat(max / 2)).unwrap();
        headers.append(CONNECTION, half.clone());
        headers.append(CONNECTION, half);
        assert!(fits(&headers, CONNECTION).is_ok(), "at the bound");
        headers.append(CONNECTION, HeaderValue::from_static("upgrade"));
        let refused = fits(&headers, CONNECTION).unwrap_err();
        assert_eq!(refused.field(), CONNECTION);
        assert!(fits(&headers, UPGRADE).is_ok(), "absent");
    }
}
