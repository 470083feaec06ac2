//! Polls: a question, its options, when it is open, who sees the results, and the rules that
//! make one vote per person.

use serde::Serialize;
use time::OffsetDateTime;

use crate::account::plain_text;
use crate::fields::FieldErrors;

pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_QUESTION_CHARS: usize = 300;
pub const MAX_OPTION_CHARS: usize = 200;

/// Who may see the results, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultsShown {
    /// To anyone who has voted, and to everyone once the poll closes.
    AfterVoting,
    /// To everyone once the poll closes.
    AfterClose,
    /// Only in the admin console.
    StaffOnly,
}

impl ResultsShown {
    pub const ALL: [ResultsShown; 3] = [
        ResultsShown::AfterVoting,
        ResultsShown::AfterClose,
        ResultsShown::StaffOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResultsShown::AfterVoting => "after-voting",
            ResultsShown::AfterClose => "after-close",
            ResultsShown::StaffOnly => "staff-only",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ResultsShown::AfterVoting => {
                "To people who have voted, and to everyone after it closes"
            }
            ResultsShown::AfterClose => "To everyone after it closes",
            ResultsShown::StaffOnly => "To staff only",
        }
    }

    pub fn parse(s: &str) -> Option<ResultsShown> {
        ResultsShown::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// In a poll open to anyone, votes from one browser on one connection within the same
/// window of this many seconds are taken as one person pressing twice (a double click, a
/// second tab), not as two people.
pub const REPEAT_WINDOW_SECONDS: i64 = 30;

/// How a poll keeps to one vote per person, without following anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Voters {
    /// Anyone may vote, once per browser: the `PollTimeout-<id>` cookie marks a browser that
    /// voted, and a ceiling of votes per internet address per day (`polls.votes_per_address`)
    /// stops one machine stuffing the ballot. People who share an address (an office, a
    /// library, a mobile network) each vote; someone who clears the cookie can vote again,
    /// up to the ceiling.
    #[default]
    PerBrowser,
    /// Only signed-in people vote, once per account for the whole poll: strict, but only
    /// people with an account can take part.
    PerAccount,
}

impl Voters {
    pub const ALL: [Voters; 2] = [Voters::PerBrowser, Voters::PerAccount];

    pub fn as_str(self) -> &'static str {
        match self {
            Voters::PerBrowser => "per-browser",
            Voters::PerAccount => "per-account",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Voters::PerBrowser => "Anyone, once per browser",
            Voters::PerAccount => "Signed-in people only, once per account",
        }
    }

    /// The trade-off, as the console explains it.
    pub fn explanation(self) -> &'static str {
        match self {
            Voters::PerBrowser => {
                "Anyone can vote without an account. A cookie marks a browser that has voted, \
                 and a ceiling on votes from one internet address a day stops one computer \
                 filling the poll, while people who share a connection (an office, a library, \
                 a mobile network) can each vote. Someone who clears their cookies can vote \
                 again, up to that ceiling."
            }
            Voters::PerAccount => {
                "Only people signed in to an account can vote, once each for the whole poll. \
                 Repeat votes are impossible, but people without an account cannot take part."
            }
        }
    }

    pub fn parse(s: &str) -> Option<Voters> {
        Voters::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A poll as staff define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollDraft {
    pub question: String,
    pub options: Vec<String>,
    pub opens_at: Option<OffsetDateTime>,
    pub closes_at: Option<OffsetDateTime>,
    pub results: ResultsShown,
    /// Per browser unless set otherwise after parsing.
    pub voters: Voters,
}

impl PollDraft {
    /// Check what staff typed; errors name the field (`question`, `options`, `closes_at`).
    pub fn parse(
        question: &str,
        options: &[&str],
        opens_at: Option<OffsetDateTime>,
        closes_at: Option<OffsetDateTime>,
        results: ResultsShown,
    ) -> Result<PollDraft, FieldErrors> {
        let mut errors = FieldErrors::new();
        let question = match plain_text(question, MAX_QUESTION_CHARS, "The question") {
            Ok(q) if q.is_empty() => {
                errors.add("question", "Enter the question");
                q
            }
            Ok(q) => q,
            Err(e) => {
                errors.add("question", e.0);
                String::new()
            }
        };
        let mut cleaned = Vec::new();
        for o in options {
            match plain_text(o, MAX_OPTION_CHARS, "Each option") {
                Ok(o) if o.is_empty() => {}
                Ok(o) => cleaned.push(o),
                Err(e) => errors.add("options", e.0),
            }
        }
        if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&cleaned.len()) {
            errors.add(
                "options",
                format!("Give between {MIN_OPTIONS} and {MAX_OPTIONS} options, one per line"),
            );
        }
        let mut seen = cleaned.clone();
        seen.sort_by_key(|o| o.to_lowercase());
        seen.dedup_by_key(|o| o.to_lowercase());
        if seen.len() != cleaned.len() {
            errors.add("options", "Each option must be different");
        }
        if let (Some(o), Some(c)) = (opens_at, closes_at)
            && c <= o
        {
            errors.add(
                "closes_at",
                "The closing time must be after the opening time",
            );
        }
        if errors.is_empty() {
            Ok(PollDraft {
                question,
                options: cleaned,
                opens_at,
                closes_at,
                results,
                voters: Voters::default(),
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollOption {
    pub id: i64,
    pub label: String,
    pub votes: u64,
}

/// A stored poll with its options and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    pub id: i64,
    pub question: String,
    pub options: Vec<PollOption>,
    pub opens_at: Option<OffsetDateTime>,
    pub closes_at: Option<OffsetDateTime>,
    /// Set when staff close the poll by hand.
    pub closed_at: Option<OffsetDateTime>,
    pub results: ResultsShown,
    pub voters: Voters,
    pub created_at: OffsetDateTime,
}

/// Where a poll stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    NotYetOpen,
    Open,
    Closed,
}

impl Poll {
    pub fn phase(&self, now: OffsetDateTime) -> Phase {
        let closed =
            self.closed_at.is_some_and(|c| c <= now) || self.closes_at.is_some_and(|c| c <= now);
        if closed {
            Phase::Closed
        } else if self.opens_at.is_some_and(|o| o > now) {
            Phase::NotYetOpen
        } else {
            Phase::Open
        }
    }

    pub fn total(&self) -> u64 {
        self.options.iter().map(|o| o.votes).sum()
    }

    pub fn has_votes(&self) -> bool {
        self.total() > 0
    }

    /// Whether a visitor (not staff) may see the counts now.
    pub fn results_visible(&self, now: OffsetDateTime, has_voted: bool) -> bool {
        match self.results {
            ResultsShown::StaffOnly => false,
            ResultsShown::AfterClose => self.phase(now) == Phase::Closed,
            ResultsShown::AfterVoting => has_voted || self.phase(now) == Phase::Closed,
        }
    }

    pub fn option(&self, id: i64) -> Option<&PollOption> {
        self.options.iter().find(|o| o.id == id)
    }
}

/// The day a vote counts in: anonymous votes are de-duplicated per poll per day, under a
/// salt that is replaced each day, so yesterday's hashes cannot be linked to today's.
pub fn vote_day(now: OffsetDateTime) -> String {
    let d = now.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Why an edit to a poll's options is refused once anyone has voted: a vote was for an option
/// as it was worded then.
pub const OPTIONS_LOCKED: &str = "People have voted, so the options can no longer change. You can close the poll and start a new one";

/// Whether a poll with `votes` votes may have its options replaced: `Some(reason)` refuses.
pub fn options_locked(votes: i64) -> Option<String> {
    (votes > 0).then(|| OPTIONS_LOCKED.to_owned())
}

/// Counts shown to the public: a count below `threshold` (but above zero) is hidden, so
/// small numbers cannot single anyone out.
pub fn shown_count(votes: u64, threshold: u64) -> Option<u64> {
    (votes == 0 || votes >= threshold).then_some(votes)
}

/// One vote, as the group commit hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVote {
    pub poll: i64,
    pub option: i64,
    /// The signed-in voter, de-duplicated for the whole poll.
    pub account: Option<i64>,
    /// For anonymous voters: a keyed hash of (poll, address, browser) under the day's salt.
    pub voter_hash: Option<[u8; 32]>,
    /// The day the vote counts in (`YYYY-MM-DD`), for anonymous de-duplication.
    pub day: String,
    pub at: OffsetDateTime,
}

/// Who a vote is de-duplicated by: an account within a poll, or an anonymous voter's hash
/// within a poll and a day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VoterKey {
    Account {
        poll: i64,
        account: i64,
    },
    Anonymous {
        poll: i64,
        hash: [u8; 32],
        day: String,
    },
}

impl NewVote {
    /// `None` for a vote with neither an account nor a hash (which no store accepts).
    pub fn voter_key(&self) -> Option<VoterKey> {
        match (self.account, self.voter_hash) {
            (Some(account), _) => Some(VoterKey::Account {
                poll: self.poll,
                account,
            }),
            (None, Some(hash)) => Some(VoterKey::Anonymous {
                poll: self.poll,
                hash,
                day: self.day.clone(),
            }),
            (None, None) => None,
        }
    }
}

/// What happened to one vote of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteOutcome {
    Counted,
    /// This voter already voted in this poll (today, when anonymous).
    Duplicate,
    /// The poll or option does not exist, or the poll was closed by staff meanwhile.
    Refused,
}

/// A stored voter hash that is not 32 bytes long (the store reports it as corrupt data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("poll_votes.voter_hash")]
pub struct BadVoterHash;

impl VoterKey {
    /// The key of a stored vote, from its poll, account, voter hash and day; `None` for a
    /// vote whose account and hash are both gone.
    pub fn from_stored(
        poll: i64,
        account: Option<i64>,
        hash: Option<Vec<u8>>,
        day: String,
    ) -> Result<Option<VoterKey>, BadVoterHash> {
        Ok(match (account, hash) {
            (Some(account), _) => Some(VoterKey::Account { poll, account }),
            (None, Some(hash)) => Some(VoterKey::Anonymous {
                poll,
                hash: hash.try_into().map_err(|_| BadVoterHash)?,
                day,
            }),
            (None, None) => None,
        })
    }
}

/// The start of every store's `record_votes`: each voter's first vote in the batch (by
/// index), to be written; the outcomes so far, where a later vote of the same voter is a
/// repeat and everything else `Refused` until the store says otherwise.
pub fn first_votes(votes: &[NewVote]) -> (Vec<usize>, Vec<VoteOutcome>) {
    let mut outcomes = vec![VoteOutcome::Refused; votes.len()];
    let mut seen = std::collections::HashSet::new();
    let mut first = Vec::new();
    for (i, v) in votes.iter().enumerate() {
        if let Some(key) = v.voter_key() {
            if seen.insert(key) {
                first.push(i);
            } else {
                outcomes[i] = VoteOutcome::Duplicate;
            }
        }
    }
    (first, outcomes)
}

/// The end of it, for the votes of `first` not counted: a repeat of an earlier vote when the
/// option is an open one of the vote's own poll (`open` maps open options to their poll), and
/// refused otherwise.
pub fn settle_uncounted(
    votes: &[NewVote],
    first: &[usize],
    outcomes: &mut [VoteOutcome],
    open: &std::collections::BTreeMap<i64, i64>,
) {
    for &i in first {
        if outcomes[i] != VoteOutcome::Counted {
            outcomes[i] = if open.get(&votes[i].option) == Some(&votes[i].poll) {
                VoteOutcome::Duplicate
            } else {
                VoteOutcome::Refused
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use time::macros::datetime;

    fn vote(option: i64, account: Option<i64>, who: u8) -> NewVote {
        NewVote {
            poll: 1,
            option,
            account,
            voter_hash: account.is_none().then_some([who; 32]),
            day: "2026-03-01".to_owned(),
            at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_voters_later_votes_in_a_batch_are_repeats_and_the_rest_are_settled_by_the_store() {
        let votes = [
            vote(10, None, 1),
            vote(11, None, 1),
            vote(10, Some(7), 0),
            vote(11, Some(7), 0),
            vote(99, None, 2),
            vote(10, None, 3),
        ];
        let (first, mut outcomes) = first_votes(&votes);
        assert_eq!(first, [0, 2, 4, 5]);
        use VoteOutcome::*;
        assert_eq!(
            outcomes,
            [Refused, Duplicate, Refused, Duplicate, Refused, Refused]
        );
        // The store counted vote 0; vote 2 repeats an earlier one; option 99 is not open.
        outcomes[0] = Counted;
        let open = BTreeMap::from([(10, 1), (11, 1)]);
        settle_uncounted(&votes, &first, &mut outcomes, &open);
        assert_eq!(
            outcomes,
            [Counted, Duplicate, Duplicate, Duplicate, Refused, Duplicate]
        );
    }

    fn poll() -> Poll {
        Poll {
            id: 1,
            question: "Q".into(),
            options: vec![
                PollOption {
                    id: 1,
                    label: "A".into(),
                    votes: 3,
                },
                PollOption {
                    id: 2,
                    label: "B".into(),
                    votes: 1,
                },
            ],
            opens_at: Some(datetime!(2026-06-01 9:00 UTC)),
            closes_at: Some(datetime!(2026-06-08 9:00 UTC)),
            closed_at: None,
            results: ResultsShown::AfterVoting,
            voters: Voters::PerBrowser,
            created_at: datetime!(2026-05-01 9:00 UTC),
        }
    }

    #[test]
    fn voter_rules_round_trip_and_explain_themselves() {
        for v in Voters::ALL {
            assert_eq!(Voters::parse(v.as_str()), Some(v));
            assert!(!v.explanation().is_empty());
        }
        assert_eq!(Voters::parse("per-ip"), None);
        assert_eq!(Voters::default(), Voters::PerBrowser);
    }

    #[test]
    fn drafts_need_a_question_and_two_to_twenty_distinct_options() {
        let ok = PollDraft::parse(
            "Which day?",
            &["Mon", "", "Tue"],
            None,
            None,
            ResultsShown::AfterVoting,
        )
        .unwrap();
        assert_eq!(ok.options, ["Mon", "Tue"]);
        let errs =
            PollDraft::parse("", &["Only"], None, None, ResultsShown::AfterVoting).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["question", "options"]);
        assert!(PollDraft::parse("Q", &["a", "A"], None, None, ResultsShown::AfterVoting).is_err());
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(PollDraft::parse("Q", &many, None, None, ResultsShown::AfterVoting).is_err());
        assert!(
            PollDraft::parse(
                "Q\u{202E}",
                &["a", "b"],
                None,
                None,
                ResultsShown::AfterVoting
            )
            .is_err()
        );
        let t = datetime!(2026-01-01 0:00 UTC);
        let errs = PollDraft::parse(
            "Q",
            &["a", "b"],
            Some(t),
            Some(t),
            ResultsShown::AfterVoting,
        )
        .unwrap_err();
        assert_eq!(errs.first().unwrap().field, "closes_at");
    }

    #[test]
    fn phases_follow_the_times_and_a_manual_close() {
        let mut p = poll();
        assert_eq!(p.phase(datetime!(2026-06-01 8:59 UTC)), Phase::NotYetOpen);
        assert_eq!(p.phase(datetime!(2026-06-01 9:00 UTC)), Phase::Open);
        assert_eq!(p.phase(datetime!(2026-06-08 9:00 UTC)), Phase::Closed);
        p.closed_at = Some(datetime!(2026-06-02 9:00 UTC));
        assert_eq!(p.phase(datetime!(2026-06-03 9:00 UTC)), Phase::Closed);
    }

    #[test]
    fn results_are_shown_as_configured() {
        let mut p = poll();
        let open = datetime!(2026-06-02 9:00 UTC);
        let closed = datetime!(2026-06-09 9:00 UTC);
        assert!(!p.results_visible(open, false));
        assert!(p.results_visible(open, true));
        assert!(p.results_visible(closed, false));
        p.results = ResultsShown::AfterClose;
        assert!(!p.results_visible(open, true));
        assert!(p.results_visible(closed, false));
        p.results = ResultsShown::StaffOnly;
        assert!(!p.results_visible(closed, true));
    }

    #[test]
    fn days_and_thresholds() {
        assert_eq!(vote_day(datetime!(2026-06-02 23:59 UTC)), "2026-06-02");
        assert_eq!(options_locked(0), None);
        assert_eq!(options_locked(1).as_deref(), Some(OPTIONS_LOCKED));
        assert_eq!(shown_count(0, 5), Some(0));
        assert_eq!(shown_count(4, 5), None);
        assert_eq!(shown_count(5, 5), Some(5));
    }
}
