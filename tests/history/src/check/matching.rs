//! The revisions of deletions that no acknowledged operation made, matched to what may have
//! made them: a delete whose outcome was unknown, or the end of a lease (a revoke whose
//! outcome was unknown, or the lease's expiry). Each delete and each lease ends once, so this
//! is a bipartite matching (Kuhn's augmenting paths), exact where a greedy choice could pick
//! the delete another revision needed. There are few such revisions (deletes go unanswered
//! only under faults), so its cost does not matter.

use std::collections::HashMap;

use crate::model::Rev;

/// What may explain a revision of deletions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Cand {
    /// The operation (index) whose outcome was unknown.
    Op(usize),
    /// The end of this lease.
    Lease(i64),
}

/// A revision of deletions no acknowledged operation made.
#[derive(Clone, Debug)]
pub(crate) struct Unexplained {
    /// The revision.
    pub(crate) rev: Rev,
    /// The keys deleted there.
    pub(crate) keys: Vec<String>,
    /// What deletes exactly these keys from the store before it.
    pub(crate) cands: Vec<Cand>,
}

/// A candidate for each revision, each candidate used once, as many revisions explained as
/// possible; `valid(cand, rev)` rules out what real time forbids.
pub(crate) fn assign(
    items: &[Unexplained],
    valid: impl Fn(Cand, Rev) -> bool,
) -> Vec<Option<Cand>> {
    let edges: Vec<Vec<Cand>> = items
        .iter()
        .map(|u| {
            u.cands
                .iter()
                .copied()
                .filter(|&c| valid(c, u.rev))
                .collect()
        })
        .collect();
    let mut owner: HashMap<Cand, usize> = HashMap::new();
    for u in 0..items.len() {
        let mut seen = Vec::new();
        augment(u, &edges, &mut owner, &mut seen);
    }
    let mut result = vec![None; items.len()];
    for (cand, u) in owner {
        result[u] = Some(cand);
    }
    result
}

fn augment(
    u: usize,
    edges: &[Vec<Cand>],
    owner: &mut HashMap<Cand, usize>,
    seen: &mut Vec<Cand>,
) -> bool {
    for &c in &edges[u] {
        if seen.contains(&c) {
            continue;
        }
        seen.push(c);
        let free = match owner.get(&c) {
            None => true,
            Some(&other) => augment(other, edges, owner, seen),
        };
        if free {
            owner.insert(c, u);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(rev: Rev, cands: Vec<Cand>) -> Unexplained {
        Unexplained {
            rev,
            keys: Vec::new(),
            cands,
        }
    }

    #[test]
    fn a_candidate_another_revision_needs_is_moved_to_the_one_only_it_explains() {
        // Revision 5 could be delete 0 or 1; revision 6 only delete 0.
        let items = [
            item(5, vec![Cand::Op(0), Cand::Op(1)]),
            item(6, vec![Cand::Op(0)]),
        ];
        let got = assign(&items, |_, _| true);
        assert_eq!(got, vec![Some(Cand::Op(1)), Some(Cand::Op(0))]);
        // Two revisions, one candidate: one stays unexplained.
        let items = [item(5, vec![Cand::Lease(7)]), item(6, vec![Cand::Lease(7)])];
        let got = assign(&items, |_, _| true);
        assert_eq!(got.iter().filter(|m| m.is_some()).count(), 1);
        // Real time rules a candidate out.
        let got = assign(&[item(5, vec![Cand::Op(3)])], |_, rev| rev > 5);
        assert_eq!(got, vec![None]);
    }
}
