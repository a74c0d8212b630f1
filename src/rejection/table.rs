//! The macro that turns the table of causes (in `rejection.rs`) into the
//! [`Rejection`](crate::rejection::Rejection) enum, each cause's `status`, `reason`,
//! `metrics_label`, `Display`, `Error` and `From`, and the matches over
//! every variant. Nothing about a cause is written twice.

macro_rules! rejections {
    (
        protocol $custom:ident($custom_ty:ident);
        $(
            $(#[cfg($cfg:meta)])?
            $name:ident => $status:ident, $label:literal, $reason:tt;
        )*
    ) => {
        /// Why an upgrade was refused. Put in the extensions of every
        /// rejection response.
        ///
        /// ```
        /// use tower_upgrade::rejection::Rejection;
        ///
        /// fn log(rejection: &Rejection) {
        ///     eprintln!("{} {} ({})", rejection.status(), rejection, rejection.metrics_label());
        /// }
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Rejection {
            $(
                #[doc = concat!("See [`", stringify!($name), "`].")]
                $(#[cfg($cfg)] #[cfg_attr(docsrs, doc(cfg($cfg)))])?
                $name($name),
            )*
            #[doc = concat!("See [`", stringify!($custom_ty), "`]: a protocol's own refusal.")]
            $custom($custom_ty),
        }

        $(
            $(#[cfg($cfg)])?
            impl $name {
                /// The status code of the response.
                pub fn status(&self) -> ::http::StatusCode {
                    ::http::StatusCode::$status
                }

                /// The reason, in words, sent as the response body.
                pub fn reason(&self) -> &'static str {
                    $crate::rejection::table::reason_text!(self, $reason)
                }

                /// The `reason` label of `tower_upgrade_rejected_total`
                /// (feature `metrics`).
                pub fn metrics_label(&self) -> &'static str {
                    $label
                }
            }

            $(#[cfg($cfg)])?
            impl ::std::fmt::Display for $name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(self.reason())
                }
            }

            $(#[cfg($cfg)])?
            impl ::std::error::Error for $name {}

            $(#[cfg($cfg)])?
            impl From<$name> for Rejection {
                fn from(r: $name) -> Self {
                    Rejection::$name(r)
                }
            }
        )*

        impl From<$custom_ty> for Rejection {
            fn from(r: $custom_ty) -> Self {
                Rejection::$custom(r)
            }
        }

        impl Rejection {
            /// The status code of the response.
            pub fn status(&self) -> ::http::StatusCode {
                match self {
                    $($(#[cfg($cfg)])? Rejection::$name(_) => ::http::StatusCode::$status,)*
                    Rejection::$custom(r) => r.status(),
                }
            }

            /// The reason, in words, sent as the response body.
            pub fn reason(&self) -> &str {
                match self {
                    $($(#[cfg($cfg)])? Rejection::$name(r) => r.reason(),)*
                    Rejection::$custom(r) => r.reason(),
                }
            }

            /// The `reason` label of `tower_upgrade_rejected_total` (feature
            /// `metrics`): the cause's name in snake case, or the label a
            /// [`ProtocolRejection`] was given.
            ///
            /// ```
            /// use http::StatusCode;
            /// use tower_upgrade::rejection::{ProtocolRejection, Rejection};
            ///
            /// let rejection = Rejection::from(
            ///     ProtocolRejection::new(StatusCode::BAD_REQUEST, "bad line length").label("bad_line"),
            /// );
            /// assert_eq!(rejection.metrics_label(), "bad_line");
            /// ```
            pub fn metrics_label(&self) -> &'static str {
                match self {
                    $($(#[cfg($cfg)])? Rejection::$name(_) => $label,)*
                    Rejection::$custom(r) => r.metrics_label(),
                }
            }
        }

        impl Rejection {
            /// The protocol's own typed cause of a [`Rejection::Protocol`]
            /// (see [`ProtocolRejection::cause`]), if it is a `T`.
            pub fn downcast_ref<T: ::std::any::Any>(&self) -> Option<&T> {
                match self {
                    Rejection::$custom(r) => r.downcast_ref(),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for Rejection {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.reason())
            }
        }

        /// No `source`: the cause inside says the same words, and an error
        /// chain would print them twice.
        impl ::std::error::Error for Rejection {}

        /// Every row's metrics label, in the table's order: the `reason`
        /// series that exist, at 0, from the moment a layer is built.
        #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
        pub(crate) const METRICS_LABELS: &[&str] = &[$($(#[cfg($cfg)])? $label,)*];

        /// Every row's metrics label and status, for the test that keeps
        /// the table sound as rows are added.
        #[cfg(test)]
                #[allow(clippy::vec_init_then_push)] // a push may carry its row's cfg
        pub(crate) fn table_rows() -> Vec<(&'static str, ::http::StatusCode)> {
            #[allow(unused_mut)] // a table whose every row is off
            let mut rows = Vec::new();
            $(
                $(#[cfg($cfg)])?
                rows.push(($label, ::http::StatusCode::$status));
            )*
            rows
        }
    };
}

/// A row's reason: a literal, or `(method)`, a method of the cause that
/// picks among fixed texts (the one cause whose words name a header field).
macro_rules! reason_text {
    ($this:ident, $reason:literal) => {
        $reason
    };
    ($this:ident, ($method:ident)) => {
        $this.$method()
    };
}

pub(super) use {reason_text, rejections};
