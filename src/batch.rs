//! Receiving in batches: wait for one item, then take what is already queued (up to a
//! bound), so a burst costs one round trip to the database or the broker, not one per item.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The next batch (1 to `max` items), or `None` once the channel is closed or `cancel`
/// fired.
pub async fn recv<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    max: usize,
    cancel: &CancellationToken,
) -> Option<Vec<T>> {
    let first = tokio::select! {
        _ = cancel.cancelled() => return None,
        item = rx.recv() => item?,
    };
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_what_is_queued_up_to_the_bound() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(recv(&mut rx, 3, &cancel).await, Some(vec![0, 1, 2]));
        assert_eq!(recv(&mut rx, 3, &cancel).await, Some(vec![3, 4]));
        drop(tx);
        assert_eq!(recv(&mut rx, 3, &cancel).await, None);
    }
}
