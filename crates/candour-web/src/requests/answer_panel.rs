//! What the case page shows of a request's answer: the bundle built for it, its release, the
//! files added to it and the items withheld from it, and why a closed case's answer can no
//! longer change. The case page (`console.rs`) draws these; the answer's forms (`release.rs`,
//! `items.rs`) use the same words when they refuse a change.

use candour_core::requests::answer::{self, NotYet};
use candour_core::requests::items::{self, Ground};
use candour_core::requests::{Case, Status};
use candour_core::uk_time;

use super::size_words;
use crate::AppState;
use crate::kit::error::AppError;

/// Why a closed case's answer cannot change, as the case page says it; `built` is whether
/// a bundle was built for it.
pub(crate) fn locked_words(status: Status, built: bool) -> &'static str {
    if status == Status::Refused {
        "This request has been refused, so nothing can be added to or withheld from an answer."
    } else if built {
        "This request has been answered, so its answer is fixed: the files and withheld items \
         stay as they were when it was released and the bundle cannot be built again, so the \
         case keeps a true record of what the person was sent. You can still send a new link to \
         the same bundle. If more of their data comes to light, answer it as a new request."
    } else {
        "This request has been answered without a bundle, so its answer is fixed: none can be \
         built now and nothing can be added to or withheld from it, so the case keeps a true \
         record of how it was answered. If more of their data comes to light, answer it as a \
         new request."
    }
}

/// What the case page shows of the answer.
pub(crate) struct Panel {
    /// Why no bundle can be built now; `None` when one can.
    pub not_yet: Option<&'static str>,
    pub built: Option<String>,
    pub size: String,
    pub rows: i64,
    pub released: Option<String>,
    pub expires: Option<String>,
    pub downloaded: Option<String>,
    /// A bundle exists and the case is open or answered: it can be (re)released.
    pub may_release: bool,
    /// The recipients a bundle may be built for (building it is an export).
    pub export_for: Vec<candour_core::disclosures::Recipient>,
    /// The files or withheld items changed after the bundle was built.
    pub stale: bool,
    /// The added files and withheld items, when a bundle can be built for the case or the
    /// case is closed (then shown as they stand, without the forms that change them).
    pub items: Option<ItemsPanel>,
    /// Why the answer can no longer change: the case is answered or refused.
    pub locked: Option<&'static str>,
}

impl Panel {
    pub(crate) async fn of(state: &AppState, case: &Case) -> Result<Option<Panel>, AppError> {
        if !matches!(
            case.kind,
            candour_core::requests::Kind::Access | candour_core::requests::Kind::Portability
        ) {
            return Ok(None);
        }
        let answer = state.stores().answers.answer(case.id).await?;
        let not_yet = answer::bundle_for(case).err().map(NotYet::words);
        let export_for = crate::disclosures::export::choices(state).await?;
        let locked = (!case.status.is_open()).then(|| locked_words(case.status, answer.is_some()));
        let items = if not_yet.is_none() || locked.is_some() {
            Some(ItemsPanel::of(state, case.id).await?)
        } else {
            None
        };
        let stale = state
            .stores()
            .request_items
            .item_versions(case.id)
            .await?
            .stale();
        let when = |t: Option<time::OffsetDateTime>| t.map(uk_time::readable_uk);
        Ok(Some(match answer {
            None => Panel {
                not_yet,
                built: None,
                size: String::new(),
                rows: 0,
                released: None,
                expires: None,
                downloaded: None,
                may_release: false,
                export_for,
                stale: false,
                items,
                locked,
            },
            Some(a) => Panel {
                not_yet,
                built: Some(uk_time::readable_uk(a.built_at)),
                size: size_words(a.bytes),
                rows: a.rows,
                released: when(a.released_at),
                expires: when(a.link_expires_at),
                downloaded: when(a.downloaded_at),
                may_release: may_release(case),
                export_for,
                stale,
                items,
                locked,
            },
        }))
    }
}

/// Released while the case is open (which answers it), or again once answered.
pub(crate) fn may_release(case: &Case) -> bool {
    case.status == Status::Answered || case.status.is_open()
}

/// What the case page shows of the added files and withheld items.
pub(crate) struct ItemsPanel {
    pub files: Vec<(i64, String, String)>,
    /// Id, item, ground, note.
    pub withheld: Vec<(i64, String, &'static str, String)>,
    /// The kinds an item may be withheld from: the table and what it holds.
    pub tables: Vec<(&'static str, &'static str)>,
    pub grounds: Vec<(&'static str, &'static str)>,
    pub limit_mib: u32,
}

impl ItemsPanel {
    pub(crate) async fn of(state: &AppState, id: i64) -> Result<ItemsPanel, AppError> {
        let stores = state.stores();
        let files = stores
            .request_items
            .request_files(id)
            .await?
            .into_iter()
            .map(|f| (f.id, f.name, size_words(f.bytes)))
            .collect();
        let withheld = stores
            .request_items
            .withholdings(id)
            .await?
            .into_iter()
            .map(|w| {
                let ground = Ground::parse(&w.ground).map_or("(unknown ground)", Ground::short);
                (w.id, w.item.describe(), ground, w.note)
            })
            .collect();
        Ok(ItemsPanel {
            files,
            withheld,
            tables: candour_core::datamap::PERSONAL
                .iter()
                .filter(|m| m.table != items::WITHHELD_TABLE)
                .map(|m| (m.table, m.holds))
                .collect(),
            grounds: Ground::ALL.iter().map(|g| (g.code(), g.short())).collect(),
            limit_mib: state.config().requests.file_limit_mib,
        })
    }
}
