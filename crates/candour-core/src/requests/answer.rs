//! When a case may be answered with a bundle of the person's data, and released.

use super::case::{Kind, Status};
use super::record::Case;

/// Why a case cannot have a bundle built now, in words for the case page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    /// Only a copy (Art 15) or portability (Art 20) is answered with the data.
    NotACopy,
    /// Answered or refused already.
    Closed,
    /// Proof of identity was asked for and has not arrived.
    IdentityAwaited,
    /// About records held elsewhere, or no person record has the confirmed address.
    NoPerson,
}

impl NotYet {
    pub fn words(self) -> &'static str {
        match self {
            NotYet::NotACopy => {
                "Only a request for a copy of data or for portability is answered with a bundle"
            }
            NotYet::Closed => "The request has been answered or refused",
            NotYet::IdentityAwaited => "Proof of identity was asked for and has not arrived",
            NotYet::NoPerson => {
                "Candour holds no record of this person, so there is nothing to put in a bundle"
            }
        }
    }
}

/// The person whose data the case's bundle holds, once the case may have one: a copy or
/// portability, still open, and the person's identity settled (the request was made
/// signed in or confirmed from its address, and any proof staff asked for has arrived).
pub fn bundle_for(case: &Case) -> Result<i64, NotYet> {
    if !matches!(case.kind, Kind::Access | Kind::Portability) {
        return Err(NotYet::NotACopy);
    }
    if !case.status.is_open() {
        return Err(NotYet::Closed);
    }
    let awaited = case.status == Status::AwaitingIdentity
        || case.timeline.identity.is_some_and(|w| w.answered.is_none());
    if case.confirmed_at.is_none() || awaited {
        return Err(NotYet::IdentityAwaited);
    }
    match case.person {
        Some(person) if !case.elsewhere => Ok(person),
        _ => Err(NotYet::NoPerson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::{Timeline, Wait};
    use time::macros::{date, datetime};

    fn case(kind: Kind, status: Status) -> Case {
        Case {
            id: 1,
            kind,
            status,
            name: "Ash".into(),
            email: "ash@example.org".into(),
            details: String::new(),
            correction: None,
            correction_field: None,
            marketing: Vec::new(),
            elsewhere: false,
            person: Some(7),
            submitted_at: datetime!(2026-03-01 09:00 UTC),
            confirmed_at: Some(datetime!(2026-03-01 09:00 UTC)),
            timeline: Timeline::received(date!(2026 - 03 - 01)),
            identity_how: None,
            extension_reasons: None,
            refusal_reasons: None,
            assigned_to: None,
            closed_at: None,
        }
    }

    #[test]
    fn a_copy_or_portability_case_with_identity_settled_has_a_bundle_of_its_person() {
        assert_eq!(bundle_for(&case(Kind::Access, Status::Received)), Ok(7));
        assert_eq!(
            bundle_for(&case(Kind::Portability, Status::InProgress)),
            Ok(7)
        );
        assert_eq!(
            bundle_for(&case(Kind::Erasure, Status::InProgress)),
            Err(NotYet::NotACopy)
        );
        assert_eq!(
            bundle_for(&case(Kind::Access, Status::Answered)),
            Err(NotYet::Closed)
        );
        let mut waiting = case(Kind::Access, Status::InProgress);
        waiting.timeline.identity = Some(Wait {
            asked: date!(2026 - 03 - 02),
            answered: None,
        });
        assert_eq!(bundle_for(&waiting), Err(NotYet::IdentityAwaited));
        waiting.timeline.identity = Some(Wait {
            asked: date!(2026 - 03 - 02),
            answered: Some(date!(2026 - 03 - 03)),
        });
        assert_eq!(bundle_for(&waiting), Ok(7));
        let mut unconfirmed = case(Kind::Access, Status::Received);
        unconfirmed.confirmed_at = None;
        assert_eq!(bundle_for(&unconfirmed), Err(NotYet::IdentityAwaited));
        let mut elsewhere = case(Kind::Access, Status::Received);
        elsewhere.elsewhere = true;
        assert_eq!(bundle_for(&elsewhere), Err(NotYet::NoPerson));
        let mut nobody = case(Kind::Access, Status::Received);
        nobody.person = None;
        assert_eq!(bundle_for(&nobody), Err(NotYet::NoPerson));
    }
}
