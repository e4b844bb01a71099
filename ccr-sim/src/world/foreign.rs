//! Remotes in another `Sim` of the same process.
//!
//! Every simulator registers its clusters' transport addresses here. When a cluster's remote
//! names a cluster of another simulator, the operation that needs it (a request, a tick) locks
//! that simulator's world and *borrows* the cluster: it is moved into this world for the duration
//! of the operation (its own world holds a placeholder, invisible because its lock is held) and
//! moved back afterwards. The rest of the simulator then sees an ordinary local remote.
//!
//! Locks on other worlds are only tried, with a short timeout, so two simulators following each
//! other cannot deadlock: at worst the remote looks unreachable for that one operation.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{lock_api::ArcMutexGuard, Mutex, RawMutex};

use crate::world::model::{Cluster, World};
use crate::world::ops::{remote_link, RemoteLink};

/// A simulator's world as shared between its servers, ticker and handles.
pub(crate) type WorldLock = Arc<Mutex<World>>;

struct Entry {
    transport: String,
    world_id: u64,
    world: Weak<Mutex<World>>,
    cluster: usize,
}

static REGISTRY: std::sync::Mutex<Vec<Entry>> = std::sync::Mutex::new(Vec::new());

/// How long an operation waits for another simulator's world.
const FOREIGN_LOCK_TIMEOUT: Duration = Duration::from_millis(100);

fn normalise(addr: &str) -> String {
    addr.trim().replace("localhost:", "127.0.0.1:")
}

/// Registers the clusters of a started simulator.
pub(crate) fn register(world: &WorldLock) {
    let w = world.lock();
    if let Ok(mut r) = REGISTRY.lock() {
        for (i, c) in w.clusters.iter().enumerate() {
            r.push(Entry {
                transport: c.transport_addr.clone(),
                world_id: w.id,
                world: Arc::downgrade(world),
                cluster: i,
            });
        }
    }
}

/// Removes a simulator's clusters (when it is dropped).
pub(crate) fn unregister(world_id: u64) {
    if let Ok(mut r) = REGISTRY.lock() {
        r.retain(|e| e.world_id != world_id);
    }
}

/// True when `addr` is the transport address of a cluster of another running simulator.
pub(crate) fn in_other_sim(addr: &str, own_world: u64) -> bool {
    let addr = normalise(addr);
    REGISTRY
        .lock()
        .map(|r| {
            r.iter()
                .any(|e| e.transport == addr && e.world_id != own_world)
        })
        .unwrap_or(false)
}

/// Clusters borrowed from other worlds; give them back with [`restore`].
#[must_use = "borrowed clusters must be restored"]
pub(crate) struct Imports {
    taken: Vec<(ArcMutexGuard<RawMutex, World>, usize)>,
}

/// Borrows the clusters of other simulators that cluster `ci`'s remotes point at.
pub(crate) fn import(w: &mut World, ci: usize) -> Imports {
    let mut taken = Vec::new();
    let c = &w.clusters[ci];
    let targets: Vec<String> = c
        .remote_aliases()
        .iter()
        .flat_map(|a| c.remote_targets(a).unwrap_or_default())
        .map(|t| normalise(&t))
        .collect();
    for t in targets {
        if w.clusters.iter().any(|c| c.transport_addr == t) {
            continue;
        }
        let found = REGISTRY.lock().ok().and_then(|r| {
            r.iter()
                .find(|e| e.transport == t && e.world_id != w.id)
                .map(|e| (e.world.clone(), e.cluster))
        });
        let Some((weak, fci)) = found else { continue };
        let Some(arc) = weak.upgrade() else { continue };
        let Some(mut guard) = arc.try_lock_arc_for(FOREIGN_LOCK_TIMEOUT) else {
            tracing::debug!(remote = %t, "another simulator is busy; its cluster looks unreachable this time");
            continue;
        };
        let Some(slot) = guard.clusters.get_mut(fci) else {
            continue;
        };
        let placeholder = Cluster::placeholder_of(slot);
        let cluster = std::mem::replace(slot, placeholder);
        w.clusters.push(cluster);
        taken.push((guard, fci));
    }
    Imports { taken }
}

/// Gives borrowed clusters back to their worlds.
pub(crate) fn restore(w: &mut World, imports: Imports) {
    for (mut guard, fci) in imports.taken.into_iter().rev() {
        if let Some(cluster) = w.clusters.pop() {
            if let Some(slot) = guard.clusters.get_mut(fci) {
                *slot = cluster;
            }
        }
    }
}

/// Runs `f` on the world with the clusters of other simulators that cluster `ci`'s remotes
/// point at borrowed into it.
pub(crate) fn with_remotes<R>(world: &WorldLock, ci: usize, f: impl FnOnce(&mut World) -> R) -> R {
    let mut w = world.lock();
    let imports = import(&mut w, ci);
    let r = f(&mut w);
    restore(&mut w, imports);
    r
}

/// Logs a warning for remotes of cluster `ci` whose seeds name a cluster of another `Sim` that
/// could not be borrowed (it was busy or gone).
pub(crate) fn warn_foreign_remotes(w: &World, ci: usize) {
    let c = &w.clusters[ci];
    for alias in c.remote_aliases() {
        if matches!(remote_link(w, ci, &alias), RemoteLink::Connected(_)) {
            continue;
        }
        for t in c.remote_targets(&alias).unwrap_or_default() {
            if in_other_sim(&t, w.id) {
                tracing::warn!(
                    cluster = %c.name,
                    %alias,
                    seed = %t,
                    "remote points at a cluster of another Sim that could not be reached just now"
                );
            }
        }
    }
}
