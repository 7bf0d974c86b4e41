//! Acknowledging to an external broker only what is safely stored.
//!
//! With manual acknowledgements the broker keeps each QoS 1 message until we send its
//! PUBACK, and sends it again to the session's next connection if we never do (the
//! process was killed, or a replica lost the lead). So a message is acknowledged only once
//! the dispatcher has committed what it caused:
//!
//! - its [`AckGuard`] is dropped when the message has been handed on (an alert stored, a
//!   command queued for the engine, a dead letter written, or nothing to do);
//! - then a barrier ([`Dispatcher::barrier`]) waits for the commit of every command queued
//!   before it;
//! - then the PUBACKs go out in the order the messages arrived, as MQTT 3.1.1 requires
//!   (§4.6), so one slow alert holds back the acknowledgements behind it, never the work;
//! - unless the barrier reports a failed batch (the database refused or was unreachable):
//!   then nothing more is acknowledged on this connection, and the client drops it and
//!   connects again, so the broker sends every unacknowledged message once more.
//!
//! A message handled twice around a crash changes nothing: alerts are unique per (source,
//! id), task updates carry versions, positions and duty toggles are values.

use std::collections::BTreeMap;
use std::sync::Arc;

use rumqttc::{AsyncClient, Publish, QoS};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::dispatch::Dispatcher;

/// How many connections in a row [`run`] gives up to have messages sent again.
const MAX_REDELIVERIES: u32 = 5;

/// One received message that still needs its PUBACK. Dropping it says "handed on".
#[derive(Debug)]
pub struct AckGuard {
    /// The connection it came on (packet ids mean nothing on another one).
    generation: u64,
    /// Its place in arrival order on that connection.
    seq: u64,
    /// The broker's packet id, for the PUBACK.
    pkid: u16,
    /// Where the drop is reported.
    tx: mpsc::UnboundedSender<(u64, u64, u16)>,
}

impl Drop for AckGuard {
    fn drop(&mut self) {
        tracing::trace!(
            generation = self.generation,
            seq = self.seq,
            pkid = self.pkid,
            "ack guard dropped"
        );
        let _ = self.tx.send((self.generation, self.seq, self.pkid));
    }
}

/// Hands out guards in arrival order; one per client.
#[derive(Debug)]
pub struct Acks {
    generation: u64,
    next_seq: u64,
    tx: mpsc::UnboundedSender<(u64, u64, u16)>,
}

impl Acks {
    /// A sequencer and the receiver its [`run`] task drains.
    pub fn new() -> (Acks, mpsc::UnboundedReceiver<(u64, u64, u16)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Acks {
                generation: 0,
                next_seq: 0,
                tx,
            },
            rx,
        )
    }

    /// A new connection: what the old one left unacknowledged the broker sends again.
    pub fn reconnected(&mut self) {
        self.generation += 1;
        self.next_seq = 0;
    }

    /// The guard of a message just received with packet id `pkid`.
    pub fn guard(&mut self, pkid: u16) -> AckGuard {
        let seq = self.next_seq;
        self.next_seq += 1;
        tracing::trace!(generation = self.generation, seq, pkid, "ack guard made");
        AckGuard {
            generation: self.generation,
            seq,
            pkid,
            tx: self.tx.clone(),
        }
    }
}

/// Sends the PUBACKs, in order, once what came before them is committed; asks for a new
/// connection (`redeliver`) when something before them may not have been.
pub async fn run(
    client: AsyncClient,
    dispatcher: Dispatcher,
    mut rx: mpsc::UnboundedReceiver<(u64, u64, u16)>,
    redeliver: Arc<Notify>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut generation = 0;
    let mut next = 0;
    let mut handed: BTreeMap<u64, u16> = BTreeMap::new();
    // The current connection is given up: its messages come again on the next one.
    let mut abandoned = false;
    // Connections given up in a row. A batch that fails every time (not an outage: then
    // the engine waits for the database before it answers) must not stop every message
    // behind it for ever, so after a few the messages are acknowledged all the same.
    let mut given_up: u32 = 0;
    loop {
        // Everything already queued at once: one barrier covers the whole burst.
        let mut batch = Vec::new();
        tokio::select! {
            _ = cancel.cancelled() => break,
            n = rx.recv_many(&mut batch, usize::MAX) => if n == 0 { break },
        }
        for (g, seq, pkid) in batch {
            if g > generation {
                generation = g;
                next = 0;
                handed.clear();
                abandoned = false;
            }
            if g == generation && !abandoned {
                handed.insert(seq, pkid);
            }
        }
        if !handed.contains_key(&next) {
            continue;
        }
        tracing::trace!(generation, next, "barrier");
        match dispatcher.barrier().await {
            Ok(true) => given_up = 0,
            Ok(false) if given_up >= MAX_REDELIVERIES => {
                tracing::error!(
                    generation,
                    attempts = given_up + 1,
                    "dispatch batches keep failing; acknowledging the messages anyway (their effects may be lost)"
                );
                given_up = 0;
            }
            Ok(false) => {
                given_up += 1;
                tracing::warn!(
                    generation,
                    "a dispatch batch was not stored; reconnecting so the broker sends the unacknowledged messages again"
                );
                abandoned = true;
                handed.clear();
                redeliver.notify_one();
                continue;
            }
            // The engine stopped; the process is going down and the broker keeps the rest.
            Err(_) => return Ok(()),
        }
        while let Some(pkid) = handed.remove(&next) {
            let mut ack = Publish::new("", QoS::AtLeastOnce, Vec::new());
            ack.pkid = pkid;
            tracing::trace!(generation, seq = next, pkid, "PUBACK");
            client.ack(&ack).await?;
            next += 1;
        }
    }
    Ok(())
}
