//! The daily digest: once a day, from the configured hour on UK clocks, each privacy officer
//! (every member of staff whose role may work on requests) is emailed the requests that are
//! overdue or due within seven working days. Nothing is sent on a day with nothing to say;
//! the day is claimed in the database first, so several instances send it once.

use candour_core::account::Permission;
use candour_core::requests::report::{DIGEST_WORKING_DAYS, Digest, DigestLine};
use candour_core::uk_time;
use candour_mail::Email;

use super::{holidays, today, uk_date};
use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::mail::{org, send_later};

fn lines(out: &mut String, heading: &str, cases: &[DigestLine], base: &str) {
    if cases.is_empty() {
        return;
    }
    out.push_str(&format!("{heading} ({}):\n\n", cases.len()));
    for l in cases {
        out.push_str(&format!(
            "- Request {}, {}: due {}\n  {base}/admin/requests/{}\n",
            l.id,
            l.kind.label(),
            uk_date(l.due),
            l.id
        ));
    }
    out.push('\n');
}

impl AppState {
    /// Send today's digest if it is due: returns how many privacy officers it went to (0
    /// when it is not yet the hour, it was already sent today, or there is nothing to say).
    /// The background worker calls this every few minutes.
    pub async fn send_request_digest(&self) -> Result<usize, AppError> {
        let settings = &self.config().requests;
        if !settings.enabled || !settings.daily_digest {
            return Ok(0);
        }
        let now = self.now();
        if u32::from(uk_time::uk_local(now).hour()) < settings.digest_hour {
            return Ok(0);
        }
        let day = today(self);
        let open = self.stores().requests.open_requests().await?;
        let digest = Digest::of(&open, day, holidays(self));
        if digest.is_empty() {
            return Ok(0);
        }
        let responders = &self.config().people.response_readers;
        let officers: Vec<_> = self
            .stores()
            .accounts
            .staff()
            .await?
            .into_iter()
            .filter(|a| {
                a.email_verified
                    && a.role
                        .is_some_and(|r| r.may(Permission::ManageRequests, responders))
            })
            .collect();
        if officers.is_empty()
            || !self
                .stores()
                .request_digests
                .claim_digest_day(day, now)
                .await?
        {
            return Ok(0);
        }
        let mut text = format!(
            "Requests about personal data at {org} that need attention today, {today}.\n\n",
            org = org(self),
            today = uk_date(day),
        );
        let base = self.link_base();
        lines(&mut text, "Overdue", &digest.overdue, &base);
        lines(
            &mut text,
            &format!("Due within {DIGEST_WORKING_DAYS} working days"),
            &digest.due_soon,
            &base,
        );
        text.push_str(&format!("The queue: {base}/admin/requests\n"));
        let subject = format!(
            "Requests about data: {} overdue, {} due soon",
            digest.overdue.len(),
            digest.due_soon.len()
        );
        for officer in &officers {
            send_later(
                self,
                Email {
                    to: officer.email.clone(),
                    subject: subject.clone(),
                    text: text.clone(),
                },
            );
        }
        tracing::info!(
            officers = officers.len(),
            "Sent the digest of due requests."
        );
        Ok(officers.len())
    }
}
