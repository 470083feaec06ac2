//! The register of recipients and the disclosures: names are unique, a retired recipient
//! cannot be chosen, a disclosure keeps its people (each once), erasure removes a person's
//! link while the count stays, and a person's disclosures are theirs alone.

use candour_core::account::EmailAddress;
use candour_core::disclosures::{ForWhom, NewDisclosure, RecipientDraft};
use candour_core::people::Source;
use candour_core::purposes::LawfulBasis;
use candour_core::store::{StoreError, Stores};
use time::Duration;

use crate::T0;

fn draft(name: &str, basis: LawfulBasis) -> RecipientDraft {
    RecipientDraft {
        name: name.to_owned(),
        purpose: format!("{name} delivers our services"),
        basis,
    }
}

async fn people(s: &Stores, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let email = EmailAddress::parse(&format!("p{i}@example.org")).unwrap();
        ids.push(
            s.people
                .ensure_person(&email, Source::Staff, T0)
                .await
                .unwrap()
                .id,
        );
    }
    ids
}

fn disclosure(for_whom: ForWhom, people: Vec<i64>) -> NewDisclosure {
    NewDisclosure {
        for_whom,
        actor: Some(7),
        kind: "people".to_owned(),
        description: "everyone subscribed".to_owned(),
        people,
        at: T0 + Duration::hours(1),
    }
}

pub async fn the_register_keeps_unique_names_and_retires_instead_of_deleting(s: &Stores) {
    let d = &s.disclosures;
    let mail = d
        .add_recipient(&draft("Mail house", LawfulBasis::LegitimateInterests), T0)
        .await
        .unwrap();
    let council = d
        .add_recipient(&draft("Council", LawfulBasis::PublicTask), T0)
        .await
        .unwrap();
    assert!(matches!(
        d.add_recipient(&draft("Mail house", LawfulBasis::Consent), T0)
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        d.change_recipient(council, &draft("Mail house", LawfulBasis::Consent))
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(
        d.change_recipient(
            council,
            &draft("County council", LawfulBasis::LegalObligation)
        )
        .await
        .unwrap()
    );
    assert!(
        !d.change_recipient(council + mail + 100, &draft("Nobody", LawfulBasis::Consent))
            .await
            .unwrap()
    );
    assert!(d.set_recipient_active(mail, false).await.unwrap());
    assert!(
        !d.set_recipient_active(council + mail + 100, false)
            .await
            .unwrap()
    );
    let list = d.recipients().await.unwrap();
    let names: Vec<(&str, bool)> = list.iter().map(|r| (r.name.as_str(), r.active)).collect();
    assert_eq!(
        names,
        [("County council", true), ("Mail house", false)],
        "active first"
    );
    assert_eq!(list[0].basis, LawfulBasis::LegalObligation);
    assert_eq!(list[0].purpose, "County council delivers our services");
    assert_eq!(list[1].basis, LawfulBasis::LegitimateInterests);
}

pub async fn a_disclosure_keeps_its_people_and_only_an_active_recipient(s: &Stores) {
    let d = &s.disclosures;
    let ids = people(s, 3).await;
    let mail = d
        .add_recipient(&draft("Mail house", LawfulBasis::Consent), T0)
        .await
        .unwrap();
    let old = d
        .add_recipient(&draft("Old printer", LawfulBasis::Consent), T0)
        .await
        .unwrap();
    d.set_recipient_active(old, false).await.unwrap();
    for refused in [
        ForWhom::Recipient(old),
        ForWhom::Recipient(old + mail + 100),
    ] {
        assert!(matches!(
            d.record_disclosure(&disclosure(refused, ids.clone())).await,
            Err(StoreError::Refused(_))
        ));
    }
    assert!(
        d.latest_disclosures(10).await.unwrap().is_empty(),
        "nothing written"
    );
    // The same person twice counts once; one with no record (erased since) counts, unlinked.
    let with_repeat = vec![ids[2], ids[0], ids[2], ids[2] + 1000];
    let first = d
        .record_disclosure(&disclosure(ForWhom::Recipient(mail), with_repeat))
        .await
        .unwrap();
    let second = d
        .record_disclosure(&disclosure(
            ForWhom::Internal("a mailing check".into()),
            vec![ids[1]],
        ))
        .await
        .unwrap();
    let latest = d.latest_disclosures(10).await.unwrap();
    assert_eq!(
        latest.iter().map(|x| x.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(latest[1].recipient, Some(mail));
    assert_eq!(latest[1].people_count, 3);
    assert_eq!(latest[1].actor, Some(7));
    assert_eq!(latest[1].kind, "people");
    assert_eq!(latest[1].at, T0 + Duration::hours(1));
    assert_eq!(latest[0].recipient, None);
    assert_eq!(latest[0].internal_purpose, "a mailing check");
    assert_eq!(
        latest[1].internal_purpose, "",
        "a recipient's purpose is in the register"
    );
    let mut expected = vec![ids[0], ids[2]];
    expected.sort_unstable();
    assert_eq!(d.disclosed_people(first).await.unwrap(), expected);
    assert_eq!(d.latest_disclosures(1).await.unwrap().len(), 1);

    // The person's export holds the link; erasure removes it and the count stays.
    let export = s.subjects.export_person(ids[0]).await.unwrap().unwrap();
    assert!(export.to_string().contains("disclosure_people"), "{export}");
    assert!(s.subjects.erase_person(ids[0]).await.unwrap());
    assert_eq!(d.disclosed_people(first).await.unwrap(), [ids[2]]);
    assert_eq!(d.latest_disclosures(10).await.unwrap()[1].people_count, 3);
}

pub async fn a_persons_disclosures_are_theirs_alone_oldest_first(s: &Stores) {
    let d = &s.disclosures;
    let ids = people(s, 3).await;
    let mail = d
        .add_recipient(&draft("Mail house", LawfulBasis::Consent), T0)
        .await
        .unwrap();
    let both = d
        .record_disclosure(&disclosure(ForWhom::Recipient(mail), vec![ids[0], ids[1]]))
        .await
        .unwrap();
    let mut later = disclosure(ForWhom::Internal("a list check".into()), vec![ids[0]]);
    later.actor = None;
    later.kind = "form-responses".into();
    later.at = T0 + Duration::hours(2);
    let own = d.record_disclosure(&later).await.unwrap();
    d.record_disclosure(&disclosure(ForWhom::Internal("other".into()), vec![ids[2]]))
        .await
        .unwrap();

    let first = d.disclosures_about(ids[0]).await.unwrap();
    assert_eq!(first.iter().map(|x| x.id).collect::<Vec<_>>(), [both, own]);
    assert_eq!(first[0].recipient, Some(mail));
    assert_eq!(first[0].people_count, 2);
    assert_eq!(first[1].actor, None, "from the command line");
    assert_eq!(first[1].internal_purpose, "a list check");
    assert_eq!(first[1].kind, "form-responses");
    assert_eq!(first[1].at, T0 + Duration::hours(2));
    let second = d.disclosures_about(ids[1]).await.unwrap();
    assert_eq!(second.iter().map(|x| x.id).collect::<Vec<_>>(), [both]);
    assert!(d.disclosures_about(ids[2] + 1000).await.unwrap().is_empty());
    // Erased, they have none.
    assert!(s.subjects.erase_person(ids[1]).await.unwrap());
    assert!(d.disclosures_about(ids[1]).await.unwrap().is_empty());
}
