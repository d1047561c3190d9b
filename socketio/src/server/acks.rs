//! Collecting the acks of a broadcast with acks: this node's clients, and the other
//! nodes' client counts and acks.
//!
//! As in socket.io's `BroadcastOperator.emit` with a callback, the broadcast is complete
//! when every node has said how many clients it reached (the node count comes from the
//! pub/sub, this node included) and that many acks have arrived.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};

use super::broadcast::AckCleanup;
use super::payload::Payload;
use super::socket::AckError;
use crate::adapter::wire::Response;
use crate::adapter::{BoxFuture, RemoteAcks};

/// Waits for the local answers in `waiting` and, with a cluster, the remote ones.
pub(crate) async fn collect(
    waiting: Vec<oneshot::Receiver<Payload>>,
    remote: Option<RemoteAcks>,
    timeout: Duration,
    _cleanup: AckCleanup,
) -> Result<Vec<Payload>, (AckError, Vec<Payload>)> {
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut local: FuturesUnordered<_> = waiting.into_iter().collect();
        let mut local_done = local.is_empty();
        let mut answers = Vec::new();
        // Without a cluster: no other node, and a channel that never yields.
        let (_keep, mut rx, mut nodes, _guard): (
            _,
            mpsc::UnboundedReceiver<Response>,
            BoxFuture<Option<usize>>,
            _,
        ) = match remote {
            Some(r) => (None, r.rx, r.nodes, Some(r._guard)),
            None => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), rx, Box::pin(async { Some(1) }), None)
            }
        };
        let mut other_nodes: Option<usize> = None;
        let mut counts = 0usize;
        let mut expected_acks = 0u64;
        let mut remote_acks = 0u64;
        loop {
            let remote_done =
                other_nodes.is_some_and(|n| counts >= n) && remote_acks >= expected_acks;
            if local_done && remote_done {
                return Ok(answers);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Err((AckError::Timeout, answers)),
                r = local.next(), if !local_done => match r {
                    Some(Ok(p)) => answers.push(p),
                    // The socket disconnected: no answer will come from it.
                    Some(Err(_)) => {}
                    None => local_done = true,
                },
                n = &mut nodes, if other_nodes.is_none() => {
                    // NUMSUB counts this node; unknown (disconnected) means alone.
                    other_nodes = Some(n.unwrap_or(1).saturating_sub(1));
                }
                m = rx.recv() => match m {
                    Some(Response::ClientCount { count, .. }) => {
                        counts += 1;
                        expected_acks += count;
                    }
                    Some(Response::Ack { packet, .. }) => {
                        remote_acks += 1;
                        answers.push(packet.map_or_else(Payload::empty, Payload::one));
                    }
                    _ => {}
                },
            }
        }
    }
}
