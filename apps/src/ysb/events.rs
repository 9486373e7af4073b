//! The Yahoo Streaming Benchmark's data: 100 campaigns of 10 ads each, and ad events
//! as JSON strings, generated deterministically from a sequence number; and the
//! benchmark's per-event work as plain functions (parse, filter, join), shared by the
//! engine's pipeline and the hand-written loop so that both do exactly the same work.

use neptune_support::rng::mix;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Campaigns.
pub const CAMPAIGNS: usize = 100;
/// Ads per campaign.
pub const ADS_PER_CAMPAIGN: usize = 10;

const AD_TYPES: [&str; 5] = ["banner", "modal", "sponsored-search", "mail", "mobile"];
const EVENT_TYPES: [&str; 3] = ["view", "click", "purchase"];

/// A UUID-shaped id (`8-4-4-4-12` hex digits) for a 128-bit value.
fn uuid(v: u128, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(HEX[((v >> (124 - 4 * i)) & 0xf) as usize] as char);
    }
}

fn id128(a: u64, b: u64) -> u128 {
    ((mix(a) as u128) << 64) | mix(b) as u128
}

/// The benchmark's fixed tables: every ad's id and the campaign it belongs to.
pub struct Ads {
    /// Ad ids as they appear in events, indexed by ad number.
    pub ids: Vec<String>,
    /// Ad id (parsed) → campaign number: the table the join reads.
    pub campaign_of: HashMap<u128, u32>,
}

impl Default for Ads {
    fn default() -> Ads {
        Ads::new()
    }
}

impl Ads {
    /// The 100 × 10 ads.
    pub fn new() -> Ads {
        let mut ids = Vec::new();
        let mut campaign_of = HashMap::new();
        for ad in 0..CAMPAIGNS * ADS_PER_CAMPAIGN {
            let id = id128(0xAD00 + ad as u64, 0xAD01 + ad as u64);
            let mut s = String::new();
            uuid(id, &mut s);
            ids.push(s);
            campaign_of.insert(id, (ad / ADS_PER_CAMPAIGN) as u32);
        }
        Ads { ids, campaign_of }
    }

    /// Event number `seq`, at event time `time_ms`, as the JSON line a producer sends.
    pub fn event(&self, seq: u64, time_ms: i64) -> String {
        let r = mix(seq ^ 0x5EED_0000);
        let mut s = String::with_capacity(260);
        s.push_str("{\"user_id\":\"");
        uuid(id128(r, seq), &mut s);
        s.push_str("\",\"page_id\":\"");
        uuid(id128(r ^ 1, seq ^ 2), &mut s);
        s.push_str("\",\"ad_id\":\"");
        s.push_str(&self.ids[(r % self.ids.len() as u64) as usize]);
        s.push_str("\",\"ad_type\":\"");
        s.push_str(AD_TYPES[((r >> 16) % 5) as usize]);
        s.push_str("\",\"event_type\":\"");
        s.push_str(EVENT_TYPES[((r >> 24) % 3) as usize]);
        let _ = write!(
            s,
            "\",\"event_time\":\"{time_ms}\",\"ip_address\":\"{}.{}.{}.{}\"}}",
            (r >> 32) as u8,
            (r >> 40) as u8,
            (r >> 48) as u8,
            (r >> 56) as u8
        );
        s
    }
}

/// An event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// An ad was seen (the events the benchmark counts).
    View,
    /// An ad was clicked.
    Click,
    /// A purchase followed.
    Purchase,
}

/// What the benchmark reads of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdEvent {
    /// The ad, as the 128 bits of its UUID.
    pub ad_id: u128,
    /// What happened.
    pub event_type: EventType,
    /// When, in ms since the Unix epoch.
    pub event_time: i64,
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    ad_id: &'a str,
    #[serde(borrow)]
    event_type: &'a str,
    #[serde(borrow)]
    event_time: &'a str,
}

/// A UUID's 32 hex digits as a number.
#[inline]
fn parse_uuid(s: &str) -> Option<u128> {
    let mut v: u128 = 0;
    let mut digits = 0;
    for b in s.bytes() {
        if b == b'-' {
            continue;
        }
        v = (v << 4) | (b as char).to_digit(16)? as u128;
        digits += 1;
    }
    (digits == 32).then_some(v)
}

/// Parses one JSON event (every field is read; the ones the benchmark ignores are
/// skipped by the parser). `None` for a malformed event.
#[inline]
pub fn parse(line: &str) -> Option<AdEvent> {
    let raw: RawEvent<'_> = serde_json::from_str(line).ok()?;
    let ad_id = parse_uuid(raw.ad_id)?;
    let event_type = match raw.event_type {
        "view" => EventType::View,
        "click" => EventType::Click,
        "purchase" => EventType::Purchase,
        _ => return None,
    };
    Some(AdEvent {
        ad_id,
        event_type,
        event_time: raw.event_time.parse().ok()?,
    })
}

/// The benchmark's filter.
#[inline]
pub fn is_view(e: &AdEvent) -> bool {
    e.event_type == EventType::View
}

/// The benchmark's join: (campaign, event time) for an event of a known ad.
#[inline]
pub fn join(campaign_of: &HashMap<u128, u32>, e: &AdEvent) -> Option<(u32, i64)> {
    campaign_of.get(&e.ad_id).map(|&c| (c, e.event_time))
}

/// Views per (window start, campaign), what both the engine and the loop count.
pub type Counts = BTreeMap<(i64, u32), u64>;

/// The same work as the engine's pipeline, by hand on one thread: parse, filter,
/// join, and count per campaign in tumbling event-time windows of `window_ms`,
/// emitting each window once the largest event time seen, minus `delay_ms`, passes its
/// end (and the rest at the end). Input arrives in the same micro-batches as the
/// engine's, and windows are checked after each, as the engine does.
pub fn single_thread(
    batches: &[Vec<String>],
    campaign_of: &HashMap<u128, u32>,
    window_ms: i64,
    delay_ms: i64,
) -> Counts {
    let mut open: BTreeMap<i64, HashMap<u32, u64>> = BTreeMap::new();
    let mut emitted = Counts::new();
    let mut max_time = i64::MIN;
    for batch in batches {
        for line in batch {
            let Some(e) = parse(line) else { continue };
            if !is_view(&e) {
                continue;
            }
            let Some((campaign, time)) = join(campaign_of, &e) else {
                continue;
            };
            max_time = max_time.max(time);
            let start = time.div_euclid(window_ms) * window_ms;
            *open.entry(start).or_default().entry(campaign).or_insert(0) += 1;
        }
        let watermark = max_time.saturating_sub(delay_ms);
        while let Some(entry) = open.first_entry() {
            if *entry.key() + window_ms > watermark {
                break;
            }
            let (start, counts) = entry.remove_entry();
            emitted.extend(counts.into_iter().map(|(c, n)| ((start, c), n)));
        }
    }
    for (start, counts) in open {
        emitted.extend(counts.into_iter().map(|(c, n)| ((start, c), n)));
    }
    emitted
}
