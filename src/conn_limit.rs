//! Connections held at once, in total and per client address: one bound for each
//! listener (the HTTP API, the broker's TCP and WebSocket listeners), so a flood of idle or
//! slow connections from one place cannot take the file descriptors, memory and tasks that
//! every other client needs. Over a limit a connection is closed as soon as it is
//! accepted, before anything is read from it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The bound of one listener.
#[derive(Debug)]
pub struct ConnLimit {
    /// Connections held at once, in all.
    max_total: usize,
    /// Connections held at once from one [`Client`].
    max_per_client: usize,
    /// What is held now.
    held: Mutex<Held>,
    /// Connections closed for a limit since start.
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    per_client: HashMap<Client, usize>,
}

/// Whom a limit per address counts: an IPv4 address, or an IPv6 /64, which one host or
/// one customer usually holds whole (so stepping through its addresses gains nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl Client {
    fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => {
                let mut prefix = [0u8; 8];
                prefix.copy_from_slice(&v6.octets()[..8]);
                Client::V6Prefix(prefix)
            }
        }
    }
}

impl ConnLimit {
    /// At most `max_total` connections, `max_per_client` of them from one address.
    pub fn new(max_total: usize, max_per_client: usize) -> Arc<ConnLimit> {
        Arc::new(ConnLimit {
            max_total,
            max_per_client,
            held: Mutex::new(Held::default()),
            refused: AtomicU64::new(0),
        })
    }

    /// A permit for one connection from `ip`, held as long as the connection is, or None
    /// when a limit is reached (the caller closes the connection).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnPermit> {
        let client = Client::of(ip);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let from_client = held.per_client.get(&client).copied().unwrap_or(0);
        if held.total >= self.max_total || from_client >= self.max_per_client {
            drop(held);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        held.total += 1;
        held.per_client.insert(client, from_client + 1);
        Some(ConnPermit {
            limit: Arc::clone(self),
            client,
        })
    }

    /// Connections closed for a limit since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct ConnPermit {
    limit: Arc<ConnLimit>,
    client: Client,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut held = self
            .limit
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.per_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_address_and_in_total_and_places_come_back() {
        let limit = ConnLimit::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        let a1 = limit.admit(a).unwrap();
        let _a2 = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none(), "a third from one address");
        let _b1 = limit.admit(b).unwrap();
        assert!(
            limit.admit("10.0.0.3".parse().unwrap()).is_none(),
            "a fourth in all"
        );
        drop(a1);
        assert!(
            limit.admit(a).is_some(),
            "a closed connection's place is free again"
        );
        assert_eq!(limit.refused(), 2);
    }

    #[test]
    fn an_ipv6_host_counts_as_its_slash_64() {
        let limit = ConnLimit::new(10, 1);
        let _first = limit.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(limit.admit("2001:db8:1:2::ffff".parse().unwrap()).is_none());
        assert!(limit.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
    }
}
