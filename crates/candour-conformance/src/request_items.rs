//! What staff add to a case's bundle and leave out of it: files kept with their content,
//! withheld items unique per case, every change counted on the case's item version.

use candour_core::people::Source;
use candour_core::requests::Kind;
use candour_core::requests::items::{
    FILES_TABLE, Ground, Item, ItemVersions, NewRequestFile, NewWithholding,
};
use candour_core::store::{StoreError, Stores};
use time::Duration;

use crate::T0;
use crate::requests::verified;

async fn access_case(s: &Stores, address: &str) -> (i64, i64) {
    let person = s
        .people
        .ensure_person(&crate::email(address), Source::Request, T0)
        .await
        .unwrap();
    let id = s
        .requests
        .create_request(&verified(Kind::Access, address, Some(person.id)))
        .await
        .unwrap();
    (id, person.id)
}

fn file(request: i64, name: &str, content: &[u8]) -> NewRequestFile {
    NewRequestFile {
        request,
        name: name.to_owned(),
        content: content.to_vec(),
        by: 9,
        at: T0 + Duration::hours(1),
    }
}

fn withheld(request: i64, table: &str, row: Option<i64>, ground: Ground) -> NewWithholding {
    NewWithholding {
        request,
        item: Item {
            table: table.to_owned(),
            row,
        },
        ground,
        note: "Names a neighbour".to_owned(),
        by: 9,
        at: T0 + Duration::hours(2),
    }
}

/// The pieces a file was handed over in.
#[derive(Default)]
struct Pieces {
    got: Vec<Vec<u8>>,
    stop_after: Option<usize>,
}

#[async_trait::async_trait]
impl candour_core::store::PieceSink for Pieces {
    async fn piece(&mut self, bytes: Vec<u8>) -> bool {
        self.got.push(bytes);
        self.stop_after != Some(self.got.len())
    }
}

pub async fn added_files_keep_their_bytes_and_stay_with_their_case(s: &Stores) {
    let (ash, _) = access_case(s, "ash@example.org").await;
    let (bo, _) = access_case(s, "bo@example.org").await;
    let items = &s.request_items;
    assert_eq!(
        items.item_versions(ash).await.unwrap(),
        ItemVersions::default()
    );
    // Every byte value, so no backend may treat the content as text.
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    let letter = items
        .add_request_file(&file(ash, "letter.pdf", &bytes))
        .await
        .unwrap();
    let scan = items
        .add_request_file(&file(ash, "scan.png", b"PNG"))
        .await
        .unwrap();
    let theirs = items
        .add_request_file(&file(bo, "other.txt", b"x"))
        .await
        .unwrap();
    let listed = items.request_files(ash).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|f| (f.id, f.name.as_str(), f.bytes))
            .collect::<Vec<_>>(),
        [(letter, "letter.pdf", 259), (scan, "scan.png", 3)]
    );
    assert_eq!((listed[0].by, listed[0].at), (9, T0 + Duration::hours(1)));
    assert_eq!(
        items.request_file_content(ash, letter).await.unwrap(),
        Some(bytes.clone())
    );
    // In pieces on one connection: the last piece short.
    let mut pieces = Pieces::default();
    assert!(
        items
            .request_file_pieces(ash, letter, 100, &mut pieces)
            .await
            .unwrap()
    );
    assert_eq!(
        pieces.got.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 59]
    );
    assert_eq!(pieces.got.concat(), bytes);
    // A file of a whole number of pieces ends without an empty one; a sink that stops is
    // handed nothing more.
    let mut pieces = Pieces::default();
    assert!(
        items
            .request_file_pieces(ash, scan, 3, &mut pieces)
            .await
            .unwrap()
    );
    assert_eq!(pieces.got, [b"PNG".to_vec()]);
    let mut pieces = Pieces {
        stop_after: Some(1),
        ..Pieces::default()
    };
    assert!(
        items
            .request_file_pieces(ash, letter, 10, &mut pieces)
            .await
            .unwrap()
    );
    assert_eq!(pieces.got.len(), 1);
    // Another case's file is not this case's.
    assert_eq!(items.request_file_content(ash, theirs).await.unwrap(), None);
    let mut pieces = Pieces::default();
    assert!(
        !items
            .request_file_pieces(ash, theirs, 10, &mut pieces)
            .await
            .unwrap()
    );
    assert!(pieces.got.is_empty());
    assert!(!items.remove_request_file(ash, theirs).await.unwrap());
    assert_eq!(
        items.item_versions(ash).await.unwrap(),
        ItemVersions {
            current: 2,
            built: None
        }
    );

    // Removing a file takes its withholding with it.
    items
        .withhold(&withheld(ash, FILES_TABLE, Some(scan), Ground::References))
        .await
        .unwrap();
    assert!(items.remove_request_file(ash, scan).await.unwrap());
    assert!(!items.remove_request_file(ash, scan).await.unwrap());
    assert_eq!(items.request_file_content(ash, scan).await.unwrap(), None);
    assert!(items.withholdings(ash).await.unwrap().is_empty());
    assert_eq!(items.item_versions(ash).await.unwrap().current, 4);
    assert_eq!(items.request_files(bo).await.unwrap().len(), 1);

    // A case with no person has no bundle to add to.
    let nobody = s
        .requests
        .create_request(&verified(Kind::Access, "nobody@example.org", None))
        .await
        .unwrap();
    assert!(matches!(
        items.add_request_file(&file(nobody, "a.txt", b"a")).await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(items.item_versions(nobody).await.unwrap().current, 0);
}

pub async fn a_withheld_item_is_kept_once_and_a_build_records_the_version(s: &Stores) {
    let (ash, _) = access_case(s, "ash@example.org").await;
    let (bo, _) = access_case(s, "bo@example.org").await;
    let items = &s.request_items;
    let whole = items
        .withhold(&withheld(ash, "form_responses", None, Ground::Crime))
        .await
        .unwrap();
    let row = items
        .withhold(&withheld(
            ash,
            "consent_events",
            Some(12),
            Ground::OtherPerson,
        ))
        .await
        .unwrap();
    // The same item twice is a duplicate; another row, or another case, is not.
    assert!(matches!(
        items
            .withhold(&withheld(ash, "consent_events", Some(12), Ground::Other))
            .await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        items
            .withhold(&withheld(ash, "form_responses", None, Ground::Other))
            .await,
        Err(StoreError::Duplicate(_))
    ));
    items
        .withhold(&withheld(
            ash,
            "consent_events",
            Some(13),
            Ground::OtherPerson,
        ))
        .await
        .unwrap();
    items
        .withhold(&withheld(
            bo,
            "consent_events",
            Some(12),
            Ground::OtherPerson,
        ))
        .await
        .unwrap();
    let list = items.withholdings(ash).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].id, whole);
    assert_eq!(
        list[0].item,
        Item {
            table: "form_responses".into(),
            row: None
        }
    );
    assert_eq!(list[1].id, row);
    assert_eq!(
        (
            list[1].ground.as_str(),
            list[1].note.as_str(),
            list[1].by,
            list[1].at
        ),
        (
            "other-person",
            "Names a neighbour",
            9,
            T0 + Duration::hours(2)
        )
    );
    let v = items.item_versions(ash).await.unwrap();
    assert_eq!(
        v,
        ItemVersions {
            current: 3,
            built: None
        }
    );
    assert!(v.stale());

    // A build records the version it saw; a later change makes it stale again.
    items.items_built(ash, 3).await.unwrap();
    assert!(!items.item_versions(ash).await.unwrap().stale());
    assert!(
        !items
            .lift_withholding(ash, list[2].id + 1000)
            .await
            .unwrap()
    );
    assert!(!items.lift_withholding(bo, row).await.unwrap());
    assert!(items.lift_withholding(ash, row).await.unwrap());
    assert!(!items.lift_withholding(ash, row).await.unwrap());
    assert_eq!(
        items.item_versions(ash).await.unwrap(),
        ItemVersions {
            current: 4,
            built: Some(3)
        }
    );
    assert_eq!(items.withholdings(ash).await.unwrap().len(), 2);
    assert_eq!(items.withholdings(bo).await.unwrap().len(), 1);
    // A case built before any change has version 0 recorded: not stale.
    let (cy, _) = access_case(s, "cy@example.org").await;
    items.items_built(cy, 0).await.unwrap();
    assert!(!items.item_versions(cy).await.unwrap().stale());
}
