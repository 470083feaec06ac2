//! `[accounts]`: sign-in for the public and for staff.

use serde::{Deserialize, Serialize};

use crate::cookies::is_valid_session_cookie_name;
use crate::fields::FieldErrors;

/// Sign-in for the public and for staff.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// Whether people can register and sign in (staff always can).
    pub public_registration: bool,
    /// The name of the sign-in cookie.
    pub session_cookie_name: String,
    /// Prefix the cookie name with `__Host-` (needs an https `public_url`).
    pub host_prefix: bool,
    /// A session ends after this many minutes without a request.
    pub idle_timeout_minutes: u32,
    /// A session ends this many hours after sign-in, however active.
    pub absolute_timeout_hours: u32,
    /// Staff must use an authenticator app as a second factor.
    pub require_staff_totp: bool,
    /// The most registrations one internet address may attempt in a clock hour, counted
    /// across instances. Raise it where many people register from behind one address.
    pub registrations_per_address_per_hour: u32,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            public_registration: true,
            session_cookie_name: "clientvars".to_owned(),
            host_prefix: false,
            idle_timeout_minutes: 30,
            absolute_timeout_hours: 12,
            require_staff_totp: false,
            registrations_per_address_per_hour: 10,
        }
    }
}

impl AccountSettings {
    /// The cookie's name as the browser sees it.
    pub fn cookie_name(&self) -> String {
        if self.host_prefix {
            format!("__Host-{}", self.session_cookie_name)
        } else {
            self.session_cookie_name.clone()
        }
    }

    /// `https`: whether visitors come over https (`public_url`).
    pub(super) fn check(&self, https: bool) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if !is_valid_session_cookie_name(&self.session_cookie_name) {
            errors.add(
                "session_cookie_name",
                "must be a cookie name (letters, digits and -_.), not starting with __ and not candour_consent",
            );
        }
        if self.host_prefix && !https {
            errors.add(
                "host_prefix",
                "needs an https:// public_url: browsers accept __Host- cookies only over https",
            );
        }
        errors.check_range(
            "idle_timeout_minutes",
            self.idle_timeout_minutes,
            1,
            24 * 60,
            "",
        );
        errors.check_range(
            "absolute_timeout_hours",
            self.absolute_timeout_hours,
            1,
            24 * 30,
            "",
        );
        errors.check_range(
            "registrations_per_address_per_hour",
            self.registrations_per_address_per_hour,
            1,
            10_000,
            "",
        );
        errors
    }

    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        if !self.require_staff_totp {
            out.push(
                "accounts.require_staff_totp is off: staff can sign in with a password alone. \
                 Set it to true; each member of staff then sets up an authenticator app at their \
                 next sign-in."
                    .to_owned(),
            );
        }
    }
}
