//! Errors in configuration.

use std::fmt;

/// A configuration value that cannot work: an invalid protocol token, an
/// origin that does not parse, a protocol registered twice.
///
/// ```
/// use tower::service_fn;
/// use tower_upgrade::{UpgradeLayer, Upgraded};
///
/// let handler = service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) });
/// let err = UpgradeLayer::new().try_protocol("not a token", handler).unwrap_err();
/// println!("{err}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
