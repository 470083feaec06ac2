//! What of a request the statistics read: whether it is counted at all, the referring
//! site's host and the campaign tags. Everything else of the request is left alone.

use super::clip;

/// Paths never counted: the console, files, machine endpoints, the statistics' own routes,
/// campaign tracking and redirects.
pub const NOT_COUNTED: [&str; 10] = [
    "/admin",
    "/assets/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/statistics",
    "/t/",
    "/share/",
    "/favicon.ico",
];

/// The parts of a request that decide whether it is counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// `Sec-Purpose`, `Purpose` and `X-Moz`: how browsers mark a prefetch or prerender.
    pub sec_purpose: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub x_moz: Option<&'a str>,
    /// `Sec-GPC: 1` or `DNT: 1`: the browser objects for the visitor.
    pub browser_objects: bool,
    /// The visitor turned statistics off for this browser (the objection cookie).
    pub objected: bool,
}

/// Why a request is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a `GET`.
    Method,
    /// A path in [`NOT_COUNTED`].
    Route,
    /// Fetched ahead of a possible visit, not seen by anyone yet.
    Prefetch,
    /// The visitor objects (the objection cookie, `Sec-GPC` or `DNT`).
    Objection,
}

fn says_prefetch(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("prefetch") || v.contains("prerender") || v.contains("preview")
    })
}

/// Whether the request is left out, and why; `None` when it may be counted (its answer must
/// still be a successful page).
pub fn skip(a: &Asked<'_>) -> Option<Skip> {
    if a.method != "GET" {
        return Some(Skip::Method);
    }
    if NOT_COUNTED
        .iter()
        .any(|p| a.path.starts_with(p) && (p.ends_with('/') || rest_is_boundary(a.path, p)))
    {
        return Some(Skip::Route);
    }
    if says_prefetch(a.sec_purpose) || says_prefetch(a.purpose) || says_prefetch(a.x_moz) {
        return Some(Skip::Prefetch);
    }
    if a.objected || a.browser_objects {
        return Some(Skip::Objection);
    }
    None
}

/// `/admin` covers `/admin` and `/admin/…`, not `/administration`.
fn rest_is_boundary(path: &str, prefix: &str) -> bool {
    matches!(path[prefix.len()..].chars().next(), None | Some('/' | '.'))
}

/// The host of the page that linked here, lower-case; `None` when there is none, it is not
/// a web address, or it is one of `own_hosts` (a visitor moving within the site).
pub fn referrer_host(referer: Option<&str>, own_hosts: &[&str]) -> Option<String> {
    let url = url::Url::parse(referer?).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || own_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return None;
    }
    Some(clip(&host))
}

/// The campaign tags of a page's address (`utm_source`, `utm_medium`, `utm_campaign`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignTags {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

impl CampaignTags {
    pub fn of_query(query: Option<&str>) -> CampaignTags {
        let mut tags = CampaignTags::default();
        let Some(query) = query else {
            return tags;
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = clip(v.trim());
            if value.is_empty() {
                continue;
            }
            let slot = match k.as_ref() {
                "utm_source" => &mut tags.source,
                "utm_medium" => &mut tags.medium,
                "utm_campaign" => &mut tags.campaign,
                _ => continue,
            };
            slot.get_or_insert(value.to_ascii_lowercase());
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(path: &str) -> Asked<'_> {
        Asked {
            method: "GET",
            path,
            ..Asked::default()
        }
    }

    #[test]
    fn pages_are_counted_and_machine_routes_are_not() {
        for counted in ["/", "/news", "/polls/1", "/administration", "/privacy"] {
            assert_eq!(skip(&page(counted)), None, "{counted}");
        }
        for route in [
            "/admin",
            "/admin/polls",
            "/assets/candour.css",
            "/healthz",
            "/metrics",
            "/statistics/object",
            "/t/o/abc",
            "/favicon.ico",
        ] {
            assert_eq!(skip(&page(route)), Some(Skip::Route), "{route}");
        }
        let post = Asked {
            method: "POST",
            ..page("/polls/1")
        };
        assert_eq!(skip(&post), Some(Skip::Method));
    }

    #[test]
    fn prefetches_and_objections_are_not_counted() {
        let prefetch = Asked {
            sec_purpose: Some("prefetch;prerender"),
            ..page("/")
        };
        assert_eq!(skip(&prefetch), Some(Skip::Prefetch));
        let old = Asked {
            purpose: Some("prefetch"),
            ..page("/")
        };
        assert_eq!(skip(&old), Some(Skip::Prefetch));
        let gpc = Asked {
            browser_objects: true,
            ..page("/")
        };
        assert_eq!(skip(&gpc), Some(Skip::Objection));
        let cookie = Asked {
            objected: true,
            ..page("/")
        };
        assert_eq!(skip(&cookie), Some(Skip::Objection));
    }

    #[test]
    fn referrers_are_reduced_to_other_sites_hosts() {
        let own = ["www.testshire.example"];
        assert_eq!(
            referrer_host(Some("https://News.Example.org/story?id=7#x"), &own),
            Some("news.example.org".to_owned())
        );
        assert_eq!(
            referrer_host(Some("https://www.testshire.example/about"), &own),
            None
        );
        assert_eq!(referrer_host(Some("android-app://com.x"), &own), None);
        assert_eq!(referrer_host(Some("not a url"), &own), None);
        assert_eq!(referrer_host(None, &own), None);
    }

    #[test]
    fn campaign_tags_are_read_from_the_query() {
        let t = CampaignTags::of_query(Some(
            "a=1&utm_source=Newsletter&utm_medium=email&utm_campaign=road%20safety&utm_source=x",
        ));
        assert_eq!(t.source.as_deref(), Some("newsletter"));
        assert_eq!(t.medium.as_deref(), Some("email"));
        assert_eq!(t.campaign.as_deref(), Some("road safety"));
        assert_eq!(CampaignTags::of_query(None), CampaignTags::default());
    }
}
