//! Repeated evidence, grouped with counts: a large tree holds the same C library, the same
//! statically linked program or the same error many times over, and a report a person reads
//! shows each once with how many there are (the JSON report keeps every one).

use std::collections::HashMap;

use super::{BinaryReport, CallocReport, ErrorReport, LibcReport};

/// Items that share a key, in the order their first member appeared.
#[derive(Debug)]
pub struct Group<'a, T> {
    pub first: &'a T,
    pub members: Vec<&'a T>,
}

impl<T> Group<'_, T> {
    pub fn count(&self) -> usize {
        self.members.len()
    }
}

/// Group `items` by `key`, keeping the order of first appearance.
pub fn group_by<'a, T, K: std::hash::Hash + Eq>(
    items: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> K,
) -> Vec<Group<'a, T>> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut groups: Vec<Group<'a, T>> = Vec::new();
    for item in items {
        let k = key(item);
        match index.get(&k) {
            Some(&i) => groups[i].members.push(item),
            None => {
                index.insert(k, groups.len());
                groups.push(Group {
                    first: item,
                    members: vec![item],
                });
            }
        }
    }
    groups
}

/// What makes two calloc analyses the same: verdict, reason, chain and decisive instructions.
fn calloc_key(c: &CallocReport) -> String {
    let mut k = format!("{:?}\0{}\0{}", c.verdict, c.reason, c.chain.join("\0"));
    for e in &c.evidence {
        k.push('\0');
        k.push_str(&e.address);
        k.push(' ');
        k.push_str(&e.text);
    }
    k
}

/// C libraries that are copies of one another (same name, architecture, version and calloc).
pub fn libcs(libc: &[LibcReport]) -> Vec<Group<'_, LibcReport>> {
    group_by(libc, |l| {
        format!(
            "{:?}\0{}\0{:?}\0{}\0{}",
            l.soname,
            l.arch,
            l.version,
            l.qnx,
            calloc_key(&l.calloc)
        )
    })
}

/// Programs whose static copies of calloc are the same code (same architecture and analysis).
pub fn static_copies(binaries: &[BinaryReport]) -> Vec<Group<'_, BinaryReport>> {
    group_by(binaries.iter().filter(|b| b.static_calloc.is_some()), |b| {
        let c = b.static_calloc.as_ref().map(calloc_key).unwrap_or_default();
        format!("{}\0{c}", b.arch)
    })
}

/// Errors with the same message.
pub fn errors(errors: &[ErrorReport]) -> Vec<Group<'_, ErrorReport>> {
    group_by(errors, |e| e.message.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_appearance_order_and_count() {
        let items = ["b", "a", "b", "c", "b"];
        let g = group_by(&items, |s| *s);
        let shape: Vec<(&str, usize)> = g.iter().map(|g| (*g.first, g.count())).collect();
        assert_eq!(shape, [("b", 3), ("a", 1), ("c", 1)]);
    }
}
