//! Where record tokens come from: the container's background-app cursor
//! (`first`, then `next` until 404: one serial chain, since each step needs
//! the previous id) or a list of known ids (tokens minted concurrently, which
//! takes the serial chain off the critical path).
//!
//! Both are streams in a fixed order, so the engine can reorder fetch
//! results back into it and keep a single watermark.

use futures::Stream;
use futures::stream::{self, StreamExt};

use super::ExtractError;
use super::client::{Client, RecordToken};

enum Step {
    /// Ask `first` (`None`) or `next(after)`.
    Ask(Option<String>),
    /// The cursor ended (404) or failed; nothing more.
    Done,
}

/// The cursor as an ordered stream: `first` (or `next(start_after)` when
/// resuming) and then `next` until the container answers 404.
///
/// An error ends the stream after it is yielded (the next step would need the
/// id that failed). A 404 on `first` is an empty stream: the container has no
/// record, or (reference container) `first` failed inside.
pub fn cursor(
    client: Client,
    start_after: Option<String>,
) -> impl Stream<Item = Result<RecordToken, ExtractError>> + Send + 'static {
    stream::unfold(
        (client, Step::Ask(start_after)),
        |(client, step)| async move {
            let after = match step {
                Step::Done => return None,
                Step::Ask(after) => after,
            };
            let result = match &after {
                None => client.first().await,
                Some(id) => client.next(id).await,
            };
            match result {
                Ok(Some(token)) => {
                    let next = Step::Ask(Some(token.record_id.as_str().to_owned()));
                    Some((Ok(token), (client, next)))
                }
                Ok(None) => None,
                Err(e) => Some((Err(e), (client, Step::Done))),
            }
        },
    )
}

/// Known ids: a token minted for each id (`.../tokens/records/{id}`), up to
/// `concurrency` at once, yielded in input order with the id it belongs to.
/// A failed mint is yielded as an error for that id and the stream goes on;
/// the caller decides whether it is fatal
/// ([`ExtractError::is_fatal_credentials`]).
pub fn known_ids(
    client: Client,
    ids: Vec<String>,
    concurrency: usize,
) -> impl Stream<Item = (String, Result<RecordToken, ExtractError>)> + Send + 'static {
    stream::iter(ids)
        .map(move |id| {
            let client = client.clone();
            async move {
                let result = client.mint(&id).await;
                (id, result)
            }
        })
        .buffered(concurrency.max(1))
}
