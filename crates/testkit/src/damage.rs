//! Byte-level damage to a valid answer, for the property tests that check
//! damaged bodies give rows or an error and never a panic. Each test picks
//! its own mix of edits (a proptest strategy over [`Edit`]); [`damage`]
//! applies them.

/// One edit of a body. Positions are taken modulo the body's length, so any
/// number is a place in it.
#[derive(Debug, Clone)]
pub enum Edit {
    Truncate(usize),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Replace(usize, u8),
    /// Copies `len` bytes from `from` to `to`.
    Copy {
        from: usize,
        len: usize,
        to: usize,
    },
    /// Inserts after the `k`-th `>` (where text or the next tag begins).
    AfterTag(usize, Vec<u8>),
    /// Inserts before the `k`-th `>` (among a tag's attributes).
    InTag(usize, Vec<u8>),
}

/// Applies `edits` to `body`, in order.
pub fn damage(body: &mut Vec<u8>, edits: Vec<Edit>) {
    for e in edits {
        let n = body.len().max(1);
        match e {
            Edit::Truncate(a) => body.truncate(a % n),
            Edit::Delete(a, k) => {
                let a = a % n;
                let b = (a + k).min(body.len());
                if a < b {
                    body.drain(a..b);
                }
            }
            Edit::Insert(a, j) => {
                let a = a % (body.len() + 1);
                body.splice(a..a, j);
            }
            Edit::Replace(a, b) => {
                if !body.is_empty() {
                    let a = a % body.len();
                    body[a] = b;
                }
            }
            Edit::Copy { from, len, to } => {
                let from = from % n;
                let piece = body[from.min(body.len())..(from + len).min(body.len())].to_vec();
                let to = to % (body.len() + 1);
                body.splice(to..to, piece);
            }
            Edit::AfterTag(k, j) => insert_at_tag_end(body, k, 1, j),
            Edit::InTag(k, j) => insert_at_tag_end(body, k, 0, j),
        }
    }
}

/// Inserts `junk` at the `k`-th `>` (plus `after`: 0 before it, 1 after).
fn insert_at_tag_end(body: &mut Vec<u8>, k: usize, after: usize, junk: Vec<u8>) {
    let ends: Vec<usize> = (0..body.len()).filter(|&i| body[i] == b'>').collect();
    if !ends.is_empty() {
        let at = ends[k % ends.len()] + after;
        body.splice(at..at, junk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_in_order_and_wrap_around() {
        let mut b = b"<a><b/></a>".to_vec();
        damage(
            &mut b,
            vec![
                Edit::Replace(12, b'A'),
                Edit::InTag(1, b" x".to_vec()),
                Edit::AfterTag(0, b"t".to_vec()),
            ],
        );
        assert_eq!(b, b"<A>t<b/ x></a>");
        damage(&mut b, vec![Edit::Delete(3, 1), Edit::Truncate(3)]);
        assert_eq!(b, b"<A>");
        damage(
            &mut b,
            vec![
                Edit::Copy {
                    from: 0,
                    len: 9,
                    to: 3,
                },
                Edit::Insert(13, b"!".to_vec()),
            ],
        );
        assert_eq!(b, b"<A><A>!");
        let mut empty = Vec::new();
        damage(
            &mut empty,
            vec![Edit::Replace(5, 1), Edit::AfterTag(2, b"x".to_vec())],
        );
        assert!(empty.is_empty());
    }
}
