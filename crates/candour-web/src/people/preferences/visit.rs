//! Who the preference centre is for: the signed, short-lived visit cookie, or the account.

use axum::http::{HeaderMap, header};
use candour_core::account::EmailAddress;
use candour_core::cookies::{PREFERENCES_COOKIE, read_cookie};
use candour_core::people::{Person, Source};
use candour_core::signer::{Purpose, Signer};
use time::OffsetDateTime;

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::Frame;

/// `person.expires.signature`: the record a link opened, until when.
pub(super) fn visit_value(signer: &Signer, person: i64, until: OffsetDateTime) -> String {
    signer.sign(Purpose::PreferenceVisit, &person.to_string(), Some(until))
}

/// The person a visit cookie names, if it is genuine and current.
pub(super) fn visit_person(signer: &Signer, value: &str, now: OffsetDateTime) -> Option<i64> {
    signer
        .verify(Purpose::PreferenceVisit, value, now)
        .ok()?
        .parse()
        .ok()
}

/// Whose preferences these are.
pub(super) enum Who {
    /// Signed in: their account, and their record once they have one.
    Account {
        email: EmailAddress,
        person: Option<Person>,
    },
    /// Opened from an emailed link.
    Visit(Person),
    Nobody,
}

impl Who {
    pub(super) fn person(&self) -> Option<&Person> {
        match self {
            Who::Account { person, .. } => person.as_ref(),
            Who::Visit(p) => Some(p),
            Who::Nobody => None,
        }
    }
}

pub(super) async fn who(
    state: &AppState,
    frame: &Frame,
    headers: &HeaderMap,
) -> Result<Who, AppError> {
    if let Some(account) = &frame.visitor.account {
        let person = state.stores().people.person_for_account(account.id).await?;
        return Ok(Who::Account {
            email: account.email.clone(),
            person,
        });
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| read_cookie(h, PREFERENCES_COOKIE));
    if let Some(id) = cookie.and_then(|v| visit_person(&state.inner.signer, v, state.now()))
        && let Some(p) = state.stores().people.person(id).await?
    {
        return Ok(Who::Visit(p));
    }
    Ok(Who::Nobody)
}

/// The person to change: a signed-in visitor without a record gets one now.
pub(super) async fn person_to_change(state: &AppState, who: Who) -> Result<Person, AppError> {
    match who {
        Who::Account {
            person: Some(p), ..
        }
        | Who::Visit(p) => Ok(p),
        Who::Account { email, .. } => Ok(state
            .stores()
            .people
            .ensure_person(&email, Source::PreferenceCentre, state.now())
            .await?),
        Who::Nobody => Err(AppError::SeeOther("/preferences".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn visit_cookies_are_signed_and_expire() {
        let key = Signer::new(&[5u8; 32]);
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let v = visit_value(&key, 42, now + Duration::minutes(30));
        assert_eq!(visit_person(&key, &v, now), Some(42));
        assert_eq!(visit_person(&key, &v, now + Duration::minutes(31)), None);
        assert_eq!(visit_person(&Signer::new(&[6u8; 32]), &v, now), None);
        let forged = v.replacen("42", "43", 1);
        assert_eq!(visit_person(&key, &forged, now), None);
        assert_eq!(visit_person(&key, "42", now), None);
        assert_eq!(visit_person(&key, "", now), None);
    }
}
