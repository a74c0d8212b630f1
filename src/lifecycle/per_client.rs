//! Counts kept per client address (live connections, handshakes in
//! progress): an entry exists only while its count is above zero, so the map
//! is never larger than what it counts.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::peer::ClientInfo;

/// The address per-client limits count under: the client's IPv4 address, or
/// the /64 network of its IPv6 address (one host usually holds a whole /64,
/// RFC 4291 §2.5.1, so counting single IPv6 addresses would let one client
/// appear as 2^64). The client is [`ClientInfo::addr`], or the TCP peer
/// when a trusted proxy hid the client (`for=unknown`). Without either, no
/// per-client limit applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey(IpAddr);

impl ClientKey {
    pub(crate) fn of(client: &ClientInfo) -> Option<Self> {
        let ip = client.addr().or_else(|| client.peer().map(|p| p.ip()))?;
        Some(Self::from_ip(ip))
    }

    pub(crate) fn from_ip(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !(u128::from(u64::MAX));
                Self(IpAddr::V6(Ipv6Addr::from(network)))
            }
        }
    }
}

/// A count per client, shared by a layer and its clones.
#[derive(Debug, Default)]
pub(crate) struct PerClient {
    counts: Mutex<HashMap<ClientKey, usize>>,
}

impl PerClient {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, usize>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` holds fewer than `max` places now.
    pub(crate) fn has_room(&self, key: ClientKey, max: usize) -> bool {
        self.lock().get(&key).copied().unwrap_or(0) < max
    }

    /// Takes one of `key`'s `max` places, or `None` when all are taken.
    pub(crate) fn take(self: &Arc<Self>, key: ClientKey, max: usize) -> Option<ClientPlace> {
        let mut counts = self.lock();
        let count = counts.entry(key).or_insert(0);
        if *count >= max {
            if *count == 0 {
                counts.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(ClientPlace {
            counts: self.clone(),
            key,
        })
    }

    /// How many clients hold a place now.
    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.lock().len()
    }

    fn give_back(&self, key: ClientKey) {
        let mut counts = self.lock();
        if let Some(count) = counts.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&key);
                // After a burst from many addresses, give the table's memory
                // back instead of keeping its high-water mark.
                let len = counts.len();
                if counts.capacity() > 64 && len < counts.capacity() / 4 {
                    counts.shrink_to(len * 2);
                }
            }
        }
    }
}

/// One place in a client's count; given back on drop.
#[derive(Debug)]
pub(crate) struct ClientPlace {
    counts: Arc<PerClient>,
    key: ClientKey,
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        self.counts.give_back(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64() {
        let a = ClientKey::from_ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientKey::from_ip("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = ClientKey::from_ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = ClientKey::from_ip("::ffff:192.0.2.7".parse().unwrap());
        assert_eq!(mapped, ClientKey::from_ip("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn places_per_client_and_entries_go_with_the_last_place() {
        let counts = Arc::new(PerClient::default());
        let a = ClientKey::from_ip("192.0.2.1".parse().unwrap());
        let b = ClientKey::from_ip("192.0.2.2".parse().unwrap());
        let a1 = counts.take(a, 2).unwrap();
        let a2 = counts.take(a, 2).unwrap();
        assert!(counts.take(a, 2).is_none(), "a holds its 2 places");
        assert!(!counts.has_room(a, 2));
        let b1 = counts.take(b, 2).expect("b is another client");
        drop((a1, b1));
        assert!(counts.has_room(a, 2));
        assert_eq!(counts.clients(), 1);
        drop(a2);
        assert_eq!(counts.clients(), 0);
        assert!(counts.take(a, 0).is_none());
        assert_eq!(counts.clients(), 0, "a refused place leaves no entry");
    }

    #[test]
    fn many_addresses_leave_nothing_behind() {
        let counts = Arc::new(PerClient::default());
        let places: Vec<_> = (0..100_000u32)
            .map(|i| {
                let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
                counts.take(ClientKey::from_ip(ip), 1).unwrap()
            })
            .collect();
        assert_eq!(counts.clients(), 100_000);
        drop(places);
        assert_eq!(counts.clients(), 0);
        assert!(counts.lock().capacity() <= 128, "the table shrank back");
    }
}
