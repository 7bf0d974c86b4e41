//! Which outbox row each packet id carries, so a PUBACK can settle its row.
//!
//! rumqttc reports every publish it writes (`Outgoing::Publish(pkid)`) in the order it
//! took the requests, and sends the unacknowledged ones again after a reconnect under
//! their old packet ids. So: the sender queues each message's outbox seq just before
//! handing the message to rumqttc; a packet id seen for the first time takes the oldest
//! queued seq; a packet id already in flight is a resend; a PUBACK returns its seq. When a
//! packet id is still in flight as a new message needs it (only when the broker
//! acknowledges out of order), rumqttc reports `AwaitAck` and writes that message after the
//! PUBACK, reporting it before the PUBACK event: the seq is put aside until then.

use std::collections::{HashMap, VecDeque};

/// The bookkeeping; behind a mutex shared by the sender and the event loop.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Seqs of the messages handed to rumqttc and not yet written, in order (`None` for
    /// a message that owes no row).
    queued: VecDeque<Option<i64>>,
    /// Packet id → the seq of the message in flight under it.
    in_flight: HashMap<u16, Option<i64>>,
    /// A message waiting for its packet id to be acknowledged, and its seq.
    collided: Option<(u16, Option<i64>)>,
}

impl Tracker {
    /// The sender is about to hand over a message owing `seq`.
    pub fn queue(&mut self, seq: Option<i64>) {
        self.queued.push_back(seq);
    }

    /// Handing it over failed: it will not be written.
    pub fn unqueue_last(&mut self) {
        self.queued.pop_back();
    }

    /// rumqttc wrote a publish under `pkid`.
    pub fn written(&mut self, pkid: u16) {
        if self.in_flight.contains_key(&pkid) {
            return; // a resend after a reconnect, or the collided message (see `acked`)
        }
        let seq = self.queued.pop_front().flatten();
        self.in_flight.insert(pkid, seq);
    }

    /// rumqttc holds the next message until `pkid` is acknowledged.
    pub fn collision(&mut self, pkid: u16) {
        let seq = self.queued.pop_front().flatten();
        self.collided = Some((pkid, seq));
    }

    /// The broker acknowledged `pkid`: the seq it settles, if any.
    pub fn acked(&mut self, pkid: u16) -> Option<i64> {
        let seq = self.in_flight.remove(&pkid).flatten();
        if let Some((p, waiting)) = self.collided {
            if p == pkid {
                self.in_flight.insert(pkid, waiting);
                self.collided = None;
            }
        }
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_settle_the_rows_of_their_messages() {
        let mut t = Tracker::default();
        t.queue(Some(10));
        t.queue(None);
        t.queue(Some(12));
        t.written(1);
        t.written(2);
        t.written(3);
        assert_eq!(t.acked(2), None);
        assert_eq!(t.acked(1), Some(10));
        // A reconnect sends 3 again under the same packet id: no new row is taken.
        t.queue(Some(13));
        t.written(3);
        t.written(4);
        assert_eq!(t.acked(3), Some(12));
        assert_eq!(t.acked(4), Some(13));
        assert_eq!(t.acked(4), None, "acknowledged once");
    }

    #[test]
    fn a_collided_message_keeps_its_row() {
        let mut t = Tracker::default();
        t.queue(Some(1));
        t.written(7);
        t.queue(Some(2));
        t.collision(7);
        // rumqttc reports the held message's write before the PUBACK that freed its id.
        t.written(7);
        assert_eq!(t.acked(7), Some(1));
        assert_eq!(t.acked(7), Some(2));
    }
}
