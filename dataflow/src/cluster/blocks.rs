//! Shuffle blocks between executors: map outputs stay where they were written, and a
//! reducer fetches each bucket it needs from the executor holding it, over QUIC, one
//! stream per block.
//!
//! A reducer reads its buckets one after the other (as in local mode), so it holds at
//! most one fetched block besides what it already merged: memory while fetching is
//! bounded by the largest block, itself bounded by [`MAX_BLOCK_FRAME`].

use super::driver::log;
use super::executor::Node;
use super::protocol::{Block, FetchBlock, Peer, MAX_BLOCK_FRAME, MAX_CONTROL_FRAME};
use super::wire::{read_frame, write_frame};
use crate::error::{DataflowError, Result};
use crate::plan::ShuffleId;
use crate::shuffle::RemoteBlocks;
use futures::future::{BoxFuture, FutureExt, Shared};
use neptune_runtime::quic;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

type Connecting = Shared<BoxFuture<'static, std::result::Result<quinn::Connection, String>>>;

/// One job's view of where its shuffle blocks are, and how to fetch them.
pub(crate) struct PeerBlocks {
    job: u64,
    me: u32,
    client: quinn::Endpoint,
    /// Per shuffle, per map partition: the executor holding it.
    locations: Mutex<HashMap<ShuffleId, Vec<u32>>>,
    /// Other executors: block address and node name.
    addresses: Mutex<HashMap<u32, (SocketAddr, String)>>,
    /// One connection per peer, shared by this job's fetches.
    peers: Mutex<HashMap<SocketAddr, Connecting>>,
    /// Executors the driver counts as lost: fetching from them fails at once.
    lost: Mutex<Vec<u32>>,
}

impl PeerBlocks {
    pub(crate) fn new(job: u64, me: u32, client: quinn::Endpoint, shuffles: usize) -> PeerBlocks {
        PeerBlocks {
            job,
            me,
            client,
            locations: Mutex::new(HashMap::with_capacity(shuffles)),
            addresses: Mutex::default(),
            peers: Mutex::default(),
            lost: Mutex::default(),
        }
    }

    /// Stops fetching from `executor`, which the driver counts as lost: its link is
    /// closed, so fetches in flight fail now rather than at the idle timeout.
    pub(crate) fn forget(&self, executor: u32) {
        self.lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(executor);
        let Some((addr, _)) = self.address(executor) else {
            return;
        };
        let connecting = self
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&addr);
        if let Some(Ok(connection)) = connecting.as_ref().and_then(|c| c.peek()) {
            connection.close(5u32.into(), b"the driver counts this executor as lost");
        }
    }

    fn is_lost(&self, executor: u32) -> bool {
        self.lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&executor)
    }

    fn locations(&self) -> MutexGuard<'_, HashMap<ShuffleId, Vec<u32>>> {
        self.locations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records where shuffle `id`'s map outputs are (from a launch).
    pub(crate) fn locate(&self, id: ShuffleId, maps: Vec<u32>) {
        self.locations().insert(id, maps);
    }

    /// Records where a peer serves its blocks.
    pub(crate) fn peer(&self, peer: &Peer) {
        self.addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer.id, (peer.addr, peer.name.clone()));
    }

    fn address(&self, executor: u32) -> Option<(SocketAddr, String)> {
        self.addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&executor)
            .cloned()
    }

    fn connection(&self, addr: SocketAddr, name: String) -> Connecting {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = peers.get(&addr) {
            // A connection that failed is dialled again by the next fetch.
            if !matches!(c.peek(), Some(Err(_))) {
                return c.clone();
            }
        }
        let client = self.client.clone();
        let connecting = async move {
            quic::connect(&client, addr, &name)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed()
        .shared();
        peers.insert(addr, connecting.clone());
        connecting
    }
}

impl RemoteBlocks for PeerBlocks {
    fn fetch(
        &self,
        id: ShuffleId,
        map: usize,
        reduce: usize,
    ) -> Option<BoxFuture<'static, Result<Vec<u8>>>> {
        let located = self
            .locations()
            .get(&id)
            .and_then(|maps| maps.get(map).copied())
            .map(|executor| (executor, self.address(executor)));
        let request = FetchBlock {
            job: self.job,
            shuffle: id.0,
            map: map as u32,
            reduce: reduce as u32,
        };
        match located {
            Some((executor, _)) if executor == self.me => None,
            Some((executor, _)) if self.is_lost(executor) => Some(
                futures::future::ready(Err(DataflowError::FetchFailed {
                    executor,
                    shuffle: id.0,
                    map: map as u32,
                    message: "the driver counts that executor as lost".into(),
                }))
                .boxed(),
            ),
            Some((executor, Some((addr, name)))) => {
                let connection = self.connection(addr, name);
                Some(
                    async move {
                        // Any failure to get the block means the map output is gone
                        // for this reducer: the driver decides whether to re-run it.
                        let failed = |e: &dyn std::fmt::Display| DataflowError::FetchFailed {
                            executor,
                            shuffle: id.0,
                            map: map as u32,
                            message: format!("block {map}->{reduce} at {addr}: {e}"),
                        };
                        let connection = connection.await.map_err(|e| failed(&e))?;
                        let (mut send, mut recv) =
                            connection.open_bi().await.map_err(|e| failed(&e))?;
                        write_frame(&mut send, &request, MAX_CONTROL_FRAME)
                            .await
                            .map_err(|e| failed(&e))?;
                        let _ = send.finish();
                        match read_frame::<_, Block>(&mut recv, MAX_BLOCK_FRAME).await {
                            Ok(Some(Block::Data(bytes))) => Ok(bytes),
                            Ok(Some(Block::Missing(why))) => Err(failed(&why)),
                            Ok(None) => Err(failed(&"no answer")),
                            Err(e) => Err(failed(&e)),
                        }
                    }
                    .boxed(),
                )
            }
            _ => Some(
                async move {
                    Err(DataflowError::Cluster(format!(
                        "the driver did not say where {id} map partition {map} is"
                    )))
                }
                .boxed(),
            ),
        }
    }
}

/// Serves this executor's shuffle blocks to other executors.
pub(crate) async fn serve_blocks(endpoint: quinn::Endpoint, node: Arc<Node>) {
    while let Some(incoming) = endpoint.accept().await {
        let node = node.clone();
        drop(neptune_runtime::spawn_with(
            neptune_runtime::SpawnOptions::stream(),
            async move {
                let connection = match incoming.await {
                    Ok(c) => c,
                    Err(e) => return log(&format!("a block fetcher failed to connect: {e}")),
                };
                while let Ok((send, recv)) = connection.accept_bi().await {
                    let node = node.clone();
                    let connection = connection.clone();
                    drop(neptune_runtime::spawn_with(
                        neptune_runtime::SpawnOptions::stream(),
                        async move {
                            if let Err(reason) = serve_block(&node, send, recv).await {
                                log(&format!("closing a block fetcher's connection: {reason}"));
                                connection.close(3u32.into(), reason.as_bytes());
                            }
                        },
                    ));
                }
            },
        ));
    }
}

/// Answers one fetch; an error closes the fetcher's connection.
async fn serve_block(
    node: &Node,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) -> std::result::Result<(), String> {
    let request: FetchBlock = read_frame(&mut recv, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| format!("a malformed fetch: {e}"))?
        .ok_or("an empty fetch")?;
    let job = node.job(request.job);
    let fault = node.fault.as_ref().and_then(|f| f.block_served());
    // Encoding a block takes as long as its size: on a thread of its own, not on the
    // network runtime, whose heartbeats and launches must not wait for it.
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name("neptune-block".into())
        .spawn(move || {
            let answer = match (fault, job) {
                (Some(injected), _) => Block::Missing(injected.to_string()),
                (None, None) => Block::Missing(format!("job-{} is not here", request.job)),
                (None, Some(job)) => match job.store().encoded(
                    ShuffleId(request.shuffle),
                    request.map as usize,
                    request.reduce as usize,
                ) {
                    Some(Ok(bytes)) => Block::Data(bytes),
                    Some(Err(e)) => Block::Missing(format!("cannot encode the block: {e}")),
                    None => Block::Missing("no such block here".into()),
                },
            };
            let _ = tx.send(super::wire::encode(&answer, MAX_BLOCK_FRAME));
        })
        .map_err(|e| format!("cannot start an encoding thread: {e}"))?;
    let frame = match rx.await {
        Ok(Ok(frame)) => frame,
        Ok(Err(e)) => super::wire::encode(
            &Block::Missing(format!("cannot frame the block: {e}")),
            MAX_CONTROL_FRAME,
        )
        .map_err(|e| e.to_string())?,
        Err(_) => return Err("the encoding thread stopped".into()),
    };
    if send.write_all(&frame).await.is_ok() {
        let _ = send.finish();
    }
    Ok(())
}
