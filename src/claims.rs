//! Which pages are being written, and the item ids each holds. On PostgreSQL two pages may be
//! written at once (`store::items::PG_WRITES`); a page that shares an item with an earlier one
//! must still go after it, or an older record, or a quarantine entry's release, could land
//! before what it follows. So a page takes a place in line (`Claims::enqueue`, in the order
//! the pages came) with its ids, stored and quarantined, and is written once no earlier page
//! in line holds one of them (`Claim::ready`). A claim waits only for earlier ones: no cycle.
//! Also counted here: the writes under way, which a regrade waits for.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Claims {
    state: parking_lot::Mutex<State>,
    /// Rung when a claim or a write ends.
    landed: Notify,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Claims in line by their place, with their ids, hashed (two that collide only make a
    /// page wait).
    line: BTreeMap<u64, HashSet<u64>>,
    writes: usize,
}

/// A page's place in line with its item ids, from before it is checked against the board
/// until its quarantine is written.
pub struct Claim {
    claims: Arc<Claims>,
    place: u64,
}

impl Claims {
    /// Puts a page in line with its ids. Call in the order the pages came, before the page's
    /// own work starts elsewhere.
    pub fn enqueue<'i>(self: &Arc<Self>, ids: impl IntoIterator<Item = &'i str>) -> Claim {
        let hasher = foldhash::fast::FixedState::default();
        let ids: HashSet<u64> = ids.into_iter().map(|id| hasher.hash_one(id)).collect();
        let mut state = self.state.lock();
        let place = state.next;
        state.next += 1;
        state.line.insert(place, ids);
        Claim {
            claims: self.clone(),
            place,
        }
    }

    /// Counts a write from its board check until it is on the board.
    pub fn writing(&self) -> Writing<'_> {
        self.state.lock().writes += 1;
        Writing(self)
    }

    /// Waits until no write is under way.
    pub async fn writes_landed(&self) {
        self.when(|state| state.writes == 0).await;
    }

    /// Waits until `ready` says yes, asking again each time a claim or a write ends.
    async fn when(&self, ready: impl Fn(&State) -> bool) {
        loop {
            // Listening before asking: an end between the two is not missed.
            let mut landed = std::pin::pin!(self.landed.notified());
            landed.as_mut().enable();
            if ready(&self.state.lock()) {
                return;
            }
            landed.await;
        }
    }
}

impl Claim {
    /// Waits until no page earlier in line holds one of this page's ids.
    pub async fn ready(&self) {
        self.claims
            .when(|state| {
                let ids = &state.line[&self.place];
                !state
                    .line
                    .range(..self.place)
                    .any(|(_, earlier)| earlier.iter().any(|id| ids.contains(id)))
            })
            .await;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.claims.state.lock().line.remove(&self.place);
        self.claims.landed.notify_waiters();
    }
}

/// A write under way (see `Claims::writing`).
pub struct Writing<'a>(&'a Claims);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.state.lock().writes -= 1;
        self.0.landed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn is_ready(claim: &Claim) -> bool {
        tokio::time::timeout(Duration::from_millis(100), claim.ready())
            .await
            .is_ok()
    }

    /// A page waits for earlier pages that share an item, and never for later ones, even
    /// when a later one became ready first.
    #[tokio::test]
    async fn pages_sharing_an_item_go_in_line_order() {
        let claims = Arc::new(Claims::default());
        let first = claims.enqueue(["X"]);
        let second = claims.enqueue(["X", "Y"]);
        let third = claims.enqueue(["Y"]);
        let apart = claims.enqueue(["Z"]);
        assert!(is_ready(&first).await);
        assert!(is_ready(&apart).await, "shares nothing: waits for nothing");
        assert!(!is_ready(&second).await, "X is the first page's");
        // The third shares Y only with the second, which is earlier in line and not yet
        // written: it waits for it although nobody writes Y now.
        assert!(!is_ready(&third).await);
        drop(first);
        assert!(is_ready(&second).await);
        assert!(!is_ready(&third).await);
        drop(second);
        assert!(is_ready(&third).await);
        drop((third, apart));
        assert!(claims.state.lock().line.is_empty());
    }

    #[tokio::test]
    async fn a_waiting_page_wakes_when_the_earlier_one_ends() {
        let claims = Arc::new(Claims::default());
        let first = claims.enqueue(["X"]);
        let second = claims.enqueue(["X"]);
        let waiter = tokio::spawn(async move {
            second.ready().await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("woken when the first claim ended")
            .unwrap();
    }

    #[tokio::test]
    async fn writes_landed_waits_for_every_write() {
        let claims = Claims::default();
        let one = claims.writing();
        let two = claims.writing();
        drop(one);
        let wait = tokio::time::timeout(Duration::from_millis(100), claims.writes_landed());
        assert!(wait.await.is_err(), "one write is still under way");
        drop(two);
        tokio::time::timeout(Duration::from_secs(1), claims.writes_landed())
            .await
            .expect("no write under way");
    }
}
