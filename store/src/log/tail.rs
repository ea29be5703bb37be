//! The events this process appended last, kept in memory (SQLite).
//!
//! On SQLite one writer in this process appends, and positions are the
//! table's row ids: consecutive, without gaps. So the newest events can be
//! read from memory exactly as a `SELECT … WHERE position > ? ORDER BY
//! position` would return them, without a round trip to a reader
//! connection: this is what projections following the log do after every
//! append. What the tail cannot vouch for is read from the database: events
//! older than it holds, and anything after a gap in its positions (another
//! process appended to the same file) or after its newest event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::RecordedEvent;

/// Events kept at most: a few seconds of the busiest traffic (64 runtime
/// sessions committing 20 values each append ~35,000 events/s), so views
/// that fall behind under a burst still catch up from memory.
const MAX_EVENTS: usize = 100_000;
/// Payload bytes kept at most (a course import can carry megabytes).
const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub(super) struct Tail {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Shared with the readers: each projection reads every event, and a
    /// read copies pointers, not payloads.
    events: VecDeque<Arc<RecordedEvent>>,
    bytes: usize,
}

impl Tail {
    /// Adds events just committed, in position order.
    pub(super) fn push(&self, events: impl IntoIterator<Item = RecordedEvent>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            if inner
                .events
                .back()
                .is_some_and(|last| last.position >= event.position)
            {
                // Out of order cannot happen with one writer; start afresh
                // rather than vouch for a wrong order.
                inner.events.clear();
                inner.bytes = 0;
            }
            inner.bytes += event.payload.len();
            inner.events.push_back(Arc::new(event));
        }
        while inner.events.len() > MAX_EVENTS || (inner.bytes > MAX_BYTES && inner.events.len() > 1)
        {
            let dropped = inner.events.pop_front().expect("not empty");
            inner.bytes -= dropped.payload.len();
        }
    }

    /// Up to `limit` events right after `after`, when the tail holds them
    /// with consecutive positions.
    /// `None` when the tail cannot say: read the database instead (after
    /// the newest event this process appended, another process may have
    /// appended more).
    pub(super) fn read(&self, after: i64, limit: u32) -> Option<Vec<Arc<RecordedEvent>>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let first = inner.events.front()?.position;
        let last = inner.events.back()?.position;
        if after < first - 1 || after >= last {
            return None;
        }
        let start = inner
            .events
            .partition_point(|event| event.position <= after);
        if inner.events[start].position != after + 1 {
            return None;
        }
        let mut out = Vec::new();
        for (expected, event) in (after + 1..).zip(inner.events.range(start..).take(limit as usize))
        {
            if event.position != expected {
                // Another process appended in between.
                return None;
            }
            out.push(Arc::clone(event));
        }
        Some(out)
    }

    /// The position of the newest event this process appended, if kept.
    pub(super) fn newest(&self) -> Option<i64> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.events.back().map(|event| event.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use domain::events::EventMetadata;

    fn event(position: i64) -> RecordedEvent {
        RecordedEvent {
            position,
            tx: 0,
            stream_id: format!("s:{position}"),
            stream_version: 1,
            event_type: "T".into(),
            schema_version: 1,
            payload: "{}".into(),
            metadata: EventMetadata::default(),
            recorded_at: Utc::now(),
        }
    }

    fn positions(events: Option<Vec<Arc<RecordedEvent>>>) -> Option<Vec<i64>> {
        events.map(|e| e.iter().map(|e| e.position).collect())
    }

    #[test]
    fn the_tail_answers_only_for_what_it_holds_without_gaps() {
        let tail = Tail::default();
        assert_eq!(positions(tail.read(0, 10)), None, "empty: ask the database");
        tail.push((5..=9).map(event));
        assert_eq!(tail.newest(), Some(9));
        // (after, limit) → answer
        let table: &[(i64, u32, Option<Vec<i64>>)] = &[
            (3, 10, None),                      // older than the tail
            (4, 10, Some(vec![5, 6, 7, 8, 9])), // right before its first
            (4, 2, Some(vec![5, 6])),           // limited
            (7, 10, Some(vec![8, 9])),
            (9, 10, None),  // the newest: another process may have appended
            (10, 10, None), // beyond: ask the database
        ];
        for (after, limit, expected) in table {
            assert_eq!(
                &positions(tail.read(*after, *limit)),
                expected,
                "after {after} limit {limit}"
            );
        }
        // Another process appended 10 and 11: the tail cannot answer
        // across the gap.
        tail.push([event(12), event(13)]);
        assert_eq!(positions(tail.read(7, 2)), Some(vec![8, 9]));
        assert_eq!(positions(tail.read(7, 3)), None, "across the gap");
        assert_eq!(positions(tail.read(9, 10)), None, "after the gap");
        assert_eq!(positions(tail.read(11, 10)), Some(vec![12, 13]));
    }

    #[test]
    fn the_tail_keeps_a_bounded_number_of_events() {
        let tail = Tail::default();
        tail.push((1..=(MAX_EVENTS as i64 + 10)).map(event));
        assert_eq!(positions(tail.read(0, 1)), None, "the oldest were dropped");
        assert_eq!(positions(tail.read(10, 1)), Some(vec![11]));
    }
}
